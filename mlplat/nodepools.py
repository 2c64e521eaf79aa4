"""Karpenter node pools as typed data: the catalog of pool kinds, the blueprint's overrides, and one render function.

Every pool becomes exactly one NodePool and one EC2NodeClass, rendered by `render()`; nothing else writes them. The
accelerator switches that decide which device stack serves the pools (GPU operator or device plugin, Neuron node
recovery) live here too, next to the pools they act on.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Mapping

from mlplat import versions
from mlplat.schema import field

DURATION = r"(\d+(s|m|h))+"
DURATION_DOC = "a duration such as '30s', '5m' or '720h'"
CAPACITY_TYPES = ("on-demand", "spot", "reserved")
# EC2 capacity reservation ids (ODCRs and Capacity Blocks alike): "cr-" and 17 hex digits.
CAPACITY_RESERVATION = r"cr-[0-9a-f]{17}"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TAINT = (r"(?P<key>[a-z0-9.-]+(/[A-Za-z0-9._-]+)?)(=(?P<value>[A-Za-z0-9._-]{1,63}))?"
         r":(?P<effect>NoSchedule|PreferNoSchedule|NoExecute)")
TAINT_DOC = "a taint such as 'mlplat.io/dedicated=research:NoSchedule' (key[=value]:effect)"

# Taint keys the platform's node agents (device plugins, exporters, log shipper) tolerate. A pool taint outside
# this set would keep them off the pool's nodes, so the blueprint rejects it (see `_rules_nodepools`).
PLATFORM_TAINT_KEYS = ("nvidia.com/gpu", "aws.amazon.com/neuron", "vpc.amazonaws.com/efa", "mlplat.io/cpu-batch",
                       "mlplat.io/dedicated")

# Taints the CSI node plugins remove once they are ready, so no pod lands before its volumes can mount. Each is
# only set when its driver runs: a taint nobody removes would keep the node unusable.
EBS_STARTUP_TAINT = {"key": "ebs.csi.aws.com/agent-not-ready", "effect": "NoExecute"}
EFS_STARTUP_TAINT = {"key": "efs.csi.aws.com/agent-not-ready", "effect": "NoExecute"}
FSX_STARTUP_TAINT = {"key": "fsx.csi.aws.com/agent-not-ready", "effect": "NoExecute"}

# After this long draining (e.g. blocked by a PodDisruptionBudget) an expired or drifted node is terminated anyway,
# so expireAfter is a real upper bound on node age.
TERMINATION_GRACE_PERIOD = "24h"

ACCELERATOR_LABEL = "mlplat.io/accelerator"
POOL_LABEL = "mlplat.io/pool"
EFA_LABEL = "mlplat.io/efa"
AMI_FAMILY_LABEL = "mlplat.io/ami-family"
# Karpenter 1.14 sizes a node by whole GPUs per instance type, so pods asking for MIG slices never make it launch one
# (its NodeOverlay, which could declare slice capacity, is alpha and off: charts/karpenter values.yaml v1.14.1).
MIG_NOT_OFFERED = ("MIG slices cannot be provisioned on Karpenter pools: Karpenter 1.14 counts whole GPUs per "
                   "instance type, so pods asking for slices never launch a node (NodeOverlay, which could declare "
                   "them, is an alpha feature); request whole GPUs (nvidia.com/gpu) and remove this key")


@dataclass(frozen=True)
class FamilyShape:
    """The smallest size of an instance family: what one node of the pool can be at least (EC2 instance type specs)."""

    smallest: str
    vcpus: int
    accelerators: int = 0  # NVIDIA GPUs or Neuron devices (aws.amazon.com/neuron counts devices, not cores)
    # NeuronCores the device plugin advertises per device (aws.amazon.com/neuroncore): 4 NeuronCore-v1 on inf1,
    # 2 NeuronCore-v2 on inf2/trn1/trn1n, 8 NeuronCore-v3 on trn2 (aws-neuron-sdk architecture pages; trn2's default
    # logical core size of 2 shows 4, so 8 is the upper bound a quota must allow).
    cores_per_device: int = 0
    # The most EFA interfaces per accelerator any size of the family has (MaximumEfaInterfaces / devices, EC2
    # DescribeInstanceTypes): what one accelerator's share of vpc.amazonaws.com/efa can be at most. 0: no EFA.
    efa_per_device: float = 0.0


FAMILIES: dict[str, FamilyShape] = {
    # general-purpose and compute CPU families (x86_64)
    "m6i": FamilyShape("m6i.large", 2), "m6a": FamilyShape("m6a.large", 2), "m7i": FamilyShape("m7i.large", 2),
    "m7a": FamilyShape("m7a.medium", 1), "r6i": FamilyShape("r6i.large", 2), "r7i": FamilyShape("r7i.large", 2),
    "c6i": FamilyShape("c6i.large", 2), "c6a": FamilyShape("c6a.large", 2), "c7i": FamilyShape("c7i.large", 2),
    "c7a": FamilyShape("c7a.medium", 1),
    # NVIDIA single-node (T4, A10G, L4, L40S, L4 high-memory, RTX PRO 6000 Blackwell)
    "g4dn": FamilyShape("g4dn.xlarge", 4, 1, 0, 1), "g5": FamilyShape("g5.xlarge", 4, 1, 0, 1),
    "g6": FamilyShape("g6.xlarge", 4, 1, 0, 1), "g6e": FamilyShape("g6e.xlarge", 4, 1, 0, 1),
    "gr6": FamilyShape("gr6.4xlarge", 16, 1, 0, 1), "g7e": FamilyShape("g7e.2xlarge", 8, 1, 0, 1),
    # NVIDIA multi-node with EFA (A100, H100, H200, B200, B300)
    "p4d": FamilyShape("p4d.24xlarge", 96, 8, 0, 0.5), "p4de": FamilyShape("p4de.24xlarge", 96, 8, 0, 0.5),
    "p5": FamilyShape("p5.4xlarge", 16, 1, 0, 4), "p5e": FamilyShape("p5e.48xlarge", 192, 8, 0, 4),
    "p5en": FamilyShape("p5en.48xlarge", 192, 8, 0, 2), "p6-b200": FamilyShape("p6-b200.48xlarge", 192, 8, 0, 1),
    "p6-b300": FamilyShape("p6-b300.48xlarge", 192, 8, 0, 2),
    # AWS Trainium and Inferentia
    "trn1": FamilyShape("trn1.2xlarge", 8, 1, 2, 0.5), "trn1n": FamilyShape("trn1n.32xlarge", 128, 16, 2, 1),
    "trn2": FamilyShape("trn2.3xlarge", 12, 1, 8, 1), "inf2": FamilyShape("inf2.xlarge", 4, 1, 2),
    "inf1": FamilyShape("inf1.xlarge", 4, 1, 4, 0.0625),
}


@dataclass(frozen=True)
class PoolKind:
    """Defaults and limits of one kind of pool; the blueprint can override the tunable ones."""

    name: str
    description: str
    known_families: tuple[str, ...]
    default_families: tuple[str, ...]
    accelerator: str | None  # extended resource the pool's nodes offer
    taints: tuple[str, ...]  # TAINT syntax
    az_key: str | None  # blueprint key that pins the pool to one AZ's subnet
    efa: bool = False  # the pool launches EFA-capable instances: the EFA device plugin serves it
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
    min_generation: int | None = None  # instance-generation floor for CPU kinds (their family list is open-ended)
    # Multi-node training pools: a node replaced mid-run takes the whole job down. Expiry is forceful (it ignores
    # karpenter.sh/do-not-disrupt) and drift follows every AMI bump, so these pools never expire and never replace a
    # node for drift; roll them deliberately (delete the NodeClaims) in a maintenance window after an AMI bump.
    training: bool = False


GPU_TAINT = "nvidia.com/gpu=true:NoSchedule"
NEURON_TAINT = "aws.amazon.com/neuron=true:NoSchedule"
# Pods that need contiguous NeuronCores set `schedulerName: neuron-scheduler`: a second kube-scheduler (installed by
# the aws-neuron add-on) that asks the Neuron scheduler extension which cores on a node are free and adjacent.
NEURON_SCHEDULER = "neuron-scheduler"
# The p pools are for EFA jobs only: single-GPU work that tolerates just nvidia.com/gpu stays on the cheaper g pool.
EFA_TAINT = "vpc.amazonaws.com/efa=true:NoSchedule"

POOL_KINDS: dict[str, PoolKind] = {
    kind.name: kind
    for kind in (
        PoolKind(
            "general", "General-purpose on-demand nodes for platform services (Prometheus, Grafana, Argo CD, MLflow).",
            known_families=("m6i", "m6a", "m7i", "m7a", "r6i", "r7i", "c6i", "c7i"),
            default_families=("m7i", "m6i", "m7a"), accelerator=None, taints=(), az_key=None,
            enabled=True, max_cpu=256, max_memory_gib=1024, weight=50, root_volume_gib=100, min_generation=6,
        ),
        PoolKind(
            "cpu", "Compute-optimised CPU nodes for data processing (spot first).",
            known_families=("c6i", "c6a", "c7i", "c7a", "m6i", "m7i", "r6i", "r7i"),
            default_families=("c7i", "c7a", "c6i"), accelerator=None, taints=("mlplat.io/cpu-batch=true:NoSchedule",),
            az_key=None, capacity_types=("spot", "on-demand"), max_cpu=2000, max_memory_gib=8000, weight=20,
            min_generation=6,
        ),
        PoolKind(
            "gpu", "NVIDIA single-node training and inference (g families).",
            known_families=("g4dn", "g5", "g6", "g6e", "gr6", "g7e"),
            default_families=("g5", "g6", "g6e"), accelerator="nvidia.com/gpu", taints=(GPU_TAINT,),
            az_key=None, enabled=True, capacity_types=("on-demand", "spot"), max_cpu=1536, max_memory_gib=12288,
            max_accelerators=64, root_volume_gib=500,
        ),
        PoolKind(
            "gpu-efa", "NVIDIA multi-node training with EFA (p families), pinned to cuda_efa_az.",
            known_families=("p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300"),
            default_families=("p4d", "p4de", "p5", "p5e", "p5en"), accelerator="nvidia.com/gpu",
            taints=(GPU_TAINT, EFA_TAINT), az_key="cuda_efa_az", efa=True, max_cpu=3072, max_memory_gib=32768,
            max_accelerators=128, root_volume_gib=1000, consolidation_policy="WhenEmpty", consolidate_after="30m",
            expire_after="Never", training=True,
        ),
        PoolKind(
            "neuron", "AWS Trainium and Inferentia2 (trn1, trn1n, trn2, inf2), pinned to neuron_az.",
            known_families=("trn1", "trn1n", "trn2", "inf2"),
            default_families=("trn1", "trn1n", "inf2"), accelerator="aws.amazon.com/neuron", taints=(NEURON_TAINT,),
            az_key="neuron_az", efa=True, max_cpu=2048, max_memory_gib=32768, max_accelerators=256,
            root_volume_gib=500, consolidation_policy="WhenEmpty", consolidate_after="30m", expire_after="Never",
            training=True,
        ),
        PoolKind(
            "inferentia1", "AWS Inferentia1 (inf1) for serving.",
            known_families=("inf1",), default_families=("inf1",), accelerator="aws.amazon.com/neuron",
            taints=(NEURON_TAINT,), az_key=None, max_cpu=512, max_memory_gib=2048, max_accelerators=64,
            root_volume_gib=200,
        ),
    )
}


def parse_taint(text: str) -> dict[str, str]:
    """'key=value:Effect' -> a Kubernetes taint (the value is optional)."""
    m = re.fullmatch(TAINT, text)
    if m is None:
        raise ValueError(f"not a taint: {text!r}")
    taint = {"key": m["key"], "effect": m["effect"]}
    if m["value"] is not None:
        taint["value"] = m["value"]
    return taint


def toleration(taint: Mapping[str, str]) -> dict[str, str]:
    """The toleration of exactly this taint's key and effect (whatever its value)."""
    return {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]}


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
    max_accelerators: int | None = field(None, "Pool limit on GPUs / Neuron devices.", minimum=0,
                                         aliases=("max_gpus", "max_neuron_devices", "gpu_limit"))
    weight: int | None = field(None, "Karpenter preference among matching pools (higher first).", minimum=1, maximum=100)
    ami_family: str | None = field(None, "Node OS image family.", choices=("al2023", "bottlerocket"))
    root_volume_gib: int | None = field(None, "Encrypted gp3 root/data volume size (GiB).", minimum=20, maximum=16384)
    consolidation_policy: str | None = field(
        None, "When Karpenter may replace nodes.", choices=("WhenEmpty", "WhenEmptyOrUnderutilized"),
    )
    consolidate_after: str | None = field(
        None, "Idle time before consolidation, or 'Never'.", pattern=DURATION + "|Never",
        pattern_doc=DURATION_DOC + " or 'Never'",
    )
    expire_after: str | None = field(
        None, "Maximum node lifetime, or 'Never'.", pattern=DURATION + "|Never", pattern_doc=DURATION_DOC + " or 'Never'",
    )
    disruption_budget: str | None = field(
        None, "Nodes Karpenter may disrupt at once (count or percentage).", pattern=r"(100|[0-9]{1,2})%|[0-9]+",
        pattern_doc="a node count such as '2' or a percentage up to '100%' such as '10%'",
    )
    capacity_reservation_ids: tuple[str, ...] = field(
        (), "ODCR or Capacity Block ids the pool may use (adds 'reserved' capacity).", unique=True,
        pattern=CAPACITY_RESERVATION, pattern_doc="a capacity reservation id such as 'cr-0123456789abcdef0'",
    )
    taints: tuple[str, ...] | None = field(
        None, "Node taints replacing the pool kind's (key[=value]:effect); keys must be ones the platform tolerates.",
        unique=True, pattern=TAINT, pattern_doc=TAINT_DOC,
    )
    _retired: ClassVar[Mapping[str, str]] = MappingProxyType({"mig_config": f"no longer supported: {MIG_NOT_OFFERED}"})
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
    enable_nvidia_gpu_operator: bool = field(
        False, "Serve the NVIDIA pools with the GPU operator (device plugin, GPU feature discovery) instead of the "
        "NVIDIA device plugin chart.",
    )
    enable_node_auto_repair: bool = field(
        False, "Replace Karpenter nodes whose GPUs or Neuron devices fail (XID, uncorrectable errors), or whose "
        "kernel, network, storage or runtime break: the EKS node monitoring agent reports the conditions, "
        "Karpenter's node repair (alpha in 1.14) replaces the node, at most 20% of a pool at once.",
    )
    create_spot_service_linked_role: bool = field(
        False, "Create the EC2 Spot service-linked role (AWSServiceRoleForEC2Spot), which an account needs once "
        "before any Spot launch; leave off if the account already has it (creating it again fails).",
    )

    _retired: ClassVar[Mapping[str, str]] = MappingProxyType({
        "nvidia_mig_strategy": f"no longer supported: {MIG_NOT_OFFERED}",
        "enable_neuron_node_recovery": "no longer supported: replaced by enable_node_auto_repair: the Neuron node "
                                       "problem detector's recovery marks an Auto Scaling group instance unhealthy, "
                                       "and Karpenter nodes belong to none",
    })

    def _rules_nodepools(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        for name, overrides in self.nodepools.items():
            out.extend(_pool_problems(self, resolve(name, overrides), overrides))
        if self.enable_nvidia_gpu_operator and not self.pools_offering("nvidia.com/gpu"):
            out.append((("enable_nvidia_gpu_operator",), "the GPU operator serves the NVIDIA pools, but none is "
                                                         "enabled: enable the gpu or gpu-efa pool, or remove "
                                                         "enable_nvidia_gpu_operator"))
        if self.create_spot_service_linked_role and not any("spot" in p.capacity_types for p in self.enabled_pools):
            out.append((("create_spot_service_linked_role",), "no enabled pool allows spot capacity, so nothing needs "
                                                              "the role; remove this key or add 'spot' to a pool's "
                                                              "capacity_types"))
        for i, ns in enumerate(self.workload_namespaces):
            if ns == "default" or ns.startswith("kube-"):
                out.append((("workload_namespaces", f"[{i}]"), f"{ns!r} is a Kubernetes system namespace; workload "
                                                               f"namespaces must be the users' own, such as "
                                                               f"'ml-workloads'"))
        return out

    @property
    def enabled_pools(self) -> tuple["NodePoolSpec", ...]:
        return tuple(p for p in (resolve(name, self.nodepools.get(name)) for name in POOL_KINDS) if p.enabled)

    def pools_offering(self, accelerator: str) -> tuple["NodePoolSpec", ...]:
        return tuple(p for p in self.enabled_pools if p.kind.accelerator == accelerator)

    @property
    def efa_pools(self) -> tuple["NodePoolSpec", ...]:
        return tuple(p for p in self.enabled_pools if p.kind.efa)


def _pool_problems(bp: NodePoolKeys, pool: "NodePoolSpec",
                   overrides: NodePoolBlueprint) -> list[tuple[tuple[str, ...], str]]:
    name, kind = pool.name, pool.kind

    def at(key: str) -> tuple[str, ...]:
        return ("nodepools", name, key)

    out: list[tuple[tuple[str, ...], str]] = []
    if overrides.instance_families == ():
        out.append((at("instance_families"), "expected at least one instance family"))
    unknown = [f for f in pool.instance_families if f not in kind.known_families]
    for fam in unknown:
        out.append((at("instance_families"), f"unknown instance family {fam!r} for the {name} pool; expected one of "
                                             f"{', '.join(kind.known_families)}"))
    for key in sorted({parse_taint(t)["key"] for t in pool.taint_specs} - set(PLATFORM_TAINT_KEYS)):
        out.append((at("taints"), f"no toleration matches taint key {key!r}: the platform's node agents (device "
                                  f"plugins, exporters, log shipper) tolerate only {', '.join(PLATFORM_TAINT_KEYS)}; "
                                  f"use one of them, e.g. 'mlplat.io/dedicated=<team>:NoSchedule'"))
    if overrides.capacity_types and "reserved" in overrides.capacity_types and not pool.capacity_reservation_ids:
        out.append((at("capacity_types"), "'reserved' needs capacity_reservation_ids naming the ODCRs or Capacity "
                                          "Blocks"))
    if not pool.enabled:
        return out
    if kind.az_key and getattr(bp, kind.az_key) is None:
        why = ("EFA jobs need all their nodes in one AZ" if kind.efa and kind.accelerator == "nvidia.com/gpu"
               else "Trainium capacity is zonal")
        out.append((("nodepools", name), f"the {name} pool is pinned to one AZ ({why}): set {kind.az_key} to one of "
                                         f"the platform's zones ({getattr(bp, 'zones_doc', '')})"))
    if bp.enable_nvidia_gpu_operator and kind.accelerator == "nvidia.com/gpu" and pool.ami_family == "bottlerocket":
        out.append((at("ami_family"), "Bottlerocket's NVIDIA images bring their own driver and device plugin, which "
                                      "the GPU operator does not manage: use ami_family = \"al2023\" or turn "
                                      "enable_nvidia_gpu_operator off"))
    shapes = [FAMILIES[f] for f in pool.instance_families if not unknown]
    if shapes:
        cpu_shape = min(shapes, key=lambda s: s.vcpus)
        if pool.max_cpu < cpu_shape.vcpus:
            out.append((at("max_cpu"), f"max_cpu = {pool.max_cpu} is below one node: the smallest instance the pool "
                                       f"may launch ({cpu_shape.smallest}) has {cpu_shape.vcpus} vCPUs; set at least "
                                       f"{cpu_shape.vcpus}"))
        if kind.accelerator:
            acc_shape = min(shapes, key=lambda s: s.accelerators)
            if pool.max_accelerators < acc_shape.accelerators:
                out.append((at("max_accelerators"),
                            f"max_accelerators = {pool.max_accelerators} is below one node: the smallest instance the "
                            f"pool may launch ({acc_shape.smallest}) has {acc_shape.accelerators} {kind.accelerator}; "
                            f"set at least {acc_shape.accelerators}"))
    return out


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
    taint_specs: tuple[str, ...]

    @property
    def taints(self) -> tuple[dict[str, str], ...]:
        return tuple(parse_taint(t) for t in self.taint_specs)

    @property
    def labels(self) -> dict[str, str]:
        labels = {
            POOL_LABEL: self.name,
            ACCELERATOR_LABEL: {None: "none", "nvidia.com/gpu": "nvidia", "aws.amazon.com/neuron": "neuron"}[
                self.kind.accelerator
            ],
            AMI_FAMILY_LABEL: self.ami_family,
        }
        if self.kind.efa:
            labels[EFA_LABEL] = "true"
        return labels

    @property
    def cores_per_device(self) -> int:
        """The most NeuronCores a device of the pool's families has (0 for pools without Neuron devices)."""
        return max((FAMILIES[f].cores_per_device for f in self.instance_families if f in FAMILIES), default=0)

    @property
    def efa_per_device(self) -> float:
        """The most EFA interfaces per accelerator among the pool's families; 0 unless the EFA device plugin serves
        the pool (only EFA pools advertise vpc.amazonaws.com/efa)."""
        if not self.kind.efa:
            return 0.0
        return max((FAMILIES[f].efa_per_device for f in self.instance_families if f in FAMILIES), default=0.0)


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
        capacity_reservation_ids=o.capacity_reservation_ids, taint_specs=pick("taints", kind.taints),
    )


