# Runtime credentials, one Secrets Manager secret each under nebu/<environment>/. The
# initial values are placeholders (the DB URL and password excepted): tofu never
# overwrites a value an operator set or rotated (ignore_changes). Set the real ones
# before go-live (RUNBOOK.md).

locals {
  secret_prefix = "nebu/${var.environment}"
  db_url        = "postgresql://nebu_app:${urlencode(var.db_password)}@${aws_rds_cluster.this.endpoint}:5432/${module.core.postgres_db_name}?sslmode=require"
  placeholder_secrets = {
    internal_secret            = "PLACEHOLDER_INTERNAL_SECRET"
    registration_shared_secret = "PLACEHOLDER_REGISTRATION_SHARED_SECRET"
    oidc_client_secret         = "PLACEHOLDER_OIDC_CLIENT_SECRET"
    oidc_issuer                = "PLACEHOLDER_OIDC_ISSUER"
  }
}

resource "aws_secretsmanager_secret" "db_url" {
  name = "${local.secret_prefix}/db_url"
  tags = local.tags
}

resource "aws_secretsmanager_secret_version" "db_url" {
  secret_id     = aws_secretsmanager_secret.db_url.id
  secret_string = local.db_url
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "db_password" {
  name = "${local.secret_prefix}/db_password"
  tags = local.tags
}

resource "aws_secretsmanager_secret_version" "db_password" {
  secret_id     = aws_secretsmanager_secret.db_password.id
  secret_string = var.db_password
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.placeholder_secrets
  name     = "${local.secret_prefix}/${each.key}"
  tags     = local.tags
}

resource "aws_secretsmanager_secret_version" "this" {
  for_each      = local.placeholder_secrets
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = each.value
  lifecycle {
    ignore_changes = [secret_string]
  }
}
