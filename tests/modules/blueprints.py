"""The deltas the module tests synthesize (few, so the suite stays fast) and helpers to read what they produce."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.synth import Synth

REPO = "https://github.com/example/mlplat.git"
REVISION = "v0.1.0"

ARGOCD = {"enable_argocd": True}
KUEUE = {"enable_kueue": True}
MLFLOW = {"enable_mlflow": True}
# Every module on, with the observability stack (monitors), an internal load balancer, custom queues over two pools
# (quotas exactly at the gpu pool's limits) and a two-instance database.
FULL = {
    "enable_argocd": True, "enable_kueue": True, "enable_mlflow": True, "enable_ai_ml_observability_stack": True,
    "argocd_internal_load_balancer": True, "argocd_load_balancer_source_cidrs": ["10.20.0.0/16", "192.168.0.0/24"],
    "nodepools": {"cpu": {"enabled": True}},
    "kueue_queues": {
        "training": {"nodepools": {"gpu": {"cpu": 1024, "memory_gib": 8192, "accelerators": 48}, "cpu": {}},
                     "weight": 3},
        "serving": {"nodepools": {"gpu": {"cpu": 512, "memory_gib": 4096, "accelerators": 16}}},
    },
    "mlflow_db_instances": 2, "mlflow_db_max_acu": 8.0, "mlflow_db_min_acu": 1.0,
}
GITOPS_KEYS = {"addons_delivery": "argocd", "argocd_manifests_repo_url": REPO, "argocd_manifests_repo_revision": REVISION}
GITOPS = {**FULL, **GITOPS_KEYS}


def addresses(stack: dict[str, Any]) -> set[str]:
    """Every resource, ephemeral resource and named output of a synthesized stack, as terraform addresses."""
    out = {f"{block}.{rtype}.{name}" for block in ("resource", "ephemeral", "data")
           for rtype, items in stack.get(block, {}).items() for name in items}
    # cdktn adds outputs for cross-stack references; the layer's own outputs are the named ones.
    out |= {f"output.{name}" for name in stack.get("output", {}) if not name.startswith("cross-stack-output-")}
    return out


def added_types(on: set[str], off: set[str]) -> Counter:
    return Counter(".".join(a.split(".")[:2]) if not a.startswith("output.") else a for a in on - off)


def one(s: Synth, stack: str, rtype: str) -> dict[str, Any]:
    found = list(s.resources(stack, rtype).values())
    assert len(found) == 1, f"expected one {rtype}, found {len(found)}"
    return {k: v for k, v in found[0].items() if k != "//"}


def parent_application(s: Synth) -> dict[str, Any]:
    parents = [o for o in s.objects("argocd-applications") if o["kind"] == "Application"]
    assert len(parents) == 1, f"expected one parent Application, found {len(parents)}"
    return parents[0]


def applications(s: Synth) -> dict[str, dict[str, Any]]:
    """The add-ons' Applications, which the parent Application applies."""
    children = parent_application(s)["spec"]["source"]["helm"]["valuesObject"]["objects"]
    return {a["metadata"]["name"]: a for a in children}
