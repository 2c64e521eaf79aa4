"""Kueue: pinned with metrics on, a ResourceFlavor per enabled pool, ClusterQueues in one fair-sharing cohort with
quotas from the pools and the blueprint, LocalQueues in the workload namespaces, priorities, job integrations only
for installed operators, and an example Job that goes through a LocalQueue."""

from __future__ import annotations

import re


import pytest
import yaml

from mlplat import versions
from mlplat.blueprint import parse_text
from mlplat.catalog import REGISTRY, by_name
from mlplat.catalog.modules import KUEUE_FRAMEWORKS, kueue_frameworks
from mlplat.nodepools import toleration_for
from tests.accelerators.support import ALL_POOLS
from tests.modules.blueprints import FULL, KUEUE
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import ROOT, reference
from tests.support.synth import blueprint_text, synth

LABELS = {"app.kubernetes.io/managed-by": "mlplat"}
IN_WORKLOAD_NAMESPACES = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                "values": ["ml-workloads"]}]}
EXAMPLE = ROOT / "examples" / "kueue" / "gpu-job.yaml"


@pytest.fixture(scope="module")
def kueue_only():
    return synth(KUEUE)


@pytest.fixture(scope="module")
def all_pools_kueue():
    return synth(ALL_POOLS)


@pytest.fixture(scope="module")
def full():
    return synth(FULL)


def by_kind(objects, kind):
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o["kind"] == kind}


def test_release_is_pinned_on_the_system_nodes_with_a_v1beta2_configuration(kueue_only):
    release = kueue_only.releases()["kueue"]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "kueue", "oci://registry.k8s.io/kueue/charts", "0.19.2", "kueue-system")
    assert versions.CHARTS["kueue"].version == chart_version("kueue")
    values = kueue_only.values("kueue")
    config = yaml.safe_load(values["managerConfig"].pop("controllerManagerConfigYaml"))
    assert config == {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2", "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        "metrics": {"bindAddress": ":8443", "enableClusterQueueResources": True},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "clientConnection": {"qps": 300, "burst": 500},
        "integrations": {"frameworks": ["batch/job", "pod"]},
        # Only the users' namespaces: platform Helm hooks never wait on Kueue's webhooks (audit S11).
        "managedJobsNamespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ml-workloads"]}]},
        "fairSharing": {"preemptionStrategies": ["LessThanOrEqualToFinalShare", "LessThanInitialShare"]},
        "resources": {"excludeResourcePrefixes": ["ephemeral-storage"]},
    }
    assert values == {
        "managerConfig": {},
        "controllerManager": {
            "replicas": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "nodeSelector": {"mlplat.io/pool": "system"},
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]},
        "enablePrometheus": False, "enableKueueViz": False,
    }
    assert list(unknown_keys(kueue_only.values("kueue"), chart_defaults("kueue"))) == []


RAY = ["ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice"]
LWS = ["leaderworkerset.x-k8s.io/leaderworkerset"]
TRAINER = ["trainer.kubeflow.org/trainjob", "jobset.x-k8s.io/jobset"]


@pytest.mark.parametrize(("delta", "frameworks"), [
    ({}, ["batch/job", "pod"]),
    ({"enable_kuberay_operator": True}, ["batch/job", "pod", *RAY]),
    ({"enable_leader_worker_set": True}, ["batch/job", "pod", *LWS]),
    ({"enable_kubeflow_trainer": True}, ["batch/job", "pod", *TRAINER]),
    ({"enable_kuberay_operator": True, "enable_leader_worker_set": True, "enable_kubeflow_trainer": True},
     ["batch/job", "pod", *RAY, *TRAINER, *LWS]),
])
def test_job_integrations_are_exactly_the_installed_operators(delta, frameworks):
    bp = parse_text(blueprint_text(delta), "bp.tfvars")
    assert kueue_frameworks(bp, REGISTRY) == frameworks


def test_every_integration_is_one_kueue_knows_and_its_operator_is_an_add_on():
    """Names as the pinned Kueue chart lists them (commented entries included: Kueue knows those too), and each
    operator named is a registered add-on, so no integration is switched on by an operator that cannot exist."""
    text = reference("chart-values", "kueue", "values.yaml").read_text()
    known = set(re.findall(r'^\s*#?\s*- "([a-z0-9./-]+)"', text, re.M))
    assert {"batch/job", "ray.io/rayjob", "leaderworkerset.x-k8s.io/leaderworkerset"} <= known  # the parse works
    assert {framework for framework, _ in KUEUE_FRAMEWORKS} <= known
    assert {operator for _, operator in KUEUE_FRAMEWORKS if operator} <= set(by_name())


