# Aurora PostgreSQL 16 Serverless v2: the compliance projection. nebu applies its
# squashed schema on start as the runtime role (no CREATE ROLE needed).

resource "aws_db_subnet_group" "this" {
  name       = "${local.name}-db"
  subnet_ids = aws_subnet.private[*].id
  tags       = local.tags
}

resource "aws_rds_cluster" "this" {
  cluster_identifier        = "${local.name}-db"
  engine                    = "aurora-postgresql"
  engine_mode               = "provisioned" # Serverless v2 is "provisioned" + db.serverless
  engine_version            = "16.6"
  database_name             = module.core.postgres_db_name
  master_username           = "nebu_app"
  master_password           = var.db_password
  db_subnet_group_name      = aws_db_subnet_group.this.name
  vpc_security_group_ids    = [aws_security_group.rds.id]
  storage_encrypted         = true
  backup_retention_period   = 7
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${local.name}-db-final"
  serverlessv2_scaling_configuration {
    min_capacity             = var.aurora_min_capacity
    max_capacity             = var.aurora_max_capacity
    seconds_until_auto_pause = var.aurora_min_capacity == 0 ? 3600 : null
  }
  tags = local.tags
}

resource "aws_rds_cluster_instance" "this" {
  identifier                            = "${local.name}-db-1"
  cluster_identifier                    = aws_rds_cluster.this.id
  instance_class                        = "db.serverless"
  engine                                = aws_rds_cluster.this.engine
  engine_version                        = aws_rds_cluster.this.engine_version
  db_subnet_group_name                  = aws_db_subnet_group.this.name
  performance_insights_enabled          = true
  performance_insights_retention_period = 7
  tags                                  = local.tags
}
