"""Blueprint keys of the AI/ML observability stack."""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from mlplat.schema import field

LOGS_BACKENDS = ("opensearch", "loki")
LOKI_STORAGES = ("volume", "s3")
RECEIVER_TYPES = ("slack", "pagerduty", "webhook", "sns")
SEVERITIES = ("critical", "warning", "info")
_RECEIVER_NAME = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# A Secrets Manager name as its API takes it (letters, digits and /_+=.@-).
_SECRET_NAME = r"[A-Za-z0-9/_+=.@-]{1,512}"
_TOPIC_ARN = r"arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
# What each receiver type needs (N), may have (M) or must not have (absent from both).
_RECEIVER_KEYS = {
    "slack": {"secret": "N", "channel": "M"},
    "pagerduty": {"secret": "N"},
    "webhook": {"url": "N", "secret": "M"},
    "sns": {"topic_arn": "N"},
}
_RECEIVER_KEY_DOCS = {
    "slack": "secret (the incoming-webhook URL) and optionally channel",
    "pagerduty": "secret (the Events API v2 routing key)",
    "webhook": "url and optionally secret (a bearer token)",
    "sns": "topic_arn",
}


@dataclass(frozen=True)
class AlertReceiver:
    """Where Alertmanager sends the alerts of the listed severities. Credentials stay in Secrets Manager."""

    type: str = field("", "slack, pagerduty, webhook or sns.", choices=RECEIVER_TYPES)
    secret: str = field(
        "", "Name of a Secrets Manager secret you own whose value is the credential: the Slack incoming-webhook URL, "
        "the PagerDuty Events API v2 routing key, or the webhook's bearer token. External Secrets copies it into "
        "the cluster; it never enters the blueprint, synth output or terraform state.", pattern=_SECRET_NAME,
        pattern_doc="a Secrets Manager secret name",
    )
    url: str = field("", "The webhook's URL (webhook only; https).", pattern=r"https://\S+",
                     pattern_doc="an https:// URL")
    channel: str = field("", "Slack channel to post to (slack only; default: the webhook's own).")
    topic_arn: str = field("", "SNS topic to publish to (sns only); Alertmanager signs with its Pod Identity role.",
                           pattern=_TOPIC_ARN, pattern_doc="an SNS topic ARN such as "
                           "'arn:aws:sns:us-west-2:123456789012:ml-alerts'")
    severities: tuple[str, ...] = field(("critical", "warning"), "Alert severities routed to this receiver.",
                                        choices=SEVERITIES, unique=True)
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


# Prometheus duration units that make sense for a retention period.
_RETENTION = r"[1-9]\d*(h|d|w|y)"


