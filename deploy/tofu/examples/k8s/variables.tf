variable "kubeconfig" {
  type    = string
  default = "~/.kube/config"
}

variable "namespace" {
  type    = string
  default = "nebu"
}

variable "image_repository" {
  type = string
}

variable "image_tag" {
  type = string
}

variable "existing_secret_name" {
  type    = string
  default = "nebu-secrets"
}

variable "server_name" {
  type = string
}

variable "replica_count" {
  type    = number
  default = 1
}

variable "etcd_endpoints" {
  type    = string
  default = ""
}