def test_a_flavor_per_enabled_pool_with_its_exact_labels_and_tolerations(full, kueue_only):
    for s in (full, kueue_only):
        flavors = by_kind(s.objects("kueue-queues"), "ResourceFlavor")
        assert set(flavors) == {(None, p.name) for p in s.blueprint.enabled_pools}
        for pool in s.blueprint.enabled_pools:
            assert flavors[(None, pool.name)]["spec"] == {"nodeLabels": pool.labels,
                                                          "tolerations": toleration_for(pool)}
    assert {n for _, n in by_kind(full.objects("kueue-queues"), "ResourceFlavor")} == {"general", "cpu", "gpu"}


def test_default_queues_one_per_batch_pool_with_the_pools_limits(kueue_only):
    objects = kueue_only.objects("kueue-queues")
    [(_, gpu)] = by_kind(objects, "ClusterQueue").items()
    assert gpu == {
        "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue", "metadata": {"name": "gpu", "labels": LABELS},
        "spec": {
            "cohortName": "mlplat", "namespaceSelector": IN_WORKLOAD_NAMESPACES, "queueingStrategy": "BestEffortFIFO",
            "resourceGroups": [{"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": [
                {"name": "gpu", "resources": [{"name": "cpu", "nominalQuota": 1536},
                                              {"name": "memory", "nominalQuota": "12288Gi"},
                                              {"name": "nvidia.com/gpu", "nominalQuota": 64}]}]}],
            "preemption": {"withinClusterQueue": "LowerPriority", "reclaimWithinCohort": "Any"},
            "fairSharing": {"weight": 1},
        },
    }
    assert by_kind(objects, "LocalQueue") == {("ml-workloads", "gpu"): {
        "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue",
        "metadata": {"name": "gpu", "namespace": "ml-workloads", "labels": LABELS}, "spec": {"clusterQueue": "gpu"}}}
    assert by_kind(objects, "Cohort") == {(None, "mlplat"): {
        "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Cohort", "metadata": {"name": "mlplat", "labels": LABELS},
        "spec": {}}}


def test_blueprint_queues_share_one_cohort_and_borrow(full):
    queues = by_kind(full.objects("kueue-queues"), "ClusterQueue")
    assert set(queues) == {(None, "training"), (None, "serving")}
    training = queues[(None, "training")]["spec"]
    assert training["resourceGroups"] == [{"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": [
        {"name": "gpu", "resources": [{"name": "cpu", "nominalQuota": 1024},
                                      {"name": "memory", "nominalQuota": "8192Gi"},
                                      {"name": "nvidia.com/gpu", "nominalQuota": 48}]},
        {"name": "cpu", "resources": [{"name": "cpu", "nominalQuota": 2000},
                                      {"name": "memory", "nominalQuota": "8000Gi"},
                                      {"name": "nvidia.com/gpu", "nominalQuota": 0}]}]}]
    assert training["fairSharing"] == {"weight": 3}
    # One cohort, no borrowing limit: unused quota of one queue is lent to the others, reclaimed by fair share.
    assert {q["spec"]["cohortName"] for q in queues.values()} == {"mlplat"}
    assert not any("borrowingLimit" in r or "lendingLimit" in r for q in queues.values()
                   for g in q["spec"]["resourceGroups"] for f in g["flavors"] for r in f["resources"])
    gpu_total = sum(r["nominalQuota"] for q in queues.values() for g in q["spec"]["resourceGroups"]
                    for f in g["flavors"] if f["name"] == "gpu" for r in f["resources"] if r["name"] == "nvidia.com/gpu")
    assert gpu_total == 64  # exactly the gpu pool's max_accelerators
    assert set(by_kind(full.objects("kueue-queues"), "LocalQueue")) == {("ml-workloads", "training"),
                                                                        ("ml-workloads", "serving")}


def test_workload_priority_classes(kueue_only):
    classes = by_kind(kueue_only.objects("kueue-queues"), "WorkloadPriorityClass")
    assert {n: c["value"] for (_, n), c in classes.items()} == {"high": 1000, "normal": 100, "low": 10}


