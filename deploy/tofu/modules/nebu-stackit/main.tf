module "core" {
  source           = "../nebu-core"
  nebu_version     = var.nebu_version
  image_registry   = var.image_registry
  domain_name      = var.domain_name
  admin_email      = var.admin_email
  postgres_db_name = var.postgres_db_name
}

locals {
  name                  = "nebu-${var.environment}"
  effective_oidc_issuer = var.oidc_mode == "dex" ? "https://${var.domain_name}/dex" : var.oidc_issuer
  public_base_url       = var.enable_tls ? module.core.public_base_url : "http://${var.domain_name}:8008"
  # The load balancer forwards 443 to nginx (TLS) or to nebu itself.
  target_port = var.enable_tls ? 443 : 8008
}

# ---- network ---------------------------------------------------------------------------
resource "stackit_network" "this" {
  project_id       = var.project_id
  name             = "${local.name}-net"
  ipv4_prefix      = var.network_cidr
  ipv4_nameservers = ["1.1.1.1", "9.9.9.9"]
  routed           = true
}

resource "stackit_security_group" "this" {
  project_id = var.project_id
  name       = "${local.name}-sg"
  stateful   = true
}

resource "stackit_security_group_rule" "ingress" {
  for_each = {
    https = { port = 443, cidr = "0.0.0.0/0" }
    nebu  = { port = 8008, cidr = "0.0.0.0/0" }
    ssh   = { port = 22, cidr = var.ssh_allowed_cidr }
  }
  project_id        = var.project_id
  security_group_id = stackit_security_group.this.security_group_id
  direction         = "ingress"
  ether_type        = "IPv4"
  ip_range          = each.value.cidr
  protocol = {
    name = "tcp"
  }
  port_range = {
    min = each.value.port
    max = each.value.port
  }
}

resource "stackit_network_interface" "this" {
  project_id         = var.project_id
  network_id         = stackit_network.this.network_id
  security_group_ids = [stackit_security_group.this.security_group_id]
}

resource "stackit_key_pair" "this" {
  name       = "${local.name}-key"
  public_key = chomp(var.ssh_public_key)
}

resource "stackit_public_ip" "this" {
  project_id           = var.project_id
  network_interface_id = stackit_network_interface.this.network_interface_id
}
