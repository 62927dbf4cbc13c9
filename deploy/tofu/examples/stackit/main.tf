# Quick start: nebu on STACKIT (VM + Docker Compose + PostgresFlex + load balancer).
# cp terraform.tfvars.example terraform.tfvars; edit; tofu init; tofu apply.
# Day-2 operations: RUNBOOK.md.

terraform {
  required_version = ">= 1.6.0"
  required_providers {
    stackit = {
      source  = "stackitcloud/stackit"
      version = ">= 0.50.0"
    }
  }
  # State holds the PostgresFlex password: use the encrypted STACKIT Object Storage backend.
  backend "s3" {}
}

provider "stackit" {
  default_region        = "eu01"
  enable_beta_resources = true
}

module "nebu" {
  source                   = "../../modules/nebu-stackit"
  project_id               = var.project_id
  nebu_version             = var.nebu_version
  image_registry           = var.image_registry
  domain_name              = var.domain_name
  admin_email              = var.admin_email
  image_id                 = var.image_id
  ssh_public_key           = var.ssh_public_key
  enable_tls               = var.enable_tls
  enable_element_web       = var.enable_element_web
  oidc_mode                = var.oidc_mode
  oidc_issuer              = var.oidc_issuer
  oidc_client_secret       = var.oidc_client_secret
  dex_static_password_hash = var.dex_static_password_hash
}

output "lb_public_ip" {
  value = module.nebu.lb_public_ip
}

output "element_url" {
  value = module.nebu.element_url
}
