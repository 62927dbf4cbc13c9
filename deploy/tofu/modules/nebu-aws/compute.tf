# ECS Fargate: one nebu task (client API 8008 behind the ALB; ops 8080 for the container
# health check; 9000 node-to-node). Secrets come only through the task definition's
# `secrets` field (Secrets Manager ARNs), never its `environment`.

resource "aws_ecs_cluster" "this" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_task_execution" {
  name               = "${local.name}-ecs-task-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "ecs_task_execution" {
  role       = aws_iam_role.ecs_task_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# Only this environment's secrets (no wildcard resource).
resource "aws_iam_role_policy" "secrets_read" {
  name = "${local.name}-secrets-read"
  role = aws_iam_role.ecs_task_execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = "arn:aws:secretsmanager:*:*:secret:nebu/${var.environment}/*"
    }]
  })
}

resource "aws_iam_role" "ecs_task" {
  name               = "${local.name}-ecs-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "efs_access" {
  name = "${local.name}-efs-access"
  role = aws_iam_role.ecs_task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      Resource = aws_efs_file_system.data.arn
      Condition = {
        StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.data.arn }
      }
    }]
  })
}

resource "aws_cloudwatch_log_group" "core" {
  name              = "/ecs/${local.name}-core"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_ecs_task_definition" "core" {
  family                   = "${local.name}-core"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.ecs_task_execution.arn
  task_role_arn            = aws_iam_role.ecs_task.arn
  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.data.id
        iam             = "ENABLED"
      }
    }
  }
  container_definitions = jsonencode([{
    name      = "nebu"
    image     = module.core.image
    essential = true
    command   = ["serve"]
    portMappings = [
      { containerPort = 8008, protocol = "tcp" },
      { containerPort = 8080, protocol = "tcp" },
      { containerPort = 9000, protocol = "tcp" },
    ]
    mountPoints = [{ sourceVolume = "data", containerPath = "/var/lib/nebu" }]
    environment = concat([
      { name = "NEBU_SERVER_NAME", value = module.core.domain_name },
      { name = "NEBU_PUBLIC_BASEURL", value = module.core.public_base_url },
      { name = "NEBU_SUPPORT_ADMIN_EMAIL", value = module.core.admin_email },
      { name = "NEBU_LOG_LEVEL", value = "info" },
      { name = "NEBU_TRUSTED_PROXIES", value = var.vpc_cidr },
      ], var.oidc_client_id == "" ? [] : [
      { name = "NEBU_OIDC_CLIENT_ID", value = var.oidc_client_id },
    ])
    secrets = concat([
      { name = "NEBU_DB_URL", valueFrom = aws_secretsmanager_secret.db_url.arn },
      { name = "NEBU_REGISTRATION_SHARED_SECRET", valueFrom = aws_secretsmanager_secret.this["registration_shared_secret"].arn },
      ], var.oidc_client_id == "" ? [] : [
      { name = "NEBU_OIDC_ISSUER", valueFrom = aws_secretsmanager_secret.this["oidc_issuer"].arn },
      { name = "NEBU_OIDC_CLIENT_SECRET", valueFrom = aws_secretsmanager_secret.this["oidc_client_secret"].arn },
    ])
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/nebu-healthcheck"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    stopTimeout = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.core.name
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = "nebu"
      }
    }
  }])
  tags = local.tags
}

resource "aws_ecs_service" "core" {
  name            = "${local.name}-core"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.core.arn
  desired_count   = var.ecs_desired_count
  launch_type     = "FARGATE"
  # One task owns the RocksDB on EFS: the old task stops before the new one starts.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  health_check_grace_period_seconds  = 60
  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.nebu.arn
    container_name   = "nebu"
    container_port   = 8008
  }
  # GitOps rolling deploys change the task definition outside tofu.
  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }
  depends_on = [aws_lb_listener.https, aws_efs_mount_target.data]
  tags       = local.tags
}
