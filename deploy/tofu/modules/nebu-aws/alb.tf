# Internet-facing ALB: HTTPS (TLS 1.3 policy) to the nebu tasks on 8008, HTTP redirected.

resource "aws_lb" "this" {
  name                       = "${local.name}-alb"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  # /sync long-polls for up to 30 s; leave room.
  idle_timeout = 120
  tags         = local.tags
}

resource "aws_lb_target_group" "nebu" {
  name        = "${local.name}-tg"
  port        = 8008
  protocol    = "HTTP"
  target_type = "ip" # Fargate awsvpc
  vpc_id      = aws_vpc.this.id
  # A node drains on SIGTERM within the task's stop timeout.
  deregistration_delay = 30
  health_check {
    path                = "/_matrix/client/versions"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.acm_certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.nebu.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
