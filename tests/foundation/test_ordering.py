"""The install (and, reversed, uninstall) order of the synthesized Kubernetes layer, against where each add-on's pods
run: nothing that needs Karpenter capacity installs before the node pools (or outlives them on destroy); controllers
that must run before any Karpenter node exists sit on the system nodes; in Argo CD mode, Helm installs only what needs
nothing but the system nodes (plus Karpenter and its pools), so every sync wave finds nodes it tolerates."""

from __future__ import annotations

from typing import Any

import pytest

from mlplat.addons import NO_PODS, NODEPOOLS, POOLS, SYSTEM
from mlplat.catalog import REGISTRY, by_name
from mlplat.catalog.modules import helm_bootstrap
from tests.modules.blueprints import GITOPS, applications
from tests.support.paths import ROOT
from tests.support.synth import synth

SYSTEM_TOLERATION = {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}
# Where each system-node add-on's pods are placed in its values (every pod-bearing part of its chart).
SYSTEM_PLACEMENT: dict[str, list[str]] = {
    "karpenter": [""],
    "external-secrets": ["", "webhook", "certController"],
    "cert-manager": ["", "webhook", "cainjector", "startupapicheck"],
    "argo-cd": ["global"],
    "kueue": ["controllerManager"],
    "metrics-server": [""],
    "aws-neuron": ["scheduler", "scheduler.customScheduler"],
    "nvidia-gpu-operator": ["operator", "node-feature-discovery.master", "node-feature-discovery.gc"],
    "kuberay-operator": [""],
    "leader-worker-set": [""],
    "kubeflow-trainer": ["manager", "jobset.controller"],
    "kserve": ["kserve.controller"],
    "ack-sagemaker": ["deployment"],
    "slurm-operator": ["operator", "webhook"],
}
POD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}
EVERYTHING = (ROOT / "blueprints" / "everything-on.tfvars").read_text()


@pytest.fixture(scope="module")
def everything():
    return synth(text=EVERYTHING)


@pytest.fixture(scope="module")
def operator():
    return synth({"enable_nvidia_gpu_operator": True, "enable_ai_ml_observability_stack": True,
                  "enable_kueue": True, "enable_argocd": True})


@pytest.fixture(scope="module")
def gitops():
    return synth(GITOPS)


def dig(values: dict[str, Any], path: str) -> dict[str, Any]:
    for part in filter(None, path.split(".")):
        values = values[part]
    return values


def dependency_closure(s, name: str) -> set[str]:
    """Every release `name` waits for, following the synthesized depends_on (what terraform orders by)."""
    releases = s.resources("kubernetes", "helm_release")
    by_id = {f"helm_release.{k}": r["name"] for k, r in releases.items()}
    by_release = {r["name"]: r for r in releases.values()}
    seen: set[str] = set()
    pending = [name]
    while pending:
        for dep in by_release[pending.pop()].get("depends_on", []):
            if by_id[dep] not in seen:
                seen.add(by_id[dep])
                pending.append(by_id[dep])
    return seen


def test_every_addon_declares_where_its_pods_run():
    for addon in REGISTRY:
        if addon.placement == NO_PODS and addon.chart is not None:
            assert addon.name in ("karpenter-crd", "kserve-crd", "slurm-operator-crds"), \
                f"{addon.name}: a chart with no pods?"


def test_nothing_on_karpenter_capacity_installs_before_the_node_pools(everything):
    releases = everything.releases()
    on_pools = [a.name for a in REGISTRY if a.placement == POOLS and a.name in releases]
    assert on_pools
    for name in on_pools:
        assert NODEPOOLS in dependency_closure(everything, name), name
    # ... and the node pools need only Karpenter, which needs only its CRDs: nothing waits on capacity it provides.
    assert dependency_closure(everything, NODEPOOLS) == {"karpenter", "karpenter-crd"}
    assert dependency_closure(everything, "karpenter") == {"karpenter-crd"}


