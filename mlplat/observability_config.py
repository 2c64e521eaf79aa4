"""Blueprint keys of the AI/ML observability stack."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mlplat.schema import field

LOGS_BACKENDS = ("opensearch", "loki")
# Prometheus duration units that make sense for a retention period.
_RETENTION = r"[1-9]\d*(h|d|w|y)"


@dataclass(frozen=True)
class ObservabilityKeys:
    enable_ai_ml_observability_stack: bool = field(
        False, "Install Prometheus, Grafana, Alertmanager, exporters, dashboards and alert rules in `monitoring`.",
    )
    observability_logs_backend: str = field(
        "opensearch", "Where Fluent Bit ships container logs: OpenSearch (security on, generated admin credentials) "
        "or Loki (single binary on a gp3 volume).", choices=LOGS_BACKENDS,
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
    logs_storage_gib: int = field(
        100, "Size of each encrypted gp3 volume of the logs backend (GiB).", minimum=10, maximum=16384,
    )
    tracing_storage_gib: int = field(
        50, "Size of Tempo's encrypted gp3 volume (GiB).", minimum=10, maximum=16384,
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

    @property
    def needs_opensearch(self) -> bool:
        """OpenSearch (with generated admin credentials) is the default logs backend of the stack."""
        return self.enable_ai_ml_observability_stack and self.observability_logs_backend == "opensearch"

    @property
    def needs_loki(self) -> bool:
        return self.enable_ai_ml_observability_stack and self.observability_logs_backend == "loki"

    @property
    def needs_tracing(self) -> bool:
        return self.enable_ai_ml_observability_stack and self.enable_tracing
