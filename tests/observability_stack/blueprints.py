"""Blueprint deltas the observability tests share (over the canonical blueprint)."""

from __future__ import annotations

ON = {"enable_ai_ml_observability_stack": True}
# Loki with tracing, and every sizing key away from its default.
LOKI_TRACING = {**ON, "observability_logs_backend": "loki", "enable_tracing": True, "prometheus_retention": "30d",
                "prometheus_storage_gib": 200, "logs_storage_gib": 50, "tracing_storage_gib": 20}
# OpenSearch with tracing, and Kueue (whose controller gets a ServiceMonitor).
OPENSEARCH_TRACING = {**ON, "enable_tracing": True, "enable_kueue": True}
# An EFA pool (EFA exporter) without FSx (no CloudWatch exporter); and the same pool with the stack off.
EFA_POOL = {"nodepools": {"gpu-efa": {"enabled": True}}, "cuda_efa_az": "us-west-2a"}
EFA_NO_FSX = {**ON, **EFA_POOL, "enable_fsx": False}
# One receiver of each type, a Watchdog receiver, and severities that differ per receiver.
RECEIVERS = {**ON, "alert_watchdog_receiver": "deadman", "alert_receivers": {
    "oncall": {"type": "pagerduty", "secret": "ops/pagerduty-routing-key", "severities": ["critical"]},
    "ml-team": {"type": "slack", "secret": "ops/slack-webhook", "channel": "#ml-alerts"},
    "deadman": {"type": "webhook", "url": "https://nosnch.in/abc123"},
    "tickets": {"type": "webhook", "url": "https://tickets.example.com/alertmanager", "secret": "ops/tickets-token",
                "severities": ["warning"]},
    "audit": {"type": "sns", "topic_arn": "arn:aws:sns:us-west-2:123456789012:ml-alerts",
              "severities": ["critical", "warning", "info"]},
}}