def test_system_controllers_wait_for_no_capacity_and_sit_on_the_system_nodes(everything, operator):
    for s in (everything, operator):
        releases = s.releases()
        for addon in REGISTRY:
            if addon.placement != SYSTEM or addon.name not in releases:
                continue
            assert addon.name in SYSTEM_PLACEMENT, f"{addon.name}: record where its pods are placed"
            assert NODEPOOLS not in dependency_closure(s, addon.name), addon.name
            for path in SYSTEM_PLACEMENT[addon.name]:
                part = dig(s.values(addon.name), path)
                assert SYSTEM_TOLERATION in part["tolerations"], f"{addon.name}: {path or 'top level'}"
                on_system = part.get("nodeSelector", {}).get("mlplat.io/pool") == "system" or "system" in str(
                    part.get("affinity", ""))
                assert on_system, f"{addon.name}: {path or 'top level'} is not pinned to the system nodes"


def test_typed_object_releases_carry_no_pods(everything):
    for addon in REGISTRY:
        if addon.placement == NO_PODS and addon.chart is None and addon.name in everything.releases():
            kinds = {o["kind"] for o in everything.objects(addon.name)}
            assert not kinds & POD_KINDS, addon.name


def test_argocd_mode_bootstrap_needs_only_the_system_nodes(gitops):
    order = [a for a in REGISTRY if a.enabled(gitops.blueprint)]
    bootstrap = helm_bootstrap(order)
    registry = by_name()
    assert bootstrap == {"argo-cd", "platform-secrets", "external-secrets", "karpenter-crd", "karpenter", NODEPOOLS}
    assert {registry[n].placement for n in bootstrap} <= {SYSTEM, NO_PODS}
    assert set(gitops.releases()) == bootstrap | {"argocd-applications"}
    # The parent starts wave one after the whole bootstrap, node pools included: every wave finds Karpenter nodes.
    assert dependency_closure(gitops, "argocd-applications") == bootstrap
    apps = applications(gitops)
    assert not set(apps) & bootstrap
    pools_apps = [n for n in apps if registry[n].placement == POOLS]
    assert pools_apps and all(NODEPOOLS in registry[n].dependencies for n in pools_apps)


# API groups of the custom kinds the platform's own objects use, and the add-on whose chart installs each CRD.
CRD_OWNERS = {
    "karpenter.sh": "karpenter-crd", "karpenter.k8s.aws": "karpenter-crd",
    "monitoring.coreos.com": "kube-prometheus-stack",
    "external-secrets.io": "external-secrets",
    "cert-manager.io": "cert-manager",
    "kueue.x-k8s.io": "kueue",
    "argoproj.io": "argo-cd",
    "trainer.kubeflow.org": "kubeflow-trainer",
    "ray.io": "kuberay-operator",
    "leaderworkerset.x-k8s.io": "leader-worker-set",
    "serving.kserve.io": "kserve-crd",
}
# Built into Kubernetes: served before any add-on.
CORE_GROUPS = {"", "apps", "batch", "policy", "rbac.authorization.k8s.io", "storage.k8s.io", "scheduling.k8s.io",
               "networking.k8s.io", "admissionregistration.k8s.io"}


def test_typed_objects_install_after_the_chart_that_serves_their_kind():
    """Every object of an in-repo manifests release is of a core kind or of a CRD whose owner chart the release waits
    for (Helm would fail on a kind the API server does not serve yet)."""
    s = synth(text=EVERYTHING + 'workload_secrets = {\n  hf-token = { secret = "ml/hf-token" }\n}\n'
                                'workload_s3_access = {\n  ml-workloads = { read_buckets = ["datasets-x"] }\n}\n')
    checked = set()
    for addon in REGISTRY:
        if addon.chart is not None or addon.name not in s.releases():
            continue
        before = dependency_closure(s, addon.name)
        for obj in s.objects(addon.name):
            group = obj["apiVersion"].rpartition("/")[0]
            if group in CORE_GROUPS:
                continue
            assert group in CRD_OWNERS, f"{addon.name}: {obj['kind']} of {group}: record which chart serves it"
            assert CRD_OWNERS[group] in before, f"{addon.name} installs a {obj['kind']} before {CRD_OWNERS[group]}"
            checked.add(group)
    # The check saw the custom kinds of the workload operators and secrets, not only core ones.
    assert {"trainer.kubeflow.org", "external-secrets.io", "monitoring.coreos.com", "kueue.x-k8s.io",
            "serving.kserve.io"} <= checked
