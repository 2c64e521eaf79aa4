"""Blueprint keys of the AI/ML observability stack."""

from __future__ import annotations

from dataclasses import dataclass

from mlplat.schema import field


@dataclass(frozen=True)
class ObservabilityKeys:
    enable_ai_ml_observability_stack: bool = field(
        False, "Install Prometheus, Grafana, Alertmanager, exporters, dashboards and alert rules in `monitoring`.",
    )

    @property
    def needs_opensearch(self) -> bool:
        """OpenSearch (with generated admin credentials) is the default logs backend of the stack."""
        return self.enable_ai_ml_observability_stack
