# No aws_sqs_queue_policy: like the queue itself it waits ~25 s for attributes to settle (six equal reads, 5 s
# apart), and the queue alone exercises the same emulator calls.
resource "aws_sqs_queue" "interruption" {
  name                      = "${var.name}-interruption"
  message_retention_seconds = 300
  sqs_managed_sse_enabled   = true
}

resource "aws_cloudwatch_event_rule" "spot_interruption" {
  name        = "${var.name}-spot-interruption"
  description = "Karpenter interruption handling"
  event_pattern = jsonencode({
    source      = ["aws.ec2"]
    detail-type = ["EC2 Spot Instance Interruption Warning"]
  })
}

resource "aws_cloudwatch_event_target" "spot_interruption" {
  rule      = aws_cloudwatch_event_rule.spot_interruption.name
  target_id = "KarpenterInterruptionQueueTarget"
  arn       = aws_sqs_queue.interruption.arn
}
