"""Core add-ons: Karpenter (its CRDs as their own release, so upgrades reach them) and the node pools it provisions."""

from __future__ import annotations

from typing import Any

from mlplat import versions
from mlplat.addons import NODEPOOLS, NO_PODS, SYSTEM, AddOn, AddonContext
from mlplat.nodepools import NodeClassContext, render

SYSTEM_NODES = {"nodeSelector": {"mlplat.io/pool": "system"},
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}


def karpenter_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "settings": {
            "clusterName": bp.name, "clusterEndpoint": ctx.outputs["cluster_endpoint"],
            "interruptionQueue": ctx.outputs["karpenter_queue_name"],
            # Node repair acts on the conditions the EKS node monitoring agent sets (AWS layer add-on).
            "featureGates": {"nodeRepair": bp.enable_node_auto_repair},
        },
        # Karpenter asks IMDS for its region when the SDK has none, and the nodes' IMDS answers no pod (hop limit
        # 1): without this it exits at start. Pod Identity supplies credentials, not a region.
        "controller": {"env": [{"name": "AWS_REGION", "value": bp.region}]},
        # The Pod Identity association in the AWS layer binds this service account to the controller role.
        "serviceAccount": {"name": "karpenter"},
        # Karpenter must not run on nodes it manages: it lives on the system node group.
        **SYSTEM_NODES,
    }


def nodepool_objects(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    nc = NodeClassContext(cluster_name=bp.name, node_role_name=ctx.outputs["karpenter_node_role_name"],
                          with_efs=bp.enable_efs, with_fsx=bp.enable_fsx,
                          tags={"mlplat.io/platform": bp.name, **bp.tags})
    objects: list[dict[str, Any]] = []
    for pool in bp.enabled_pools:
        objects.extend(render(pool, nc))
    return {"objects": objects}


ADDONS = [
    # Helm installs a chart's crds/ once and never upgrades them; Karpenter's upgrade guide installs them with the
    # karpenter-crd chart of the same version instead, which Helm upgrades like any release.
    AddOn("karpenter-crd", "kube-system", enabled=lambda bp: True, chart=versions.CHARTS["karpenter-crd"],
          sync_wave=-11, placement=NO_PODS),
    AddOn("karpenter", "kube-system", enabled=lambda bp: True, chart=versions.CHARTS["karpenter"],
          depends_on=("karpenter-crd",), computed_values=karpenter_values, sync_wave=-10, placement=SYSTEM,
          skip_crds=True),
    # Uninstalling it deletes the NodePools, which drains and terminates their nodes: a long wait is normal.
    AddOn(NODEPOOLS, "kube-system", enabled=lambda bp: bool(bp.enabled_pools), depends_on=("karpenter",),
          computed_values=nodepool_objects, sync_wave=-9, placement=NO_PODS, timeout_seconds=1800),
]
