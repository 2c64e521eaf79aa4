"""Karpenter node pools as typed data: the catalog of pool kinds, the blueprint's overrides, and one render function.

Every pool becomes exactly one NodePool and one EC2NodeClass, rendered by `render()`; nothing else writes them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from mlplat import versions
from mlplat.schema import field

DURATION = r"(\d+(s|m|h))+"
DURATION_DOC = "a duration such as '30s', '5m' or '720h'"
CAPACITY_TYPES = ("on-demand", "spot", "reserved")
CAPACITY_RESERVATION = r"cr-[0-9a-f]{17}"

# Taints the CSI node plugins remove once they are ready, so no pod lands before its volumes can mount.
CSI_STARTUP_TAINTS = (
    {"key": "ebs.csi.aws.com/agent-not-ready", "effect": "NoExecute"},
    {"key": "efs.csi.aws.com/agent-not-ready", "effect": "NoExecute"},
)
FSX_STARTUP_TAINT = {"key": "fsx.csi.aws.com/agent-not-ready", "effect": "NoExecute"}


@dataclass(frozen=True)
class PoolKind:
    """Defaults and limits of one kind of pool; the blueprint can override the tunable ones."""

    name: str
    description: str
    known_families: tuple[str, ...]
    default_families: tuple[str, ...]
    accelerator: str | None  # extended resource the pool's nodes offer
    taint_key: str | None
    az_key: str | None  # blueprint key that pins the pool to one AZ's subnet
    efa: bool = False
    enabled: bool = False
    capacity_types: tuple[str, ...] = ("on-demand",)
    max_cpu: int = 1000
    max_memory_gib: int = 4000
    max_accelerators: int = 0
    weight: int = 10
    root_volume_gib: int = 100
    consolidation_policy: str = "WhenEmptyOrUnderutilized"
    consolidate_after: str = "5m"
    expire_after: str = "720h"
    disruption_budget: str = "10%"


POOL_KINDS: dict[str, PoolKind] = {
    kind.name: kind
    for kind in (
        PoolKind(
            "general", "General-purpose on-demand nodes for platform services (Prometheus, Grafana, Argo CD, MLflow).",
            known_families=("m6i", "m6a", "m7i", "m7a", "r6i", "r7i", "c6i", "c7i"),
            default_families=("m7i", "m6i", "m7a"), accelerator=None, taint_key=None, az_key=None,
            enabled=True, max_cpu=256, max_memory_gib=1024, weight=50, root_volume_gib=100,
        ),
        PoolKind(
            "cpu", "Compute-optimised CPU nodes for data processing (spot first).",
            known_families=("c6i", "c6a", "c7i", "c7a", "m6i", "m7i", "r6i", "r7i"),
            default_families=("c7i", "c7a", "c6i"), accelerator=None, taint_key="mlplat.io/cpu-batch", az_key=None,
            capacity_types=("spot", "on-demand"), max_cpu=2000, max_memory_gib=8000, weight=20,
        ),
        PoolKind(
            "gpu", "NVIDIA single-node training and inference (g families).",
            known_families=("g4dn", "g5", "g6", "g6e", "g6f", "gr6", "g7e"),
            default_families=("g5", "g6", "g6e"), accelerator="nvidia.com/gpu", taint_key="nvidia.com/gpu",
            az_key=None, enabled=True, capacity_types=("on-demand", "spot"), max_cpu=1536, max_memory_gib=12288,
            max_accelerators=64, root_volume_gib=500,
        ),
        PoolKind(
            "gpu-efa", "NVIDIA multi-node training with EFA (p families), pinned to cuda_efa_az.",
            known_families=("p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6e-gb200"),
            default_families=("p4d", "p5", "p5e", "p5en"), accelerator="nvidia.com/gpu", taint_key="nvidia.com/gpu",
            az_key="cuda_efa_az", efa=True, max_cpu=3072, max_memory_gib=32768, max_accelerators=128,
            root_volume_gib=1000, consolidate_after="30m",
        ),
        PoolKind(
            "neuron", "AWS Trainium and Inferentia2 (trn1, trn1n, trn2, inf2), pinned to neuron_az.",
            known_families=("trn1", "trn1n", "trn2", "inf2"),
            default_families=("trn1", "trn1n", "inf2"), accelerator="aws.amazon.com/neuron",
            taint_key="aws.amazon.com/neuron", az_key="neuron_az", efa=True, max_cpu=2048, max_memory_gib=32768,
            max_accelerators=256, root_volume_gib=500, consolidate_after="30m",
        ),
        PoolKind(
            "inferentia1", "AWS Inferentia1 (inf1) for serving.",
            known_families=("inf1",), default_families=("inf1",), accelerator="aws.amazon.com/neuron",
            taint_key="aws.amazon.com/neuron", az_key=None, max_cpu=512, max_memory_gib=2048, max_accelerators=64,
            root_volume_gib=200,
        ),
    )
}


@dataclass(frozen=True)
class NodePoolBlueprint:
    """Per-pool overrides; every key left out takes the pool kind's default (see the node pools table)."""

    enabled: bool | None = field(None, "Create this pool.")
    instance_families: tuple[str, ...] | None = field(
        None, "EC2 instance families the pool may launch.", unique=True,
        pattern=r"[a-z][a-z0-9-]*", pattern_doc="an instance family such as 'g6e'",
    )
    capacity_types: tuple[str, ...] | None = field(
        None, "Purchase options, in Karpenter's terms.", choices=CAPACITY_TYPES, unique=True,
    )
    max_cpu: int | None = field(None, "Pool limit on total vCPUs.", minimum=1)
    max_memory_gib: int | None = field(None, "Pool limit on total memory (GiB).", minimum=1)
    max_accelerators: int | None = field(None, "Pool limit on GPUs / Neuron devices.", minimum=0)
    weight: int | None = field(None, "Karpenter preference among matching pools (higher first).", minimum=1, maximum=100)
    ami_family: str | None = field(None, "Node OS image family.", choices=("al2023", "bottlerocket"))
    root_volume_gib: int | None = field(None, "Encrypted gp3 root/data volume size (GiB).", minimum=20, maximum=16384)
    consolidation_policy: str | None = field(
        None, "When Karpenter may replace nodes.", choices=("WhenEmpty", "WhenEmptyOrUnderutilized"),
    )
    consolidate_after: str | None = field(None, "Idle time before consolidation.", pattern=DURATION, pattern_doc=DURATION_DOC)
    expire_after: str | None = field(
        None, "Maximum node lifetime, or 'Never'.", pattern=DURATION + "|Never", pattern_doc=DURATION_DOC + " or 'Never'",
    )
    disruption_budget: str | None = field(
        None, "Nodes Karpenter may disrupt at once (count or percentage).", pattern=r"\d+%?",
        pattern_doc="a node count such as '2' or a percentage such as '10%'",
    )
    capacity_reservation_ids: tuple[str, ...] = field(
        (), "ODCR or Capacity Block ids the pool may use (adds 'reserved' capacity).", unique=True,
        pattern=CAPACITY_RESERVATION, pattern_doc="a capacity reservation id such as 'cr-0123456789abcdef0'",
    )
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True)
class NodePoolKeys:
    nodepools: Mapping[str, NodePoolBlueprint] = field(
        MappingProxyType({}),
        "Karpenter node pools by name (" + ", ".join(POOL_KINDS) + "); each key overrides that pool's defaults.",
        keys=tuple(POOL_KINDS), key_noun="node pool",
    )
    workload_namespaces: tuple[str, ...] = field(
        ("ml-workloads",), "Namespaces where users run jobs: shared volumes (PVCs) and Kueue LocalQueues go there.",
        unique=True, pattern=r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", pattern_doc="a Kubernetes namespace name",
    )

    def _rules_nodepools(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        for name, pool in self.nodepools.items():
            kind = POOL_KINDS[name]
            families = pool.instance_families or ()
            for fam in families:
                if fam not in kind.known_families:
                    out.append((("nodepools", name, "instance_families"),
                                f"unknown instance family {fam!r} for the {name} pool; expected one of "
                                f"{', '.join(kind.known_families)}"))
            if pool.instance_families == ():
                out.append((("nodepools", name, "instance_families"), "expected at least one instance family"))
            enabled = pool.enabled if pool.enabled is not None else kind.enabled
            if enabled and kind.az_key and getattr(self, kind.az_key) is None:
                out.append((("nodepools", name, "enabled"),
                            f"the {name} pool is pinned to one AZ: set {kind.az_key} to one of the platform's zones"))
            if pool.capacity_types and "reserved" in pool.capacity_types and not pool.capacity_reservation_ids:
                out.append((("nodepools", name, "capacity_types"),
                            "'reserved' needs capacity_reservation_ids naming the ODCRs or Capacity Blocks"))
            if kind.accelerator and pool.max_accelerators == 0 and enabled:
                out.append((("nodepools", name, "max_accelerators"),
                            f"expected at least 1 {kind.accelerator}: a limit of 0 lets the pool launch no node"))
        return out

    @property
    def enabled_pools(self) -> tuple["NodePoolSpec", ...]:
        return tuple(p for p in (resolve(name, self.nodepools.get(name)) for name in POOL_KINDS) if p.enabled)


@dataclass(frozen=True)
class NodePoolSpec:
    """A pool with defaults applied: the typed input of `render()`."""

    name: str
    kind: PoolKind
    enabled: bool
    instance_families: tuple[str, ...]
    capacity_types: tuple[str, ...]
    max_cpu: int
    max_memory_gib: int
    max_accelerators: int
    weight: int
    ami_family: str
    root_volume_gib: int
    consolidation_policy: str
    consolidate_after: str
    expire_after: str
    disruption_budget: str
    capacity_reservation_ids: tuple[str, ...]

    @property
    def taints(self) -> tuple[dict[str, str], ...]:
        if self.kind.taint_key is None:
            return ()
        taints = [{"key": self.kind.taint_key, "value": "true", "effect": "NoSchedule"}]
        if self.kind.efa:
            taints.append({"key": "vpc.amazonaws.com/efa", "value": "true", "effect": "NoSchedule"})
        return tuple(taints)

    @property
    def labels(self) -> dict[str, str]:
        return {
            "mlplat.io/pool": self.name,
            "mlplat.io/accelerator": {None: "none", "nvidia.com/gpu": "nvidia", "aws.amazon.com/neuron": "neuron"}[
                self.kind.accelerator
            ],
        }


def resolve(name: str, overrides: NodePoolBlueprint | None) -> NodePoolSpec:
    kind = POOL_KINDS[name]
    o = overrides or NodePoolBlueprint()

    def pick(key: str, default: Any) -> Any:
        value = getattr(o, key)
        return default if value is None else value

    capacity = pick("capacity_types", kind.capacity_types)
    if o.capacity_reservation_ids and "reserved" not in capacity:
        capacity = ("reserved",) + tuple(capacity)
    return NodePoolSpec(
        name=name, kind=kind, enabled=pick("enabled", kind.enabled),
        instance_families=pick("instance_families", kind.default_families), capacity_types=tuple(capacity),
        max_cpu=pick("max_cpu", kind.max_cpu), max_memory_gib=pick("max_memory_gib", kind.max_memory_gib),
        max_accelerators=pick("max_accelerators", kind.max_accelerators), weight=pick("weight", kind.weight),
        ami_family=pick("ami_family", "al2023"), root_volume_gib=pick("root_volume_gib", kind.root_volume_gib),
        consolidation_policy=pick("consolidation_policy", kind.consolidation_policy),
        consolidate_after=pick("consolidate_after", kind.consolidate_after),
        expire_after=pick("expire_after", kind.expire_after),
        disruption_budget=pick("disruption_budget", kind.disruption_budget),
        capacity_reservation_ids=o.capacity_reservation_ids,
    )


@dataclass(frozen=True)
class NodeClassContext:
    cluster_name: str
    node_role_name: str
    with_fsx: bool
    tags: Mapping[str, str]


def subnet_tag_key(az_key: str) -> str:
    """Tag on the private subnet of a pinned AZ, e.g. mlplat.io/neuron-az; the VPC module writes it."""
    return "mlplat.io/" + az_key.removesuffix("_az").replace("_", "-") + "-az"


def render(pool: NodePoolSpec, ctx: NodeClassContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The NodePool and EC2NodeClass of one pool, as Kubernetes objects (Karpenter v1)."""
    requirements: list[dict[str, Any]] = [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(pool.instance_families)},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    if pool.kind.accelerator is None:
        requirements.append({"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]})
    startup_taints = list(CSI_STARTUP_TAINTS) + ([FSX_STARTUP_TAINT] if ctx.with_fsx else [])
    limits: dict[str, str] = {"cpu": str(pool.max_cpu), "memory": f"{pool.max_memory_gib}Gi"}
    if pool.kind.accelerator:
        limits[pool.kind.accelerator] = str(pool.max_accelerators)
    nodepool = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool.name, "labels": {"app.kubernetes.io/managed-by": "mlplat"}},
        "spec": {
            "template": {
                "metadata": {"labels": pool.labels},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.name},
                    "requirements": requirements,
                    "taints": [dict(t) for t in pool.taints],
                    "startupTaints": startup_taints,
                    "expireAfter": pool.expire_after,
                },
            },
            "disruption": {
                "consolidationPolicy": pool.consolidation_policy,
                "consolidateAfter": pool.consolidate_after,
                "budgets": [{"nodes": pool.disruption_budget}],
            },
            "limits": limits,
            "weight": pool.weight,
        },
    }
    discovery = {"karpenter.sh/discovery": ctx.cluster_name}
    subnet_tags = dict(discovery)
    if pool.kind.az_key:
        subnet_tags[subnet_tag_key(pool.kind.az_key)] = "true"
    alias = versions.AL2023_AMI_ALIAS if pool.ami_family == "al2023" else versions.BOTTLEROCKET_AMI_ALIAS
    volume = {
        "volumeSize": f"{pool.root_volume_gib}Gi", "volumeType": "gp3", "encrypted": True,
        "deleteOnTermination": True, "iops": 3000, "throughput": 125,
    }
    if pool.ami_family == "bottlerocket":
        # Bottlerocket keeps the OS on a small volume and images/containers on the second (data) volume.
        block_devices = [
            {"deviceName": "/dev/xvda", "ebs": {**volume, "volumeSize": "8Gi"}},
            {"deviceName": "/dev/xvdb", "ebs": volume},
        ]
    else:
        block_devices = [{"deviceName": "/dev/xvda", "ebs": volume}]
    nodeclass: dict[str, Any] = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": pool.name, "labels": {"app.kubernetes.io/managed-by": "mlplat"}},
        "spec": {
            "role": ctx.node_role_name,
            "amiSelectorTerms": [{"alias": alias}],
            "subnetSelectorTerms": [{"tags": subnet_tags}],
            "securityGroupSelectorTerms": [{"tags": dict(discovery)}],
            # Hop limit 1: pods get AWS credentials from EKS Pod Identity, never from the node's IMDS, so no
            # container needs to reach the instance role.
            "metadataOptions": {
                "httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1,
                "httpTokens": "required",
            },
            "blockDeviceMappings": block_devices,
            # Local NVMe (p4d/p5/trn1/g6e ...) is striped into one volume for images and scratch data.
            "instanceStorePolicy": "RAID0",
            "tags": {**ctx.tags, "mlplat.io/pool": pool.name},
        },
    }
    if pool.capacity_reservation_ids:
        nodeclass["spec"]["capacityReservationSelectorTerms"] = [{"id": i} for i in pool.capacity_reservation_ids]
    return nodepool, nodeclass


def toleration_for(pool: NodePoolSpec) -> list[dict[str, str]]:
    """Tolerations a workload needs to land on `pool` (used by add-ons and examples)."""
    return [{"key": t["key"], "operator": "Exists", "effect": t["effect"]} for t in pool.taints]
