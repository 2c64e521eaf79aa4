"""What a blueprint's platform costs per hour and per month at on-demand list prices (mlplat/prices.py), offline.

Two figures. Idle: what runs with no workloads, counted the way the modules create it (EKS control plane, the
system node group at its desired size, NAT gateways and their public IPv4 addresses, FSx capacity, Aurora's minimum
ACUs, the load balancer the platform makes, KMS keys, Secrets Manager secrets). At each pool's limit: every enabled
Karpenter pool full, on its cheapest admitted instance type. Usage-billed charges (data transfer, NAT data processing,
storage used, log ingestion, API requests) are not counted; `notes()` says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from mlplat import versions
from mlplat.versions import ACCESS_NODE_INSTANCE_TYPE
from mlplat.addons import POOLS
from mlplat.blueprint import Blueprint
from mlplat.catalog import REGISTRY
from mlplat.catalog.secrets import secret_uses
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.nodepools import NodePoolSpec
from mlplat.prices import HOURS_PER_MONTH, REGIONS, InstancePrice, Price, RegionPrices, fsx_lustre_key

# modules/kms.py: one customer managed key per platform (EKS secrets, logs, EFS, FSx, Aurora, Secrets Manager).
PLATFORM_KMS_KEYS = 1


@dataclass(frozen=True)
class CostItem:
    name: str
    count: float
    detail: str
    hourly: float | None  # None: the table has no sourced price for it in this region

    @property
    def monthly(self) -> float | None:
        return None if self.hourly is None else self.hourly * HOURS_PER_MONTH


@dataclass(frozen=True)
class PoolAtLimit:
    pool: str
    instance_type: str | None  # None: no admitted family has a price in this region
    instances: int
    binding_limit: str  # the pool limit that stops Karpenter first ("cpu", "memory" or the accelerator)
    hourly: float | None
    unpriced_families: tuple[str, ...]  # admitted families the table has no price for in this region

    @property
    def monthly(self) -> float | None:
        return None if self.hourly is None else self.hourly * HOURS_PER_MONTH


@dataclass(frozen=True)
class CostReport:
    region: str
    eks_support: str
    items: tuple[CostItem, ...]
    pools: tuple[PoolAtLimit, ...]
    notes: tuple[str, ...]

    @property
    def idle_hourly(self) -> float:
        """The priced items only; `unpriced` lists the rest."""
        return sum(i.hourly for i in self.items if i.hourly is not None)

    @property
    def idle_monthly(self) -> float:
        return self.idle_hourly * HOURS_PER_MONTH

    @property
    def unpriced(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.items if i.hourly is None)


def region_prices(region: str) -> RegionPrices:
    prices = REGIONS.get(region)
    if prices is None:
        raise MlplatError(f"region {region!r} has no price table: mlplat cost has sourced prices for "
                          f"{', '.join(REGIONS)} only; set region to one of them to compare, or add {region}'s "
                          f"prices with their sources to mlplat/prices.py", exit_code=EXIT_BAD_INPUT)
    return prices


def nat_gateway_count(bp: Blueprint) -> int:
    """modules/network.py: a NAT gateway in the first zone, and in every other zone unless single_nat_gateway."""
    return 1 if bp.single_nat_gateway else bp.zone_count


def load_balancer_count(bp: Blueprint) -> int:
    """The only load balancer the platform creates: Argo CD's optional internal NLB (mlplat/catalog/modules.py)."""
    return int(bp.enable_argocd and bp.argocd_internal_load_balancer)


def _hourly(price: Price | None, count: float) -> float | None:
    if price is None:
        return None
    per_hour = price.usd / HOURS_PER_MONTH if price.unit in ("month", "GB-month") else price.usd
    return count * per_hour


