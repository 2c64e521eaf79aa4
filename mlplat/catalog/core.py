"""Core add-ons: Karpenter and the node pools it provisions."""

from __future__ import annotations

from typing import Any

from mlplat import versions
from mlplat.addons import AddOn, AddonContext
from mlplat.nodepools import NodeClassContext, render

SYSTEM_NODES = {"nodeSelector": {"mlplat.io/pool": "system"},
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}


def karpenter_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "settings": {"clusterName": bp.name, "clusterEndpoint": ctx.outputs["cluster_endpoint"],
                     "interruptionQueue": ctx.outputs["karpenter_queue_name"]},
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
    AddOn("karpenter", "kube-system", enabled=lambda bp: True, chart=versions.CHARTS["karpenter"],
          computed_values=karpenter_values, sync_wave=-10),
    AddOn("karpenter-nodepools", "kube-system", enabled=lambda bp: bool(bp.enabled_pools), depends_on=("karpenter",),
          computed_values=nodepool_objects, sync_wave=-5),
]
