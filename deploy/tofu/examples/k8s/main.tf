# Quick start: nebu on an existing Kubernetes cluster through the Helm chart.
# Create the Secret first (deploy/helm/nebu/templates/NOTES.txt), then tofu init/apply.
# Day-2 operations: RUNBOOK.md.

terraform {
  required_version = ">= 1.6.0"
  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = ">= 2.12.0, < 3.0.0"
    }
  }
}

provider "helm" {
  kubernetes {
    config_path = var.kubeconfig
  }
}

module "nebu" {
  source               = "../../modules/nebu-k8s"
  chart_path           = "${path.module}/../../../helm/nebu"
  namespace            = var.namespace
  image_repository     = var.image_repository
  image_tag            = var.image_tag
  existing_secret_name = var.existing_secret_name
  server_name          = var.server_name
  replica_count        = var.replica_count
  etcd_endpoints       = var.etcd_endpoints
  ingress_enabled      = true
  values_files         = ["${abspath(path.module)}/values.yaml"]
}

output "status" {
  value = module.nebu.status
}
