output "release_name" {
  value = helm_release.nebu.name
}

output "namespace" {
  value = helm_release.nebu.namespace
}

output "status" {
  value = helm_release.nebu.status
}
