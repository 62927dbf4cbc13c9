resource "helm_release" "nebu" {
  name             = var.release_name
  chart            = var.chart_path
  namespace        = var.namespace
  create_namespace = true
  # apply blocks until every pod is Ready or helm_timeout passes: no silent partial deploy.
  wait    = true
  timeout = var.helm_timeout
  values  = [for f in var.values_files : file(f)]

  set {
    name  = "image.repository"
    value = var.image_repository
  }
  set {
    name  = "image.tag"
    value = var.image_tag
  }
  set {
    name  = "existingSecret.name"
    value = var.existing_secret_name
  }
  set {
    name  = "serverName"
    value = var.server_name
  }
  set {
    name  = "replicaCount"
    value = tostring(var.replica_count)
  }
  set {
    name  = "etcd.endpoints"
    value = replace(var.etcd_endpoints, ",", "\\,")
  }
  set {
    name  = "ingress.enabled"
    value = tostring(var.ingress_enabled)
  }
}