@dataclass(frozen=True)
class ObservabilityKeys:
    enable_ai_ml_observability_stack: bool = field(
        False, "Install Prometheus, Grafana, Alertmanager, exporters, dashboards and alert rules in `monitoring`.",
    )
    observability_logs_backend: str = field(
        "opensearch", "Where Fluent Bit ships container logs: OpenSearch (security and TLS on; generated "
        "credentials for an admin, a Fluent Bit user that may only write log indices and a Grafana user that may only "
        "read them) or Loki (single binary on a gp3 volume).", choices=LOGS_BACKENDS,
    )
    loki_storage: str = field(
        "volume", "Where Loki keeps chunks, index and rules: an encrypted gp3 volume (logs_storage_gib, one replica) or "
        "an S3 bucket the platform creates (versioned, encrypted, TLS only) that only Loki's service account may use "
        "(Pod Identity); its local volume then holds only the write-ahead log. With s3, destroying the platform "
        "needs empty_buckets_on_destroy.", choices=LOKI_STORAGES,
    )
    enable_tracing: bool = field(
        False, "Add Tempo and an OpenTelemetry collector (OTLP gRPC 4317, HTTP 4318) and link log lines to traces.",
    )
    prometheus_retention: str = field(
        "15d", "How long Prometheus keeps samples.", pattern=_RETENTION,
        pattern_doc="a duration such as '15d', '720h' or '4w'",
    )
    prometheus_storage_gib: int = field(
        100, "Size of Prometheus' encrypted gp3 volume (GiB); Prometheus also drops the oldest blocks at 90% of it.",
        minimum=10, maximum=16384,
    )
    grafana_storage_gib: int = field(
        10, "Size of Grafana's encrypted gp3 volume, which keeps its database (users' own dashboards, folders, "
        "annotations, preferences) across restarts; 0 keeps it in the pod, lost with it. The platform's dashboards "
        "are provisioned from ConfigMaps either way.", minimum=0, maximum=1024,
    )
    grafana_internal_load_balancer: bool = field(
        False, "Expose Grafana on an internal AWS network load balancer in the private subnets (default: ClusterIP "
        "only; `mlplat open grafana` forwards a port).",
    )
    grafana_load_balancer_source_cidrs: tuple[str, ...] = field(
        (), "CIDRs allowed through Grafana's internal load balancer; empty allows the VPC CIDR only.", unique=True,
    )
    logs_storage_gib: int = field(
        100, "Size of each encrypted gp3 volume of the logs backend (GiB).", minimum=10, maximum=16384,
    )
    logs_retention_days: int = field(
        14, "Days the logs backend keeps logs: OpenSearch deletes daily indices older than this (an ISM policy), "
        "Loki's compactor older chunks. Size logs_storage_gib for this many days of your cluster's logs.",
        minimum=1, maximum=3650,
    )
    tracing_storage_gib: int = field(
        50, "Size of Tempo's encrypted gp3 volume (GiB).", minimum=10, maximum=16384,
    )
    alert_receivers: Mapping[str, AlertReceiver] = field(
        MappingProxyType({}), "Alertmanager receivers by name. Without any, alerts stay in Alertmanager's UI.",
        key_pattern=_RECEIVER_NAME, key_pattern_doc="a lowercase DNS label such as 'oncall'",
    )
    alert_watchdog_receiver: str = field(
        "", "Receiver (a key of alert_receivers) that gets the always-firing Watchdog alert every minute, and only "
        "it, for a dead man's switch outside the cluster; by default Watchdog goes nowhere.",
    )

    def _rules_observability(self) -> list[tuple[tuple[str, ...], str]]:
        if self.enable_ai_ml_observability_stack:
            return []
        # Every other key of this area configures the stack; changed without it, it would silently do nothing.
        return [((f.name,), "has no effect without the observability stack; set enable_ai_ml_observability_stack = "
                            "true or remove it")
                for f in dataclasses.fields(ObservabilityKeys)
                if f.name != "enable_ai_ml_observability_stack" and f.name in self._explicit
                and getattr(self, f.name) != f.default]

    def _rules_grafana_load_balancer(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        if self.grafana_load_balancer_source_cidrs and not self.grafana_internal_load_balancer:
            out.append((("grafana_load_balancer_source_cidrs",),
                        "has no effect without grafana_internal_load_balancer = true; set it or remove this key"))
        for i, cidr in enumerate(self.grafana_load_balancer_source_cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                out.append((("grafana_load_balancer_source_cidrs", f"[{i}]"),
                            f"expected a CIDR such as '10.0.0.0/8', got {cidr!r}"))
        return out

    def _rules_loki_storage(self) -> list[tuple[tuple[str, ...], str]]:
        if "loki_storage" in self._explicit and self.observability_logs_backend != "loki":
            return [(("loki_storage",), "has no effect unless observability_logs_backend = \"loki\"; set it or "
                                        "remove this key")]
        return []

    def _rules_alert_receivers(self) -> list[tuple[tuple[str, ...], str]]:
        out = []
        for name, receiver in self.alert_receivers.items():
            if not receiver.type:
                out.append((("alert_receivers", name, "type"), "required key is missing: expected one of "
                            + ", ".join(repr(t) for t in RECEIVER_TYPES)))
                continue
            allowed = _RECEIVER_KEYS[receiver.type]
            for key in ("secret", "url", "channel", "topic_arn"):
                if getattr(receiver, key) and key not in allowed:
                    out.append((("alert_receivers", name, key), f"{receiver.type} receivers take "
                                f"{_RECEIVER_KEY_DOCS[receiver.type]}, not {key}; remove it"))
                elif allowed.get(key) == "N" and not getattr(receiver, key):
                    out.append((("alert_receivers", name), f"{receiver.type} receivers need {key}; they take "
                                f"{_RECEIVER_KEY_DOCS[receiver.type]}"))
            if not receiver.severities:
                out.append((("alert_receivers", name, "severities"), "expected at least one of "
                            + ", ".join(repr(s) for s in SEVERITIES) + "; remove the receiver if it should get none"))
        watchdog = self.alert_watchdog_receiver
        if watchdog in self.alert_receivers and "severities" in self.alert_receivers[watchdog]._explicit:
            out.append((("alert_receivers", watchdog, "severities"), "the alert_watchdog_receiver gets only the "
                        "Watchdog alert; remove severities, or add another receiver for alerts"))
        if watchdog and watchdog not in self.alert_receivers:
            hint = difflib.get_close_matches(watchdog, list(self.alert_receivers), n=1)
            known = f"did you mean {hint[0]!r}?" if hint else (
                "receivers: " + ", ".join(sorted(self.alert_receivers)) if self.alert_receivers
                else "alert_receivers is empty")
            out.append((("alert_watchdog_receiver",), f"names no receiver of alert_receivers; {known}"))
        return out

    @property
    def alert_secrets(self) -> dict[str, str]:
        """Receiver name -> the Secrets Manager secret name it reads (receivers that have one)."""
        return {name: r.secret for name, r in sorted(self.alert_receivers.items()) if r.secret}

    @property
    def alert_topics(self) -> tuple[str, ...]:
        return tuple(sorted({r.topic_arn for r in self.alert_receivers.values() if r.topic_arn}))

    @property
    def needs_opensearch(self) -> bool:
        """OpenSearch (with generated admin credentials) is the default logs backend of the stack."""
        return self.enable_ai_ml_observability_stack and self.observability_logs_backend == "opensearch"

    @property
    def needs_loki(self) -> bool:
        return self.enable_ai_ml_observability_stack and self.observability_logs_backend == "loki"

    @property
    def needs_loki_bucket(self) -> bool:
        return self.needs_loki and self.loki_storage == "s3"

    @property
    def needs_tracing(self) -> bool:
        return self.enable_ai_ml_observability_stack and self.enable_tracing
