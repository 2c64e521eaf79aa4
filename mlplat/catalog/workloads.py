"""Workload operators: KubeRay (Ray clusters, jobs and services) and LeaderWorkerSet (multi-node serving groups)."""

from __future__ import annotations

from typing import Any

from mlplat import versions
from mlplat.addons import NO_PODS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.modules import monitor

KUBERAY_NAMESPACE = "kuberay-system"
LWS_NAMESPACE = "lws-system"


def kuberay_values(ctx: AddonContext) -> dict[str, Any]:
    # The operator reconciles every namespace's Ray objects; its own pod runs with the platform controllers.
    return {**SYSTEM_NODES}


def kuberay_monitors(ctx: AddonContext) -> dict[str, Any]:
    # The chart's Service (named by its nameOverride) serves the operator's /metrics on the port named http.
    selector = {"app.kubernetes.io/name": "kuberay-operator", "app.kubernetes.io/instance": "kuberay-operator"}
    return {"objects": [monitor("kuberay-operator", KUBERAY_NAMESPACE, selector, {"port": "http"})]}


def lws_values(ctx: AddonContext) -> dict[str, Any]:
    return {**SYSTEM_NODES}


ADDONS: list[AddOn] = [
    AddOn("kuberay-operator", KUBERAY_NAMESPACE, enabled=lambda bp: bp.enable_kuberay_operator,
          chart=versions.CHARTS["kuberay-operator"], computed_values=kuberay_values, toggle="enable_kuberay_operator",
          sync_wave=-8, placement=SYSTEM),
    AddOn("kuberay-monitoring", KUBERAY_NAMESPACE,
          enabled=lambda bp: bp.enable_kuberay_operator and bp.enable_ai_ml_observability_stack,
          depends_on=("kuberay-operator", "kube-prometheus-stack"), computed_values=kuberay_monitors,
          toggle="enable_kuberay_operator", sync_wave=1, placement=NO_PODS),
    AddOn("leader-worker-set", LWS_NAMESPACE, enabled=lambda bp: bp.enable_leader_worker_set,
          chart=versions.CHARTS["lws"], computed_values=lws_values, toggle="enable_leader_worker_set", sync_wave=-8,
          placement=SYSTEM),
]
