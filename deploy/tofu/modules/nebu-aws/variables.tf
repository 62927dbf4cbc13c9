# nebu on AWS: ECS Fargate + Aurora Serverless v2 (PostgreSQL 16) + ALB (TLS 1.3) +
# Secrets Manager + EFS for the node's RocksDB. The shared inputs are validated by
# ../nebu-core.

variable "environment" {
  description = "Environment name, part of every resource name (nebu-<environment>-...)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.environment))
    error_message = "environment must be 2 to 20 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "aws_region" {
  description = "AWS region (CloudWatch Logs of the task)."
  type        = string
  validation {
    condition     = length(trimspace(var.aws_region)) > 0
    error_message = "aws_region must not be empty."
  }
}

variable "nebu_version" {
  description = "Release version of nebu-core (validated by nebu-core: semver, never latest)."
  type        = string
}

variable "image_registry" {
  description = "Registry of the release images (validated by nebu-core)."
  type        = string
}

variable "domain_name" {
  description = "Matrix server name and public host (validated by nebu-core)."
  type        = string
}

variable "admin_email" {
  description = "Operator e-mail (validated by nebu-core)."
  type        = string
}

variable "postgres_db_name" {
  description = "Database of the projection (validated by nebu-core)."
  type        = string
  default     = "nebu"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; the four subnets are /24s inside it."
  type        = string
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a CIDR block such as 10.40.0.0/16."
  }
}

variable "acm_certificate_arn" {
  description = "ACM certificate of domain_name for the HTTPS listener. Required for apply; an empty string passes tofu validate only."
  type        = string
  default     = ""
}

variable "ecs_desired_count" {
  description = "nebu tasks. One: the node keeps its RocksDB on EFS, which one task owns (a cluster of nodes needs per-node volumes: use nebu-k8s)."
  type        = number
  default     = 1
  validation {
    condition     = var.ecs_desired_count == 0 || var.ecs_desired_count == 1
    error_message = "ecs_desired_count must be 0 or 1: one nebu task owns the data volume."
  }
}

variable "task_cpu" {
  description = "Fargate CPU units of the nebu task."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate memory (MiB) of the nebu task."
  type        = number
  default     = 2048
}

variable "aurora_min_capacity" {
  description = "Aurora Serverless v2 minimum ACUs (0 pauses after an hour idle; 0.5 or more for production)."
  type        = number
  default     = 0
  validation {
    condition     = var.aurora_min_capacity >= 0 && var.aurora_min_capacity <= 256
    error_message = "aurora_min_capacity must be between 0 and 256."
  }
}

variable "aurora_max_capacity" {
  description = "Aurora Serverless v2 maximum ACUs."
  type        = number
  default     = 4
  validation {
    condition     = var.aurora_max_capacity >= 1 && var.aurora_max_capacity <= 256
    error_message = "aurora_max_capacity must be between 1 and 256."
  }
}

variable "db_password" {
  description = "Aurora master password (also stored in Secrets Manager)."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.db_password) >= 8
    error_message = "db_password must be at least 8 characters."
  }
}

variable "skip_final_snapshot" {
  description = "Skip Aurora's final snapshot on destroy (true for development only)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the task's logs."
  type        = number
  default     = 30
}

variable "oidc_client_id" {
  description = "Client ID at the OpenID Connect provider; empty: no single sign-on. With it, the issuer and client secret come from nebu/<environment>/oidc_issuer and oidc_client_secret."
  type        = string
  default     = ""
}
