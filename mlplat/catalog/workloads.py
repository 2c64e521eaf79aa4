"""Workload operators: KubeRay (Ray clusters, jobs and services), Kubeflow Trainer (TrainJobs on JobSet) and
LeaderWorkerSet (multi-node serving groups)."""

from __future__ import annotations

from typing import Any

from mlplat import versions
from mlplat.addons import NO_PODS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.modules import MANAGED, monitor
from mlplat.training_runtimes import render, runtimes_for

KUBERAY_NAMESPACE = "kuberay-system"
LWS_NAMESPACE = "lws-system"
TRAINER_NAMESPACE = "kubeflow-system"


def kuberay_values(ctx: AddonContext) -> dict[str, Any]:
    # The operator reconciles every namespace's Ray objects; its own pod runs with the platform controllers.
    return {**SYSTEM_NODES}


def kuberay_monitors(ctx: AddonContext) -> dict[str, Any]:
    # The chart's Service (named by its nameOverride) serves the operator's /metrics on the port named http.
    selector = {"app.kubernetes.io/name": "kuberay-operator", "app.kubernetes.io/instance": "kuberay-operator"}
    return {"objects": [monitor("kuberay-operator", KUBERAY_NAMESPACE, selector, {"port": "http"})]}


def lws_values(ctx: AddonContext) -> dict[str, Any]:
    return {**SYSTEM_NODES}


def trainer_values(ctx: AddonContext) -> dict[str, Any]:
    return {
        "manager": {**SYSTEM_NODES},
        # The JobSet controller the chart installs as a dependency (jobset chart 0.12.0: controller.*).
        "jobset": {"controller": {**SYSTEM_NODES}},
        # The chart's built-in runtimes are applied by a post-install Job that installs kubectl from Alpine's package
        # repository at run time; the platform renders its own runtimes instead (trainer-runtimes).
        "runtimes": {"defaultEnabled": False},
    }


def trainer_runtimes(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [render(r, dict(MANAGED)) for r in runtimes_for(ctx.blueprint)]}


ADDONS: list[AddOn] = [
    AddOn("kuberay-operator", KUBERAY_NAMESPACE, enabled=lambda bp: bp.enable_kuberay_operator,
          chart=versions.CHARTS["kuberay-operator"], computed_values=kuberay_values, toggle="enable_kuberay_operator",
          sync_wave=-8, placement=SYSTEM),
    AddOn("kuberay-monitoring", KUBERAY_NAMESPACE,
          enabled=lambda bp: bp.enable_kuberay_operator and bp.enable_ai_ml_observability_stack,
          depends_on=("kuberay-operator", "kube-prometheus-stack"), computed_values=kuberay_monitors,
          toggle="enable_kuberay_operator", sync_wave=1, placement=NO_PODS),
    AddOn("kubeflow-trainer", TRAINER_NAMESPACE, enabled=lambda bp: bp.enable_kubeflow_trainer,
          chart=versions.CHARTS["kubeflow-trainer"], computed_values=trainer_values, toggle="enable_kubeflow_trainer",
          sync_wave=-8, placement=SYSTEM),
    AddOn("trainer-runtimes", TRAINER_NAMESPACE, enabled=lambda bp: bp.enable_kubeflow_trainer,
          depends_on=("kubeflow-trainer",), computed_values=trainer_runtimes, toggle="enable_kubeflow_trainer",
          sync_wave=-4, placement=NO_PODS),
    AddOn("leader-worker-set", LWS_NAMESPACE, enabled=lambda bp: bp.enable_leader_worker_set,
          chart=versions.CHARTS["lws"], computed_values=lws_values, toggle="enable_leader_worker_set", sync_wave=-8,
          placement=SYSTEM),
]
