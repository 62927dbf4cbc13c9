module "core" {
  source           = "../nebu-core"
  nebu_version     = var.nebu_version
  image_registry   = var.image_registry
  domain_name      = var.domain_name
  admin_email      = var.admin_email
  postgres_db_name = var.postgres_db_name
}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  name = "nebu-${var.environment}"
  azs  = slice(data.aws_availability_zones.available.names, 0, 2)
  tags = {
    Project     = "nebu"
    Environment = var.environment
  }
}
