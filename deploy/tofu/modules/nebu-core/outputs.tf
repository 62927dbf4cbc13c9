output "image" {
  description = "The release image every platform runs."
  value       = "${var.image_registry}/nebu-core:${var.nebu_version}"
}

output "nebu_version" {
  value = var.nebu_version
}

output "domain_name" {
  value = var.domain_name
}

output "admin_email" {
  value = var.admin_email
}

output "postgres_db_name" {
  value = var.postgres_db_name
}

output "public_base_url" {
  description = "NEBU_PUBLIC_BASEURL for a TLS-terminated public host."
  value       = "https://${var.domain_name}"
}
