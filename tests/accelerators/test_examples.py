"""The example workloads: valid manifests, each pod fitting exactly one node pool (the intended one), mounting claims
the platform creates, and documented in examples/README.md."""

from __future__ import annotations

import pytest
import yaml

from mlplat.blueprint import parse_text
from mlplat.catalog.accelerators import NEURON_SCHEDULER
from tests.accelerators.support import ALL_POOLS, fits, pod_spec, pod_specs
from tests.support import hcl, k8s
from tests.support.paths import ROOT
from tests.support.synth import CANONICAL_TEXT, synth

EXAMPLES = ROOT / "examples"
# example file -> (workload kind/name, the pool it is meant for)
INTENDED = {
    "gpu-multi-gpu-training.yaml": ("Job", "ddp-single-node", "gpu"),
    "gpu-efa-distributed-training.yaml": ("Job", "efa-ddp", "gpu-efa"),
    "neuron-training.yaml": ("Job", "neuron-mlp", "neuron"),
    "inferentia-serving.yaml": ("Deployment", "resnet50-inf1", "inferentia1"),
    "ray-train-gpu.yaml": ("RayJob", "ray-train-gpu", "gpu"),
    "ray-serve-vllm-gpu.yaml": ("RayService", "qwen-serve", "gpu"),
    "vllm-multi-node-lws.yaml": ("LeaderWorkerSet", "vllm-multi-node", "gpu-efa"),
    "trainjob-gpu-efa.yaml": ("TrainJob", "ddp-efa", "gpu-efa"),
    "trainjob-neuron.yaml": ("TrainJob", "neuron-ddp", "neuron"),
    "nccl-allreduce-efa.yaml": ("TrainJob", "nccl-allreduce", "gpu-efa"),
    "kserve-vllm-gpu.yaml": ("InferenceService", "qwen-gpu", "gpu"),
    "kserve-neuron.yaml": ("InferenceService", "qwen-inf2", "neuron"),
    "bentoml-otel/kubernetes.yaml": ("Deployment", "text-stats", "cpu"),
}
# Examples that are a directory (the service's code and build files next to its manifest): manifest -> directory.
DIRECTORIES = {"bentoml-otel/kubernetes.yaml": "bentoml-otel/"}
# Examples whose work runs outside the cluster (no pods, no pool), each tested with its module.
OUTSIDE_THE_CLUSTER = {"ack-sagemaker-trainingjob.yaml": "tests/modules/test_ack_sagemaker.py"}
# Examples that are no manifest to apply (an Airflow DAG folder), each tested with its module.
NOT_MANIFESTS = {"airflow/dags/": "tests/modules/test_airflow.py"}
# Every pool, and the operators and Kueue integrations the examples need.
WORKLOADS = {**ALL_POOLS, "enable_kuberay_operator": True, "enable_leader_worker_set": True,
             "enable_kubeflow_trainer": True, "enable_kserve": True}
# The Kueue integration that admits each queued kind.
FRAMEWORK = {"Job": "batch/job", "RayJob": "ray.io/rayjob", "RayService": "ray.io/rayservice",
             "LeaderWorkerSet": "leaderworkerset.x-k8s.io/leaderworkerset", "TrainJob": "trainer.kubeflow.org/trainjob",
             # KServe's predictor Deployment carries the InferenceService's labels (RawDeployment).
             "InferenceService": "deployment"}


def runtimes():
    """The platform's ClusterTrainingRuntimes and ClusterServingRuntimes with every pool on, by name."""
    s = synth(WORKLOADS)
    return {o["metadata"]["name"]: o for release in ("trainer-runtimes", "serving-runtimes")
            for o in s.objects(release)}


def specs(name):
    return pod_specs(workload(name), runtimes())


@pytest.fixture(scope="module")
def pools():
    return parse_text(CANONICAL_TEXT + hcl.render(ALL_POOLS), "bp.tfvars").enabled_pools


