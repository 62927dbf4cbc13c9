# The VM: Ubuntu 24.04, Docker Compose set up by cloud-init (templates/cloud-init.yaml.tftpl).

resource "stackit_server" "this" {
  project_id        = var.project_id
  name              = "${local.name}-vm"
  availability_zone = var.availability_zone
  machine_type      = var.vm_plan_id
  keypair_name      = stackit_key_pair.this.name
  boot_volume = {
    size        = var.boot_volume_gb
    source_type = "image"
    source_id   = var.image_id
  }
  network_interfaces = [stackit_network_interface.this.network_interface_id]
  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    image                    = module.core.image
    server_name              = module.core.domain_name
    admin_email              = module.core.admin_email
    public_base_url          = local.public_base_url
    db_url                   = local.db_url
    enable_tls               = var.enable_tls
    enable_element_web       = var.enable_element_web
    oidc_mode                = var.oidc_mode
    oidc_issuer              = local.effective_oidc_issuer
    oidc_client_id           = var.oidc_client_id
    oidc_client_secret       = var.oidc_client_secret
    dex_static_password_hash = var.dex_static_password_hash
  })

  lifecycle {
    # Element on another port than the API is another origin: every call would fail CORS.
    precondition {
      condition     = !var.enable_element_web || var.enable_tls
      error_message = "enable_element_web = true needs enable_tls = true (nginx serves Element and the API under one origin)."
    }
    precondition {
      condition     = var.oidc_mode != "external" || var.oidc_issuer != ""
      error_message = "oidc_mode = \"external\" needs oidc_issuer."
    }
    precondition {
      condition     = var.oidc_mode == "none" || var.oidc_client_secret != ""
      error_message = "oidc_mode dex or external needs oidc_client_secret."
    }
    precondition {
      condition     = var.oidc_mode != "dex" || (var.dex_static_password_hash != "" && var.enable_tls)
      error_message = "oidc_mode = \"dex\" needs dex_static_password_hash and enable_tls (Dex is served under https://<domain>/dex)."
    }
  }
}

# Network load balancer: TCP 443 to the VM (nginx with TLS, or nebu on 8008). TCP checks
# only (the plan has no HTTP health checks).
resource "stackit_loadbalancer" "this" {
  project_id       = var.project_id
  name             = "${local.name}-lb"
  plan_id          = var.alb_plan_id
  external_address = stackit_public_ip.lb.ip
  target_pools = [{
    name        = "nebu"
    target_port = local.target_port
    targets = [{
      display_name = stackit_server.this.name
      ip           = stackit_network_interface.this.ipv4
    }]
    active_health_check = {
      healthy_threshold   = 2
      unhealthy_threshold = 3
      interval            = "10s"
      timeout             = "5s"
    }
  }]
  listeners = [{
    display_name = "https"
    port         = 443
    protocol     = "PROTOCOL_TCP"
    target_pool  = "nebu"
  }]
  networks = [{
    network_id = stackit_network.this.network_id
    role       = "ROLE_LISTENERS_AND_TARGETS"
  }]
  options = {
    private_network_only = false
  }
}

resource "stackit_public_ip" "lb" {
  project_id = var.project_id
  lifecycle {
    ignore_changes = [network_interface_id]
  }
}
