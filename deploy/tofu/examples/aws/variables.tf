variable "environment" {
  type    = string
  default = "prod"
}

variable "aws_region" {
  type    = string
  default = "eu-central-1"
}

variable "nebu_version" {
  type = string
}

variable "image_registry" {
  type = string
}

variable "domain_name" {
  type = string
}

variable "admin_email" {
  type = string
}

variable "acm_certificate_arn" {
  type    = string
  default = ""
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "aurora_min_capacity" {
  type    = number
  default = 0.5
}
