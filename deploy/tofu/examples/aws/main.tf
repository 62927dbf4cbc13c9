# Quick start: nebu on AWS (ECS Fargate + Aurora Serverless v2 + ALB + Secrets Manager + EFS).
# cp terraform.tfvars.example terraform.tfvars; edit; tofu init; tofu plan; tofu apply.
# Day-2 operations: RUNBOOK.md.

terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0"
    }
  }
  # State holds the DB password: keep it in an encrypted bucket with locking.
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region
}

module "nebu" {
  source              = "../../modules/nebu-aws"
  environment         = var.environment
  aws_region          = var.aws_region
  nebu_version        = var.nebu_version
  image_registry      = var.image_registry
  domain_name         = var.domain_name
  admin_email         = var.admin_email
  acm_certificate_arn = var.acm_certificate_arn
  db_password         = var.db_password
  aurora_min_capacity = var.aurora_min_capacity
}

output "alb_dns_name" {
  value = module.nebu.alb_dns_name
}

output "db_endpoint" {
  value = module.nebu.db_endpoint
}
