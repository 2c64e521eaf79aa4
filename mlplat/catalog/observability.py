"""The AI/ML observability stack."""

from __future__ import annotations

from mlplat import versions
from mlplat.addons import AddOn

ADDONS: list[AddOn] = [
    AddOn("kube-prometheus-stack", "monitoring", enabled=lambda bp: bp.enable_ai_ml_observability_stack,
          chart=versions.CHARTS["kube-prometheus-stack"], toggle="enable_ai_ml_observability_stack", sync_wave=-8),
]