def docs(name):
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def workload(name):
    kind, obj_name, _ = INTENDED[name]
    return next(d for d in docs(name) if (d["kind"], d["metadata"]["name"]) == (kind, obj_name))


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(
        n for n in [*INTENDED, *OUTSIDE_THE_CLUSTER] if n not in DIRECTORIES)
    assert set(DIRECTORIES) <= set(INTENDED)
    for manifest, directory in DIRECTORIES.items():
        assert manifest.startswith(directory) and (EXAMPLES / manifest).is_file()


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_example_validates(name):
    for doc in docs(name):
        k8s.validate(doc)
        assert doc["metadata"]["namespace"] == "ml-workloads", doc["metadata"]["name"]


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_example_fits_exactly_its_pool(name, pools):
    """Every pod of the workload (each role of a Ray cluster or a LeaderWorkerSet group too) fits the intended pool
    and no other."""
    assert len(pools) == 6
    by_role = specs(name)
    assert by_role
    assert {role: [p.name for p in pools if fits(spec, p)] for role, spec in by_role.items()} == {
        role: [INTENDED[name][2]] for role in by_role}


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_example_mounts_what_exists(name):
    objects = docs(name)
    provided = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in synth(ALL_POOLS).objects("shared-volumes")
                if o["kind"] == "PersistentVolumeClaim"}
    for role, spec in specs(name).items():
        claims = {v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])
                  if "persistentVolumeClaim" in v}
        assert {("ml-workloads", c) for c in claims} <= provided, role
        config_maps = {v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
        assert config_maps <= {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}, role
        mounted = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
        assert mounted == {v["name"] for v in spec.get("volumes", [])}, role


QUEUED = sorted(n for n in INTENDED if "kueue.x-k8s.io/queue-name" in workload(n)["metadata"].get("labels", {}))


def test_the_operator_examples_go_through_kueue():
    assert {"ray-train-gpu.yaml", "ray-serve-vllm-gpu.yaml", "vllm-multi-node-lws.yaml",
            "trainjob-gpu-efa.yaml", "trainjob-neuron.yaml", "kserve-vllm-gpu.yaml",
            "kserve-neuron.yaml"} <= set(QUEUED)


@pytest.mark.parametrize("name", QUEUED)
def test_a_queued_example_is_admitted_by_a_queue_covering_everything_it_requests(name):
    """Its LocalQueue exists in its namespace, Kueue's integration for its kind is on, the ClusterQueue has a flavor
    for the intended pool, and every resource any of its pods requests is covered (or one Kueue is told to ignore:
    a request for a resource no queue covers is never admitted)."""
    s = synth(WORKLOADS)
    obj = workload(name)
    labels = obj["metadata"]["labels"]
    objects = s.objects("kueue-queues")
    local_queues = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects if o["kind"] == "LocalQueue"}
    local = local_queues[(obj["metadata"]["namespace"], labels["kueue.x-k8s.io/queue-name"])]
    [queue] = [o for o in objects if o["kind"] == "ClusterQueue" and o["metadata"]["name"] == local["spec"]["clusterQueue"]]
    assert labels["kueue.x-k8s.io/priority-class"] in {o["metadata"]["name"] for o in objects
                                                         if o["kind"] == "WorkloadPriorityClass"}
    config = yaml.safe_load(s.values("kueue")["managerConfig"]["controllerManagerConfigYaml"])
    assert FRAMEWORK[obj["kind"]] in config["integrations"]["frameworks"]
    [group] = queue["spec"]["resourceGroups"]
    assert INTENDED[name][2] in {f["name"] for f in group["flavors"]}
    ignored = tuple(config["resources"]["excludeResourcePrefixes"])
    requested = {r for spec in specs(name).values() for c in spec["containers"]
                 for r in c.get("resources", {}).get("requests", {})}
    assert {r for r in requested if not r.startswith(ignored)} <= set(group["coveredResources"])
    if obj["kind"] in ("Job", "RayJob", "TrainJob"):
        assert obj["spec"]["suspend"] is True  # Kueue unsuspends it on admission


