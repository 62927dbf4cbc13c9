# PostgresFlex (managed PostgreSQL 16). nebu_app runs the migrations and the projector
# (the squashed schema needs no CREATE ROLE). nebu_migrate and nebu are the seed's
# compatibility users; fresh nebu deployments use only nebu_app.

resource "stackit_postgresflex_instance" "this" {
  project_id      = var.project_id
  name            = "${local.name}-pg"
  acl             = [var.network_cidr]
  backup_schedule = "00 02 * * *"
  flavor          = var.postgres_flavor
  replicas        = 1
  storage = {
    class = "premium-perf6-stackit"
    size  = var.postgres_storage_gb
  }
  version = "16"
}

resource "stackit_postgresflex_user" "app" {
  for_each    = toset(["nebu_app", "nebu_migrate", "nebu"])
  project_id  = var.project_id
  instance_id = stackit_postgresflex_instance.this.instance_id
  username    = each.key
  roles       = each.key == "nebu_app" ? ["login", "createdb"] : ["login"]
}

resource "stackit_postgresflex_database" "this" {
  project_id  = var.project_id
  instance_id = stackit_postgresflex_instance.this.instance_id
  name        = module.core.postgres_db_name
  owner       = stackit_postgresflex_user.app["nebu_app"].username
}

locals {
  pg_user = stackit_postgresflex_user.app["nebu_app"]
  db_url  = "postgresql://${local.pg_user.username}:${urlencode(local.pg_user.password)}@${local.pg_user.host}:${local.pg_user.port}/${module.core.postgres_db_name}?sslmode=require"
}
