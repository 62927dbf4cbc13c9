output "ecs_cluster_arn" {
  value = aws_ecs_cluster.this.arn
}

output "db_endpoint" {
  description = "Aurora writer endpoint."
  value       = aws_rds_cluster.this.endpoint
}

output "task_execution_role_arn" {
  value = aws_iam_role.ecs_task_execution.arn
}

output "alb_dns_name" {
  value = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "For a Route 53 ALIAS record of domain_name."
  value       = aws_lb.this.zone_id
}

output "efs_file_system_id" {
  value = aws_efs_file_system.data.id
}

output "image" {
  value = module.core.image
}