@dataclass(frozen=True)
class NodeClassContext:
    cluster_name: str
    node_role_name: str
    with_efs: bool
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
    if pool.kind.min_generation is not None:
        requirements.append({"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt",
                             "values": [str(pool.kind.min_generation - 1)]})
    startup_taints = [EBS_STARTUP_TAINT] + [EFS_STARTUP_TAINT] * ctx.with_efs + [FSX_STARTUP_TAINT] * ctx.with_fsx
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
                    "startupTaints": [dict(t) for t in startup_taints],
                    "expireAfter": pool.expire_after,
                    "terminationGracePeriod": TERMINATION_GRACE_PERIOD,
                },
            },
            "disruption": {
                "consolidationPolicy": pool.consolidation_policy,
                "consolidateAfter": pool.consolidate_after,
                "budgets": [{"nodes": pool.disruption_budget},
                            *([{"nodes": "0", "reasons": ["Drifted"]}] if pool.kind.training else [])],
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
            {"deviceName": "/dev/xvdb", "ebs": volume, "rootVolume": True},
        ]
    else:
        block_devices = [{"deviceName": "/dev/xvda", "ebs": volume, "rootVolume": True}]
    nodeclass: dict[str, Any] = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": pool.name, "labels": {"app.kubernetes.io/managed-by": "mlplat"}},
        "spec": {
            "role": ctx.node_role_name,
            "amiSelectorTerms": [{"alias": alias}],
            "subnetSelectorTerms": [{"tags": subnet_tags}],
            "securityGroupSelectorTerms": [{"tags": dict(discovery)}],
            # Hop limit 1: a PUT response cannot cross the extra network hop into a pod's network namespace, so
            # containers cannot fetch the node role's credentials from IMDS; pods get their own through EKS Pod
            # Identity, and host-network agents (VPC CNI, EFA plugin) still reach IMDS directly.
            "metadataOptions": {
                "httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1,
                "httpTokens": "required",
            },
            "blockDeviceMappings": block_devices,
            # Local NVMe (p4d/p5/trn1/g6e ...) is striped into one volume for images and scratch data.
            "instanceStorePolicy": "RAID0",
            "tags": {**ctx.tags, POOL_LABEL: pool.name},
        },
    }
    if pool.capacity_reservation_ids:
        nodeclass["spec"]["capacityReservationSelectorTerms"] = [{"id": i} for i in pool.capacity_reservation_ids]
    return nodepool, nodeclass


def toleration_for(pool: NodePoolSpec) -> list[dict[str, str]]:
    """Tolerations a workload needs to land on `pool` (used by add-ons and examples)."""
    return [toleration(t) for t in pool.taints]


def tolerations_for(pools: Iterable[NodePoolSpec]) -> list[dict[str, str]]:
    """Tolerations of a node agent that must run on every node of `pools`: exactly their taints, each once."""
    out: list[dict[str, str]] = []
    for pool in pools:
        out.extend(t for t in toleration_for(pool) if t not in out)
    return out


def node_agent_tolerations() -> list[dict[str, str]]:
    """For DaemonSets that must run on every Karpenter node (exporters, log shippers): every taint key the platform
    allows on a pool, whatever its value."""
    return [{"key": key, "operator": "Exists"} for key in PLATFORM_TAINT_KEYS]
