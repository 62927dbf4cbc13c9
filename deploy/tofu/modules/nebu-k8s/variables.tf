# nebu-k8s: a thin wrapper around one helm_release of deploy/helm/nebu. The kubernetes
# and helm providers are configured by the calling root module.

variable "release_name" {
  description = "Helm release name."
  type        = string
  default     = "nebu"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$", var.release_name))
    error_message = "release_name must be a DNS label of at most 53 characters."
  }
}

variable "chart_path" {
  description = "Path of the nebu Helm chart directory (deploy/helm/nebu)."
  type        = string
  validation {
    condition     = length(trimspace(var.chart_path)) > 0
    error_message = "chart_path must not be empty."
  }
}

variable "namespace" {
  description = "Kubernetes namespace (created if absent)."
  type        = string
  default     = "nebu"
}

variable "image_repository" {
  description = "Repository of the nebu-core image (without tag)."
  type        = string
  validation {
    condition     = length(trimspace(var.image_repository)) > 0
    error_message = "image_repository must not be empty."
  }
}

variable "image_tag" {
  description = "Image tag: a release version (1.2.3) or a build SHA; never latest."
  type        = string
  validation {
    condition     = var.image_tag != "" && var.image_tag != "latest"
    error_message = "image_tag is required and must not be \"latest\"."
  }
  validation {
    condition     = can(regex("^([0-9]+\\.[0-9]+\\.[0-9]+|[0-9a-f]{7,40})$", var.image_tag))
    error_message = "image_tag must be a semantic version such as 1.2.3 or a commit SHA."
  }
}

variable "existing_secret_name" {
  description = "The Secret the operator created (the chart never creates one; keys in the chart's NOTES.txt)."
  type        = string
  validation {
    condition     = length(trimspace(var.existing_secret_name)) > 0
    error_message = "existing_secret_name must not be empty."
  }
}

variable "server_name" {
  description = "Matrix server name."
  type        = string
  validation {
    condition     = length(trimspace(var.server_name)) > 0
    error_message = "server_name must not be empty."
  }
}

variable "replica_count" {
  description = "nebu nodes (more than one needs etcd_endpoints and S3 media via values_files)."
  type        = number
  default     = 1
  validation {
    condition     = var.replica_count >= 1 && var.replica_count <= 16
    error_message = "replica_count must be between 1 and 16."
  }
}

variable "etcd_endpoints" {
  description = "Comma-separated URLs of an existing etcd v3 (e.g. an operator-managed one); empty: one node without etcd."
  type        = string
  default     = ""
  validation {
    condition     = var.etcd_endpoints == "" || can(regex("^https?://[^,/]+:[0-9]+(,https?://[^,/]+:[0-9]+)*$", var.etcd_endpoints))
    error_message = "etcd_endpoints must be comma-separated http(s)://host:port URLs."
  }
}

variable "ingress_enabled" {
  type    = bool
  default = false
}

variable "helm_timeout" {
  description = "Seconds to wait for every pod to be Ready."
  type        = number
  default     = 300
}

variable "values_files" {
  description = "Extra values files, absolute paths (use \"$${path.module}/...\" in the caller)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for f in var.values_files : length(f) > 0 && startswith(f, "/")])
    error_message = "values_files entries must be non-empty absolute paths."
  }
}