def idle_items(bp: Blueprint, prices: RegionPrices, support: str) -> tuple[CostItem, ...]:
    eks = prices.eks_extended if support == "extended" else prices.eks_standard
    # A managed node group with several On-Demand types launches the first one listed (prioritized allocation).
    system_type = bp.system_node_instance_types[0]
    system = prices.instances.get(system_type)
    nats = nat_gateway_count(bp)
    items = [
        CostItem("EKS control plane", 1, f"Kubernetes {bp.eks_cluster_version}, {support} support", _hourly(eks, 1)),
        CostItem("system nodes", bp.system_node_desired_size,
                 f"{bp.system_node_desired_size} x {system_type} (desired size)",
                 None if system is None else bp.system_node_desired_size * system.usd_per_hour),
        CostItem("NAT gateways", nats, f"{nats} ({'single_nat_gateway' if bp.single_nat_gateway else 'one per zone'})",
                 _hourly(prices.nat_gateway, nats)),
        CostItem("public IPv4 addresses", nats, f"{nats} (one Elastic IP per NAT gateway)",
                 _hourly(prices.public_ipv4, nats)),
    ]
    if bp.create_cluster_access_node:
        node = prices.instances.get(ACCESS_NODE_INSTANCE_TYPE)
        items.append(CostItem("cluster access node", 1, f"1 x {ACCESS_NODE_INSTANCE_TYPE} (SSM-managed)",
                              None if node is None else node.usd_per_hour))
    if bp.enable_efs:
        items.append(CostItem("EFS", 0, "0 GB: storage is billed per GB used", 0.0))
    if bp.enable_fsx:
        tier = "" if bp.fsx_deployment_type == "SCRATCH_2" else f" at {bp.fsx_throughput} MB/s/TiB"
        items.append(CostItem("FSx for Lustre", bp.fsx_storage_capacity,
                              f"{bp.fsx_storage_capacity} GiB {bp.fsx_deployment_type}{tier}",
                              _hourly(prices.fsx_lustre.get(fsx_lustre_key(bp.fsx_deployment_type, bp.fsx_throughput)),
                                      bp.fsx_storage_capacity)))
    if bp.enable_mlflow:
        acus = bp.mlflow_db_instances * bp.mlflow_db_min_acu
        items.append(CostItem("Aurora Serverless v2 (MLflow)", acus,
                              f"{bp.mlflow_db_instances} x {bp.mlflow_db_min_acu:g} ACU (minimum capacity)",
                              _hourly(prices.aurora_serverless_v2_acu, acus)))
    if bp.enable_slurm:
        # One serverless writer (modules/slurm_aws.py); Aurora's ACU-hour rate is the same for the MySQL- and
        # PostgreSQL-compatible editions (Aurora Standard).
        items.append(CostItem("Aurora Serverless v2 (Slurm accounting)", bp.slurm_db_min_acu,
                              f"1 x {bp.slurm_db_min_acu:g} ACU (minimum capacity)",
                              _hourly(prices.aurora_serverless_v2_acu, bp.slurm_db_min_acu)))
    if bp.enable_airflow:
        # One serverless writer (modules/airflow_aws.py).
        items.append(CostItem("Aurora Serverless v2 (Airflow metadata)", bp.airflow_db_min_acu,
                              f"1 x {bp.airflow_db_min_acu:g} ACU (minimum capacity)",
                              _hourly(prices.aurora_serverless_v2_acu, bp.airflow_db_min_acu)))
    if (lbs := load_balancer_count(bp)):
        items.append(CostItem("network load balancers", lbs, f"{lbs} (Argo CD, internal)",
                              _hourly(prices.network_load_balancer, lbs)))
    items.append(CostItem("KMS customer managed keys", PLATFORM_KMS_KEYS, f"{PLATFORM_KMS_KEYS} (platform key)",
                          _hourly(prices.kms_key, PLATFORM_KMS_KEYS)))
    secrets = secret_uses(bp)  # modules/secrets.py: one Secrets Manager secret per generated credential
    if secrets:
        items.append(CostItem("Secrets Manager secrets", len(secrets), f"{len(secrets)} generated credentials",
                              _hourly(prices.secret, len(secrets))))
    return tuple(items)


def _limits(pool: NodePoolSpec) -> list[tuple[str, float, str]]:
    """(limit name, pool limit, InstancePrice attribute) for every limit Karpenter enforces on the pool."""
    limits = [("cpu", pool.max_cpu, "vcpus"), ("memory", pool.max_memory_gib, "memory_gib")]
    if pool.kind.accelerator:
        limits.append((pool.kind.accelerator, pool.max_accelerators, "accelerators"))
    return limits


def instances_at_limit(pool: NodePoolSpec, itype: InstancePrice) -> tuple[int, str]:
    """How many nodes of one type the pool holds when full, and the limit that stops it. Karpenter launches only
    instance types that fit the pool's remaining limits, so a full pool holds floor(limit / per-node capacity) of the
    tightest limit; memory is counted at EC2's nominal size (Karpenter's slightly smaller view could fit a node
    more only where memory binds)."""
    fits = [(math.floor(limit / getattr(itype, attr)), name) for name, limit, attr in _limits(pool)
            if getattr(itype, attr)]
    return min(fits)


def pool_at_limit(pool: NodePoolSpec, prices: RegionPrices) -> PoolAtLimit:
    """The pool full on its cheapest admitted on-demand type: the lowest price per unit of what the pool is for (an
    accelerator, or a vCPU for CPU pools), among priced types that fit in the pool at least once; ties go to the
    smaller node, which fills the limit most closely."""
    candidates = [i for i in prices.instances.values() if i.family in pool.instance_families]
    unpriced = tuple(f for f in pool.instance_families if f not in {i.family for i in candidates})
    unit = "accelerators" if pool.kind.accelerator else "vcpus"
    fitting = [i for i in candidates if getattr(i, unit) and instances_at_limit(pool, i)[0] >= 1]
    if not fitting:
        return PoolAtLimit(pool.name, None, 0, "", None, unpriced)
    cheapest = min(fitting, key=lambda i: (i.usd_per_hour / getattr(i, unit), i.vcpus, i.instance_type))
    count, binding = instances_at_limit(pool, cheapest)
    return PoolAtLimit(pool.name, cheapest.instance_type, count, binding, count * cheapest.usd_per_hour, unpriced)


def notes(bp: Blueprint) -> tuple[str, ...]:
    out = ["not counted: data transfer, NAT gateway data processing, storage used (EFS, S3, EBS, Aurora), Aurora "
           "I/O, CloudWatch logs, API requests",
           f"not counted: the system nodes' gp3 root volumes ({bp.system_node_desired_size} x "
           f"{bp.system_node_disk_gib} GiB), no sourced EBS price in the table",
           "KMS: each of the key's first two yearly rotations adds $1/month"]
    on_pools = [a.name for a in REGISTRY if a.enabled(bp) and a.placement == POOLS]
    if on_pools:
        out.append(f"not counted: Karpenter nodes of the general pool that {', '.join(on_pools)} keep running "
                   f"(idle counts no Karpenter node)")
    out.append(f"pools: on-demand list prices in {bp.region}, whatever the pool's capacity types (spot and "
               f"reservations cost less)")
    return tuple(out)


def estimate(bp: Blueprint, today: date) -> CostReport:
    prices = region_prices(bp.region)
    # The same support calendar `mlplat validate` warns from (Blueprint._warnings_version).
    support = versions.eks_support(bp.eks_cluster_version, today)
    return CostReport(
        region=bp.region, eks_support=support, items=idle_items(bp, prices, support),
        pools=tuple(pool_at_limit(p, prices) for p in bp.enabled_pools), notes=notes(bp),
    )
