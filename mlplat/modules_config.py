"""Blueprint keys of the toggleable platform modules (Argo CD, Kueue, MLflow) and of how add-ons are delivered."""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from mlplat.nodepools import POOL_KINDS, NodePoolSpec
from mlplat.schema import acu_range_problems, field

DELIVERY_MODES = ("helm", "argocd")
MANIFESTS_CHART_PATH = "charts/mlplat-manifests"
_QUEUE_NAME = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# The platform's own services run on the general pool; batch queues default to every other enabled pool.
PLATFORM_POOL = "general"


@dataclass(frozen=True)
class KueuePoolQuota:
    """A queue's nominal quota on one pool; a key left out takes the pool's whole limit."""

    cpu: int | None = field(None, "Nominal vCPUs; default: the pool's max_cpu.", minimum=0)
    memory_gib: int | None = field(None, "Nominal memory (GiB); default: the pool's max_memory_gib.", minimum=0)
    accelerators: int | None = field(
        None, "Nominal GPUs / Neuron devices; default: the pool's max_accelerators.", minimum=0,
    )
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True)
class KueueQueue:
    nodepools: Mapping[str, KueuePoolQuota] = field(
        MappingProxyType({}), "Pools (ResourceFlavors) the queue admits onto, in order of preference, with its "
        "nominal quota on each.", keys=tuple(POOL_KINDS), key_noun="node pool",
    )
    weight: int = field(1, "Fair-sharing weight: a larger share of the cohort's unused quota.", minimum=0, maximum=1000)
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


@dataclass(frozen=True)
class QueueQuota:
    pool: NodePoolSpec
    cpu: int
    memory_gib: int
    accelerators: int


@dataclass(frozen=True)
class QueueSpec:
    """A ClusterQueue with defaults applied: its nominal quota on each pool, in order of preference."""

    name: str
    weight: int
    quotas: tuple[QueueQuota, ...]


# Pool limit -> the quota it bounds.
_LIMITS = (("max_cpu", "cpu"), ("max_memory_gib", "memory_gib"), ("max_accelerators", "accelerators"))


_ARGOCD_KEYS = ("argocd_internal_load_balancer", "argocd_load_balancer_source_cidrs")
_GITOPS_KEYS = ("argocd_manifests_repo_url", "argocd_manifests_repo_revision", "argocd_manifests_repo_path")
_MLFLOW_KEYS = ("mlflow_db_min_acu", "mlflow_db_max_acu", "mlflow_db_instances", "mlflow_db_backup_retention_days",
                "mlflow_db_deletion_protection")


