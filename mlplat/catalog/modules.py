"""Toggleable platform modules: Argo CD, Kueue, MLflow."""

from __future__ import annotations

from mlplat import versions
from mlplat.addons import AddOn

ADDONS: list[AddOn] = [
    AddOn("argo-cd", "argocd", enabled=lambda bp: bp.enable_argocd, chart=versions.CHARTS["argo-cd"],
          toggle="enable_argocd", sync_wave=-9),
    AddOn("kueue", "kueue-system", enabled=lambda bp: bp.enable_kueue, chart=versions.CHARTS["kueue"],
          toggle="enable_kueue", sync_wave=-8),
    AddOn("mlflow", "mlflow", enabled=lambda bp: bp.enable_mlflow, chart=versions.CHARTS["mlflow"],
          toggle="enable_mlflow"),
]
