"""Model serving: KServe in RawDeployment mode (no Knative, no Istio) with its ServingRuntimes on the pools.

An InferenceService becomes a plain Deployment and a ClusterIP Service (`<name>-predictor`); KServe creates no
Ingress, so nothing is reachable from outside the cluster (`kubectl port-forward`, or an internal load balancer of
the user's own). Its webhooks' certificates come from cert-manager (the chart's self-signed Issuer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplat import versions
from mlplat.addons import NO_PODS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.modules import MANAGED, monitor
from mlplat.serving_runtimes import render, runtimes_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

# The chart's manifests name this namespace (e.g. the webhooks' cert-manager.io/inject-ca-from: kserve/serving-cert).
KSERVE_NAMESPACE = "kserve"
_TOGGLE = "enable_kserve"
# KServe v0.20.0 names RawDeployment "Standard" (pkg/constants: LegacyRawDeployment "RawDeployment" is parsed into
# Standard, "deprecated: use Standard"): plain Deployments, Services and HPAs, no Knative Service, no Istio.
DEPLOYMENT_MODE = "Standard"
# The controller's metrics: the manager listens on 127.0.0.1:8080 only and kube-rbac-proxy serves them over HTTPS on
# 8443 (its own self-signed certificate) to callers whose token may GET /metrics, through the Service
# kserve-controller-manager-metrics-service (port `https`). charts/kserve-resources/files/kserve/resources.yaml at
# v0.20.0. Its sibling kserve-controller-manager-service has the same labels but an unnamed port, so the port name
# selects exactly one endpoint.
METRICS_SELECTOR = {"app.kubernetes.io/name": "kserve", "control-plane": "kserve-controller-manager"}
METRICS_ENDPOINT = {"port": "https", "scheme": "https",
                    # kube-prometheus-stack's Prometheus ClusterRole may GET /metrics (as for Kueue).
                    "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                    "tlsConfig": {"insecureSkipVerify": True}}


def kserve_values(ctx: AddonContext) -> dict[str, Any]:
    return {"kserve": {"controller": {
        "deploymentMode": DEPLOYMENT_MODE,
        # No Ingress (or Gateway API route) per InferenceService: the predictor's ClusterIP Service is the only way in.
        "gateway": {"disableIngressCreation": True},
        # Its webhooks admit every InferenceService: it runs with the platform controllers on the system nodes.
        **SYSTEM_NODES,
    }}}


def serving_runtimes(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [render(r, dict(MANAGED)) for r in runtimes_for(ctx.blueprint)]}


def kserve_monitors(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [monitor("kserve-controller", KSERVE_NAMESPACE, METRICS_SELECTOR, METRICS_ENDPOINT)]}


def _on(bp: "Blueprint") -> bool:
    return bp.enable_kserve


ADDONS: list[AddOn] = [
    # KServe ships its CRDs as a chart of their own, as templates: Helm upgrades them (and, like karpenter-crd,
    # uninstalling it deletes every InferenceService).
    AddOn("kserve-crd", KSERVE_NAMESPACE, enabled=_on, chart=versions.CHARTS["kserve-crd"], toggle=_TOGGLE,
          sync_wave=-9, placement=NO_PODS),
    # cert-manager issues the webhook certificate (the chart's Issuer and Certificate are cert-manager kinds).
    # Not installed: kserve-runtime-configs. With its defaults it renders nothing (servingruntime.enabled and
    # llmisvcConfigs.enabled are false), and its runtimes would be upstream's generic ones, auto-selected and placed
    # on no pool; the platform renders its own (serving-runtimes).
    AddOn("kserve", KSERVE_NAMESPACE, enabled=_on, chart=versions.CHARTS["kserve-resources"],
          depends_on=("cert-manager", "kserve-crd"), computed_values=kserve_values, toggle=_TOGGLE, sync_wave=-8,
          placement=SYSTEM, skip_crds=True),
    # After the controller: its validating webhook admits ClusterServingRuntimes.
    AddOn("serving-runtimes", KSERVE_NAMESPACE, enabled=lambda bp: _on(bp) and bool(runtimes_for(bp)),
          depends_on=("kserve",), computed_values=serving_runtimes, toggle=_TOGGLE, sync_wave=-4, placement=NO_PODS),
    AddOn("kserve-monitoring", KSERVE_NAMESPACE, enabled=lambda bp: _on(bp) and bp.enable_ai_ml_observability_stack,
          depends_on=("kserve", "kube-prometheus-stack"), computed_values=kserve_monitors, toggle=_TOGGLE,
          sync_wave=1, placement=NO_PODS),
]