@dataclass(frozen=True)
class ModuleKeys:
    enable_argocd: bool = field(False, "Install Argo CD (admin credentials generated into Secrets Manager).")
    addons_delivery: str = field(
        "helm", "How add-ons reach the cluster: 'helm' installs each as a Helm release; 'argocd' installs Argo CD "
        "(and what it needs) with Helm and every other add-on as an Argo CD Application (same chart, version and "
        "values), synced in sync-wave order with prune and self-heal.", choices=DELIVERY_MODES,
    )
    argocd_internal_load_balancer: bool = field(
        False, "Expose the Argo CD server on an internal AWS network load balancer (default: ClusterIP only).",
    )
    argocd_load_balancer_source_cidrs: tuple[str, ...] = field(
        (), "CIDRs allowed through the internal load balancer; empty allows the VPC CIDR only.", unique=True,
    )
    argocd_manifests_repo_url: str | None = field(
        None, "Git repository holding charts/mlplat-manifests (this project or a mirror), from which Argo CD renders "
        "the platform's own objects when addons_delivery = 'argocd'.",
        pattern=r"(https://|ssh://|git@)\S+", pattern_doc="a Git URL such as 'https://github.com/example/mlplat.git'",
    )
    argocd_manifests_repo_revision: str | None = field(
        None, "Tag or commit of argocd_manifests_repo_url to render (pin it: a branch moves under the platform).",
        pattern=r"[A-Za-z0-9][A-Za-z0-9._/-]*", pattern_doc="a tag or commit such as 'v0.1.0'",
    )
    argocd_manifests_repo_path: str = field(
        MANIFESTS_CHART_PATH, "Path of the mlplat-manifests chart inside argocd_manifests_repo_url.",
        pattern=r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*",
        pattern_doc="a relative path such as 'charts/mlplat-manifests'",
    )
    enable_kueue: bool = field(
        False, "Install Kueue: a ResourceFlavor per enabled pool, ClusterQueues from kueue_queues, LocalQueues in the "
        "workload namespaces.",
    )
    kueue_queues: Mapping[str, KueueQueue] = field(
        MappingProxyType({}), "Kueue ClusterQueues by name (one cohort, borrowing and fair sharing), each with a "
        "LocalQueue of the same name in every workload namespace; empty: one queue per enabled pool except general, "
        "with the pool's whole limits as quota.",
        key_pattern=_QUEUE_NAME, key_pattern_doc="a lowercase DNS label such as 'training'",
    )
    enable_mlflow: bool = field(
        False, "Install the MLflow tracking server: S3 artifacts, Aurora PostgreSQL backend store, authentication on.",
    )
    mlflow_db_min_acu: float = field(
        0.5, "Aurora Serverless v2 minimum capacity (ACUs) of the MLflow database.", minimum=0.5, maximum=256,
    )
    mlflow_db_max_acu: float = field(
        4.0, "Aurora Serverless v2 maximum capacity (ACUs) of the MLflow database.", minimum=1, maximum=256,
    )
    mlflow_db_instances: int = field(
        1, "Aurora instances of the MLflow database (2 or more: a reader in another AZ to fail over to).",
        minimum=1, maximum=3,
    )
    mlflow_db_backup_retention_days: int = field(
        7, "Days of automated backups (point-in-time restore) of the MLflow database.", minimum=1, maximum=35,
    )
    mlflow_db_deletion_protection: bool = field(
        True, "Refuse to delete the MLflow database; set false before destroying the platform.",
    )

    def _rules_modules(self) -> list[tuple[tuple[str, ...], str]]:
        return [*self._argocd_problems(), *self._kueue_problems(), *self._mlflow_problems()]

    def _argocd_problems(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        gitops = self.addons_delivery == "argocd"
        if gitops and not self.enable_argocd:
            out.append((("addons_delivery",), "'argocd' delivers add-ons through Argo CD: set enable_argocd = true or "
                                              "use addons_delivery = \"helm\""))
        if gitops and self.argocd_manifests_repo_url is None:
            out.append((("addons_delivery",), "'argocd' needs argocd_manifests_repo_url: the Git repository holding "
                                              f"{MANIFESTS_CHART_PATH} (this project or a mirror of it)"))
        if gitops and self.argocd_manifests_repo_revision is None:
            out.append((("addons_delivery",), "'argocd' needs argocd_manifests_repo_revision: the tag or commit of "
                                              "argocd_manifests_repo_url to render"))
        for key in _ARGOCD_KEYS:
            if key in self._explicit and not self.enable_argocd:
                out.append(((key,), "has no effect without enable_argocd = true; set it or remove this key"))
        for key in _GITOPS_KEYS:
            if key in self._explicit and not gitops:
                out.append(((key,), "has no effect unless addons_delivery = \"argocd\"; set it or remove this key"))
        if self.argocd_load_balancer_source_cidrs and not self.argocd_internal_load_balancer:
            out.append((("argocd_load_balancer_source_cidrs",),
                        "has no effect without argocd_internal_load_balancer = true; set it or remove this key"))
        for i, cidr in enumerate(self.argocd_load_balancer_source_cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                out.append((("argocd_load_balancer_source_cidrs", f"[{i}]"),
                            f"expected a CIDR such as '10.0.0.0/8', got {cidr!r}"))
        return out

    def _kueue_problems(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        if self.kueue_queues and not self.enable_kueue:
            out.append((("kueue_queues",), "has no effect without enable_kueue = true; set it or remove this key"))
        enabled = {p.name: p for p in self.enabled_pools}  # type: ignore[attr-defined]
        for qname, queue in self.kueue_queues.items():
            if not queue.nodepools:
                out.append((("kueue_queues", qname, "nodepools"), "expected at least one node pool"))
            for pool_name, quota in queue.nodepools.items():
                path = ("kueue_queues", qname, "nodepools", pool_name)
                if pool_name not in enabled:
                    out.append((path, f"the {pool_name} pool is not enabled; enable it (nodepools.{pool_name}.enabled "
                                      f"= true) or remove it from this queue"))
                elif quota.accelerators is not None and enabled[pool_name].kind.accelerator is None:
                    out.append((path + ("accelerators",), f"the {pool_name} pool has no accelerators; remove "
                                                          f"accelerators"))
        if out:
            return out
        if self.enable_kueue and not self.kueue_queue_specs:
            out.append((("enable_kueue",), "no queue to create: enable a pool for batch work (" +
                        ", ".join(p for p in POOL_KINDS if p != PLATFORM_POOL) + ") or declare kueue_queues"))
        for pool in enabled.values():
            for limit_key, quota_key in _LIMITS:
                shares = [(q.name, getattr(quota, quota_key)) for q in self.kueue_queue_specs for quota in q.quotas
                          if quota.pool.name == pool.name]
                total, limit = sum(s for _, s in shares), getattr(pool, limit_key)
                if total > limit:
                    parts = ", ".join(f"{name}: {share}" for name, share in shares)
                    out.append((("kueue_queues",),
                                f"the queues' quotas on the {pool.name} pool add up to {total} ({parts}), more than "
                                f"its {limit_key} of {limit}; lower the quotas or raise nodepools.{pool.name}."
                                f"{limit_key}"))
        return out

    def _mlflow_problems(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        for key in _MLFLOW_KEYS:
            if key in self._explicit and not self.enable_mlflow:
                out.append(((key,), "has no effect without enable_mlflow = true; set it or remove this key"))
        return out + acu_range_problems(self, "mlflow_db")

    @property
    def kueue_queue_specs(self) -> tuple[QueueSpec, ...]:
        """The ClusterQueues to create; only meaningful once the blueprint passed its rules."""
        pools = {p.name: p for p in self.enabled_pools}  # type: ignore[attr-defined]
        if not self.kueue_queues:
            return tuple(QueueSpec(p.name, 1, (QueueQuota(p, p.max_cpu, p.max_memory_gib, p.max_accelerators),))
                         for p in pools.values() if p.name != PLATFORM_POOL)
        specs = []
        for name, queue in self.kueue_queues.items():
            quotas = []
            for pool_name, given in queue.nodepools.items():
                pool = pools.get(pool_name)
                if pool is None:
                    continue  # reported by the rules
                quotas.append(QueueQuota(pool, *(getattr(pool, limit) if getattr(given, key) is None
                                                  else getattr(given, key) for limit, key in _LIMITS)))
            specs.append(QueueSpec(name, queue.weight, tuple(quotas)))
        return tuple(specs)