def test_workload_namespaces_exist_and_survive_their_release(kueue_only):
    assert kueue_only.objects("workload-namespaces") == [{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "ml-workloads", "labels": LABELS,
                     "annotations": {"helm.sh/resource-policy": "keep",
                                     "argocd.argoproj.io/sync-options": "Delete=false"}}}]
    deps = kueue_only.releases()["kueue-queues"]["depends_on"]
    assert sorted(d.split(".")[1].rsplit("_", 2)[0] for d in deps) == ["kueue", "workload-namespaces"]


def kueue_monitors(s) -> list[dict]:
    return [o for o in s.objects("monitoring-objects") if o["kind"] == "ServiceMonitor"
            and "kueue-system" in o["spec"].get("namespaceSelector", {}).get("matchNames", [])]


def test_metrics_scraped_once_by_the_observability_stack(full, kueue_only):
    [monitor] = kueue_monitors(full)
    port = chart_defaults("kueue")["metricsService"]["ports"][0]
    assert monitor["spec"]["endpoints"][0]["port"] == port["name"] == "https"
    k8s.validate(monitor)
    assert "monitoring-objects" not in kueue_only.releases()  # no Prometheus, no monitor


def test_every_kueue_object_validates_against_the_v1beta2_crds(full, kueue_only):
    for s in (full, kueue_only):
        objects = s.objects("kueue-queues") + s.objects("workload-namespaces")
        assert {o["apiVersion"] for o in objects if o["kind"] != "Namespace"} == {"kueue.x-k8s.io/v1beta2"}
        for obj in objects:
            k8s.validate(obj)


def test_example_job_goes_through_an_existing_local_queue(kueue_only):
    job = yaml.safe_load(EXAMPLE.read_text())
    k8s.validate(job)
    labels = job["metadata"]["labels"]
    local_queues = by_kind(kueue_only.objects("kueue-queues"), "LocalQueue")
    assert (job["metadata"]["namespace"], labels["kueue.x-k8s.io/queue-name"]) in local_queues
    classes = {n for _, n in by_kind(kueue_only.objects("kueue-queues"), "WorkloadPriorityClass")}
    assert labels["kueue.x-k8s.io/priority-class"] in classes
    assert job["spec"]["suspend"] is True  # Kueue unsuspends it on admission
    queue = by_kind(kueue_only.objects("kueue-queues"), "ClusterQueue")[(None, labels["kueue.x-k8s.io/queue-name"])]
    covered = set(queue["spec"]["resourceGroups"][0]["coveredResources"])
    requests = job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert set(requests) <= covered


def test_efa_pools_queue_their_efa_interfaces(all_pools_kueue):
    """A pod asking for vpc.amazonaws.com/efa is admitted only by a queue covering it: the EFA pools' queues cover
    as many interfaces as their accelerators can come with on the pool's best-connected family (p5: 4 per GPU)."""
    queues = by_kind(all_pools_kueue.objects("kueue-queues"), "ClusterQueue")
    groups = {name: q["spec"]["resourceGroups"] for (_, name), q in queues.items()}
    assert groups["gpu-efa"] == [{"coveredResources": ["cpu", "memory", "nvidia.com/gpu", "vpc.amazonaws.com/efa"],
                                  "flavors": [{"name": "gpu-efa", "resources": [
                                      {"name": "cpu", "nominalQuota": 3072},
                                      {"name": "memory", "nominalQuota": "32768Gi"},
                                      {"name": "nvidia.com/gpu", "nominalQuota": 128},
                                      {"name": "vpc.amazonaws.com/efa", "nominalQuota": 512}]}]}]
    # trn1n and trn2 carry one interface per device, trn1 half of one: 256 devices, 256 interfaces.
    neuron = {r["name"]: r["nominalQuota"] for r in groups["neuron"][0]["flavors"][0]["resources"]}
    assert neuron["vpc.amazonaws.com/efa"] == 256 and neuron["aws.amazon.com/neuron"] == 256
    # Pools without the EFA device plugin never cover it; Kueue no longer ignores it.
    assert "vpc.amazonaws.com/efa" not in groups["gpu"][0]["coveredResources"]
    assert "vpc.amazonaws.com/efa" not in groups["inferentia1"][0]["coveredResources"]
    config = yaml.safe_load(all_pools_kueue.values("kueue")["managerConfig"]["controllerManagerConfigYaml"])
    assert config["resources"] == {"excludeResourcePrefixes": ["ephemeral-storage"]}
