variable "project_id" {
  type = string
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

variable "image_id" {
  type = string
}

variable "ssh_public_key" {
  type = string
}

variable "enable_tls" {
  type    = bool
  default = true
}

variable "enable_element_web" {
  type    = bool
  default = false
}

variable "oidc_mode" {
  type    = string
  default = "none"
}

variable "oidc_issuer" {
  type    = string
  default = ""
}

variable "oidc_client_secret" {
  type      = string
  default   = ""
  sensitive = true
}

variable "dex_static_password_hash" {
  type      = string
  default   = ""
  sensitive = true
}