def test_neuron_workloads_use_the_neuron_scheduler_and_tag_their_runtime():
    for name in ("neuron-training.yaml", "inferentia-serving.yaml", "trainjob-neuron.yaml", "kserve-neuron.yaml"):
        [spec] = specs(name).values()
        assert spec["schedulerName"] == NEURON_SCHEDULER, name
        assert any(e["name"] == "NEURON_PROCESS_TAG" for e in spec["containers"][0]["env"]), name


def test_efa_job_rendezvous_names_resolve_through_its_headless_service():
    objects = {d["kind"]: d for d in docs("gpu-efa-distributed-training.yaml")}
    job, service = objects["Job"], objects["Service"]
    assert (job["spec"]["completionMode"], job["spec"]["completions"], job["spec"]["parallelism"]) == ("Indexed", 2, 2)
    assert job["spec"]["template"]["spec"]["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
    command = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    assert "--master_addr=efa-ddp-0.efa-ddp" in command and '--node_rank="${JOB_COMPLETION_INDEX}"' in command


def test_readme_has_a_section_per_example():
    readme = (EXAMPLES / "README.md").read_text()
    sections = [line for line in readme.splitlines() if line.startswith("## ") and "`pipelines/" not in line]
    assert sorted(s.split("(`")[1].rstrip("`)") for s in sections) == sorted(
        [*(DIRECTORIES.get(n, n) for n in [*INTENDED, *OUTSIDE_THE_CLUSTER]), *NOT_MANIFESTS])
    for directory, test in NOT_MANIFESTS.items():
        assert (EXAMPLES / directory).is_dir() and (ROOT / test).is_file(), directory
    # The pipelines (tests/pipelines/test_examples.py checks them) share one section, each with its commands.
    pipelines = sorted(p.parent.name for p in (EXAMPLES / "pipelines").glob("*/pipeline.yaml"))
    [heading] = [line for line in readme.splitlines() if line.startswith("## ") and "`pipelines/" in line]
    assert heading.count("`pipelines/") == len(pipelines) and pipelines
    for name in pipelines:
        assert f"`pipelines/{name}`" in heading, name
    for name in [*INTENDED, *OUTSIDE_THE_CLUSTER]:
        assert f"kubectl apply -f examples/{name}" in readme or f"examples/{name} | kubectl apply" in readme, name


# --- the matcher itself -------------------------------------------------------------------------------------------

def pod(**spec):
    return {"containers": [{"name": "c", "image": "i", "resources": spec.pop("resources", {})}], **spec}


GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
EFA = {"key": "vpc.amazonaws.com/efa", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize("spec, expected", [
    (pod(), ["general"]),
    (pod(tolerations=[{"operator": "Exists"}]), ["general", "cpu", "gpu", "gpu-efa", "neuron", "inferentia1"]),
    (pod(tolerations=[GPU], resources={"limits": {"nvidia.com/gpu": 1}}), ["gpu"]),
    (pod(tolerations=[GPU, EFA], resources={"limits": {"nvidia.com/gpu": 8}}), ["gpu", "gpu-efa"]),
    (pod(tolerations=[GPU], resources={"limits": {"nvidia.com/gpu": 8, "vpc.amazonaws.com/efa": 4}}), []),
    (pod(tolerations=[GPU, EFA], nodeSelector={"node.kubernetes.io/instance-type": "g6e.12xlarge"}), ["gpu"]),
    (pod(nodeSelector={"team": "a"}), []),
    (pod(tolerations=[{"operator": "Exists"}], affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["inf1", "inf2"]}]}]}}}),
     ["neuron", "inferentia1"]),
    (pod(tolerations=[{"operator": "Exists"}], nodeSelector={"karpenter.sh/capacity-type": "spot"}), ["cpu", "gpu"]),
])
def test_matcher(spec, expected, pools):
    assert [p.name for p in pools if fits(spec, p)] == expected
