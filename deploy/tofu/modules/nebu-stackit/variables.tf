# nebu on STACKIT: one VM running nebu with Docker Compose (cloud-init), PostgresFlex
# (managed PostgreSQL 16) for the projection, a network load balancer, optional Dex and
# Element Web behind nginx. Shared inputs are validated by ../nebu-core.

variable "project_id" {
  description = "STACKIT project ID."
  type        = string
  validation {
    condition     = length(trimspace(var.project_id)) > 0
    error_message = "project_id must not be empty."
  }
}

variable "environment" {
  description = "Environment name, part of resource names."
  type        = string
  default     = "prod"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.environment))
    error_message = "environment must be 2 to 20 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "nebu_version" {
  description = "Release version of nebu-core (nebu-core validates: semver, never latest)."
  type        = string
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

variable "postgres_db_name" {
  type    = string
  default = "nebu"
}

variable "network_cidr" {
  description = "CIDR of the private routed network (also the PostgresFlex ACL)."
  type        = string
  default     = "10.0.0.0/24"
  validation {
    condition     = can(cidrhost(var.network_cidr, 0))
    error_message = "network_cidr must be a CIDR block."
  }
}

variable "vm_plan_id" {
  description = "Machine type of the VM."
  type        = string
  default     = "g2i.2"
}

variable "availability_zone" {
  type    = string
  default = "eu01-1"
}

variable "alb_plan_id" {
  description = "Load balancer plan."
  type        = string
  default     = "p10"
}

variable "image_id" {
  description = "ID of the Ubuntu 24.04 LTS image in the project's region."
  type        = string
  validation {
    condition     = length(trimspace(var.image_id)) > 0
    error_message = "image_id must not be empty."
  }
}

variable "boot_volume_gb" {
  description = "Boot volume size; nebu's RocksDB lives on it (/opt/nebu/data)."
  type        = number
  default     = 64
}

variable "ssh_public_key" {
  description = "OpenSSH public key of the operator (key pair is account-wide)."
  type        = string
  validation {
    condition     = can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) ", var.ssh_public_key))
    error_message = "ssh_public_key must be an OpenSSH public key."
  }
}

variable "ssh_allowed_cidr" {
  description = "Who may reach SSH (22)."
  type        = string
  default     = "0.0.0.0/0"
}

variable "postgres_flavor" {
  type = object({ cpu = number, ram = number })
  default = {
    cpu = 2
    ram = 4
  }
}

variable "postgres_storage_gb" {
  type    = number
  default = 20
}

variable "enable_tls" {
  description = "nginx on the VM terminates TLS (Let's Encrypt for domain_name) and serves nebu and Element under one origin."
  type        = bool
  default     = true
}

variable "enable_element_web" {
  description = "Run Element Web (vectorim/element-web) behind nginx; needs enable_tls (same origin, no CORS)."
  type        = bool
  default     = false
}

variable "oidc_mode" {
  description = "Single sign-on: none, dex (Dex on the VM, development) or external (an existing provider)."
  type        = string
  default     = "none"
  validation {
    condition     = contains(["none", "dex", "external"], var.oidc_mode)
    error_message = "oidc_mode must be none, dex or external."
  }
}

variable "oidc_issuer" {
  description = "Issuer URL of the external provider (oidc_mode external)."
  type        = string
  default     = ""
  validation {
    condition     = var.oidc_issuer == "" || can(regex("^https://", var.oidc_issuer))
    error_message = "oidc_issuer must be an https:// URL."
  }
}

variable "oidc_client_id" {
  type    = string
  default = "nebu"
}

variable "oidc_client_secret" {
  description = "OIDC client secret (written into the VM's .env, mode 0600)."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = !can(regex("[\"\\\\]", var.oidc_client_secret))
    error_message = "oidc_client_secret must not contain \" or \\ (it is interpolated into YAML)."
  }
}

variable "dex_static_password_hash" {
  description = "bcrypt hash of the Dex development user's password (oidc_mode dex)."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.dex_static_password_hash == "" || can(regex("^\\$2[aby]\\$[0-9]{2}\\$", var.dex_static_password_hash))
    error_message = "dex_static_password_hash must be a bcrypt hash ($2a$, $2b$ or $2y$)."
  }
}
