"""Blueprint keys of the toggleable platform modules (Argo CD, Kueue, MLflow)."""

from __future__ import annotations

from dataclasses import dataclass

from mlplat.schema import field


@dataclass(frozen=True)
class ModuleKeys:
    enable_argocd: bool = field(False, "Install Argo CD (admin credentials generated into Secrets Manager).")
    enable_kueue: bool = field(False, "Install Kueue with a queue per accelerator pool.")
    enable_mlflow: bool = field(False, "Install the MLflow tracking server (S3 artifacts, PostgreSQL backend).")
