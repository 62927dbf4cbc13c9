# nebu-core: the inputs every platform module shares, with their validations. No provider
# resources: the platform modules (nebu-aws, nebu-stackit, nebu-k8s) instantiate it and
# use its outputs, so a bad value fails `tofu validate`/`plan` the same way everywhere.

variable "nebu_version" {
  description = "Release version of the nebu-core image, MAJOR.MINOR.PATCH without v (make release TAG=v1.2.3 makes nebu-core:1.2.3)."
  type        = string
  validation {
    condition     = var.nebu_version != "latest"
    error_message = "nebu_version must be a specific release version, never \"latest\"."
  }
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.nebu_version))
    error_message = "nebu_version must be a semantic version such as 1.2.3 (no v prefix, no suffix)."
  }
}

variable "domain_name" {
  description = "The Matrix server name and public host (user IDs end in :domain_name)."
  type        = string
  validation {
    condition     = length(trimspace(var.domain_name)) > 0
    error_message = "domain_name must not be empty."
  }
  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+(:[0-9]+)?$", var.domain_name))
    error_message = "domain_name must be a host name, optionally with :port."
  }
}

variable "admin_email" {
  description = "The operator's e-mail address (support contact, certificates)."
  type        = string
  validation {
    condition     = length(trimspace(var.admin_email)) > 0
    error_message = "admin_email must not be empty."
  }
  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.admin_email))
    error_message = "admin_email must be an e-mail address."
  }
}

variable "postgres_db_name" {
  description = "The PostgreSQL database of the compliance projection."
  type        = string
  default     = "nebu"
  validation {
    condition     = length(trimspace(var.postgres_db_name)) > 0
    error_message = "postgres_db_name must not be empty."
  }
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.postgres_db_name))
    error_message = "postgres_db_name must be a lower-case PostgreSQL identifier (at most 63 characters)."
  }
}

variable "image_registry" {
  description = "Registry and path of the release images, e.g. registry.example.org/nebu (the image is <image_registry>/nebu-core:<nebu_version>)."
  type        = string
  validation {
    condition     = length(trimspace(var.image_registry)) > 0
    error_message = "image_registry must not be empty."
  }
  validation {
    condition     = !endswith(var.image_registry, "/")
    error_message = "image_registry must not end with /."
  }
}
