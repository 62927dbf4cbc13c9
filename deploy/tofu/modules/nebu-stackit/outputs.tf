output "vm_public_ip" {
  description = "The VM's floating IP (SSH). Re-attach by hand if the VM is recreated."
  value       = stackit_public_ip.this.ip
}

output "lb_public_ip" {
  description = "Point domain_name's A record here."
  value       = stackit_public_ip.lb.ip
}

output "postgres_host" {
  value = local.pg_user.host
}

output "element_url" {
  value = var.enable_element_web ? (var.enable_tls ? "https://${var.domain_name}/" : "http://${var.domain_name}:7070/") : "disabled"
}

output "image" {
  value = module.core.image
}
