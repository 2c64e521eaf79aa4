"""The ACK SageMaker controller: SageMaker training jobs, models and endpoints as Kubernetes objects."""

from __future__ import annotations

from typing import Any

from mlplat import versions
from mlplat.addons import NO_PODS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.modules import monitor
from mlplat.workloads_config import ACK_SAGEMAKER_NAMESPACE, ACK_SAGEMAKER_SERVICE_ACCOUNT, RECONCILED_KINDS

ACK_SAGEMAKER = "ack-sagemaker"
# The chart's metrics Service (helm/templates/metrics-service.yaml at v1.9.1): labelled with the chart's name and the
# release, port `metricsport` to the container's `http` port, where the ACK runtime serves /metrics (its
# --metrics-addr default, 0.0.0.0:8080; the chart passes no other).
METRICS_SELECTOR = {"app.kubernetes.io/name": "sagemaker-chart", "app.kubernetes.io/instance": ACK_SAGEMAKER}
METRICS_PORT = "metricsport"
# The chart's default resourceTags (helm/values.yaml at v1.9.1); a list in our values replaces the chart's, so they are
# repeated before the platform's own.
ACK_DEFAULT_TAGS = ("services.k8s.aws/controller-version=%CONTROLLER_SERVICE%-%CONTROLLER_VERSION%",
                    "services.k8s.aws/namespace=%K8S_NAMESPACE%", "app.kubernetes.io/managed-by=%MANAGED_BY%",
                    "kro.run/kro-version=%KRO_VERSION%")


def ack_sagemaker_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "aws": {"region": bp.region},
        # Credentials come from the Pod Identity association on this service account: no IRSA annotation.
        "serviceAccount": {"create": True, "name": ACK_SAGEMAKER_SERVICE_ACCOUNT, "annotations": {}},
        "deployment": {"nodeSelector": {"kubernetes.io/os": "linux", **SYSTEM_NODES["nodeSelector"]},
                       "tolerations": SYSTEM_NODES["tolerations"]},
        # Only the kinds its IAM role may manage (modules/sagemaker_aws.py); objects of other kinds stay unreconciled.
        "reconcile": {"resources": sorted(RECONCILED_KINDS)},
        # Its role can assume no other: cross-account management (CARM) could only fail. Objects reference only
        # objects and Secrets of their own namespace, so one team's namespace cannot reach into another's.
        "enableCARM": False,
        "enableCrossNamespace": False,
        "metrics": {"service": {"create": bp.enable_ai_ml_observability_stack}},
        # SageMaker jobs, models and endpoints carry the platform's tags like its other resources: cost allocation,
        # and finding what outlived a destroy (the destroy does not delete SageMaker resources; see the README).
        "resourceTags": [*ACK_DEFAULT_TAGS, f"Platform={bp.name}", "ManagedBy=mlplat"],
    }


def ack_sagemaker_monitors(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [monitor(ACK_SAGEMAKER, ACK_SAGEMAKER_NAMESPACE, METRICS_SELECTOR, {"port": METRICS_PORT})]}


ADDONS: list[AddOn] = [
    # CRDs come with the chart (helm/crds); the controller runs with the platform controllers.
    AddOn(ACK_SAGEMAKER, ACK_SAGEMAKER_NAMESPACE, enabled=lambda bp: bp.enable_ack_sagemaker,
          chart=versions.CHARTS["sagemaker-chart"], computed_values=ack_sagemaker_values,
          toggle="enable_ack_sagemaker", sync_wave=-8, placement=SYSTEM),
    AddOn("ack-sagemaker-monitoring", ACK_SAGEMAKER_NAMESPACE,
          enabled=lambda bp: bp.enable_ack_sagemaker and bp.enable_ai_ml_observability_stack,
          depends_on=(ACK_SAGEMAKER, "kube-prometheus-stack"), computed_values=ack_sagemaker_monitors,
          toggle="enable_ack_sagemaker", sync_wave=1, placement=NO_PODS),
]
