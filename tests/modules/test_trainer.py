"""Kubeflow Trainer v2: the chart pinned at the recorded release on the system nodes (JobSet too), the chart's own
runtimes (and their run-time kubectl installer) off, and one platform ClusterTrainingRuntime per enabled accelerator
pool, valid against the CRD, placed on exactly that pool, with its images those the examples run."""

from __future__ import annotations

import pytest
import yaml

from mlplat import versions
from mlplat.catalog.accelerators import NEURON_SCHEDULER
from mlplat.training_runtimes import NEURON_SCHEDULER as RUNTIME_NEURON_SCHEDULER
from mlplat.placement import trainjob_pods
from tests.accelerators.support import ALL_POOLS, fits, trainjob_node
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import ROOT, reference
from tests.support.synth import synth

TRAINER = {"enable_kubeflow_trainer": True}
EVERY_POOL = {**ALL_POOLS, **TRAINER}
SYSTEM = {"nodeSelector": {"mlplat.io/pool": "system"},
          "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}
# The JobSet subchart's keys the platform sets, read in kubernetes-sigs/jobset charts/jobset/values.yaml at v0.12.0
# (the version kubeflow-trainer 2.3.0's Chart.yaml depends on; ../shared/reference has no JobSet chart).
JOBSET_VERSION = "0.12.0"
JOBSET_KEYS = {"controller.nodeSelector", "controller.tolerations"}
# runtime -> the pool it must land on
RUNTIME_POOLS = {"torch-gpu": "gpu", "torch-gpu-efa": "gpu-efa", "torch-neuron": "neuron", "deepspeed-gpu": "gpu"}


@pytest.fixture(scope="module")
def every_pool():
    return synth(EVERY_POOL)


def runtimes(s):
    return {o["metadata"]["name"]: o for o in s.objects("trainer-runtimes")}


def leaf_paths(values, path=""):
    if isinstance(values, dict) and values and path.rsplit(".", 1)[-1] not in ("nodeSelector", "tolerations"):
        for key, value in values.items():
            yield from leaf_paths(value, f"{path}.{key}" if path else key)
    else:
        yield path


def test_release_is_pinned_to_the_reference_chart_on_the_system_nodes(every_pool):
    release = every_pool.releases()["kubeflow-trainer"]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "kubeflow-trainer", "oci://ghcr.io/kubeflow/charts", "2.3.0", "kubeflow-system")
    assert versions.CHARTS["kubeflow-trainer"].version == chart_version("kubeflow-trainer")
    values = every_pool.values("kubeflow-trainer")
    assert values == {"manager": SYSTEM, "jobset": {"controller": SYSTEM}, "runtimes": {"defaultEnabled": False}}
    own = {k: v for k, v in values.items() if k != "jobset"}
    assert list(unknown_keys(own, chart_defaults("kubeflow-trainer"))) == []
    assert set(leaf_paths(values["jobset"])) <= JOBSET_KEYS


def test_the_jobset_keys_were_read_at_the_version_the_trainer_chart_depends_on():
    chart = yaml.safe_load(reference("chart-values", "kubeflow-trainer", "Chart.yaml").read_text())
    assert {d["name"]: d["version"] for d in chart["dependencies"]}["jobset"] == JOBSET_VERSION
    assert chart_defaults("kubeflow-trainer")["jobset"]["install"] is True  # the chart installs JobSet itself


def test_none_of_the_charts_own_runtimes_is_installed():
    """They would be applied by a post-install Job that installs kubectl from a package repository at run time."""
    defaults = chart_defaults("kubeflow-trainer")["runtimes"]
    switches = {k for k, v in defaults.items() if isinstance(v, dict) and "enabled" in v}
    assert switches and all(defaults[k]["enabled"] is False for k in switches)
    assert synth(TRAINER).values("kubeflow-trainer")["runtimes"] == {"defaultEnabled": False}


def test_one_runtime_per_enabled_accelerator_pool(every_pool):
    assert set(runtimes(every_pool)) == set(RUNTIME_POOLS)
    # the canonical blueprint: general and gpu pools
    assert set(runtimes(synth(TRAINER))) == {"torch-gpu", "deepspeed-gpu"}
    assert set(runtimes(synth({**TRAINER, "nodepools": {"gpu": {"enabled": False}}}))) == set()


@pytest.mark.parametrize("name", sorted(RUNTIME_POOLS))
def test_a_runtime_is_valid_and_lands_on_exactly_its_pool(every_pool, name):
    runtime = runtimes(every_pool)[name]
    k8s.validate(runtime)
    trainjob = {"spec": {"runtimeRef": {"name": name}, "trainer": {}}}
    for spec in trainjob_pods(trainjob, runtime).values():  # the MPI runtime's launcher and nodes alike
        assert [p.name for p in every_pool.blueprint.enabled_pools if fits(spec, p)] == [RUNTIME_POOLS[name]]
    spec = trainjob_node(trainjob, runtime)
    claims = {v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v}
    provided = {o["metadata"]["name"] for o in every_pool.objects("shared-volumes")
                if o["kind"] == "PersistentVolumeClaim"}
    assert claims and claims <= provided


def test_only_the_efa_runtime_sets_libfabric_to_efa(every_pool):
    env = {name: {e["name"]: e["value"] for e in trainjob_node({"spec": {"trainer": {}}}, r)["containers"][0]["env"]}
           for name, r in runtimes(every_pool).items()}
    assert {name for name, e in env.items() if e.get("FI_PROVIDER") == "efa"} == {"torch-gpu-efa"}
    assert env["torch-neuron"] == {"NEURON_COMPILE_CACHE_URL": "/fsx/neuron-compile-cache"}


def test_the_neuron_runtime_uses_the_scheduler_the_neuron_add_on_installs(every_pool):
    assert RUNTIME_NEURON_SCHEDULER == NEURON_SCHEDULER
    spec = trainjob_node({"spec": {"trainer": {}}}, runtimes(every_pool)["torch-neuron"])
    assert spec["schedulerName"] == NEURON_SCHEDULER
    assert "aws-neuron" in every_pool.releases()


def test_runtime_images_are_the_ones_the_examples_run(every_pool):
    def images(name):
        return {c["image"] for d in yaml.safe_load_all((ROOT / "examples" / name).read_text()) if d
                and d["kind"] == "Job" for c in d["spec"]["template"]["spec"]["containers"]}

    node = {name: trainjob_node({"spec": {"trainer": {}}}, r)["containers"][0]["image"]
            for name, r in runtimes(every_pool).items()}
    assert {node["torch-gpu"], node["torch-gpu-efa"]} == images("gpu-efa-distributed-training.yaml")
    assert {node["torch-neuron"]} == images("neuron-training.yaml")  # the examples' region: us-west-2


def test_without_shared_file_systems_the_runtimes_mount_none():
    s = synth({**TRAINER, "enable_efs": False, "enable_fsx": False})
    for runtime in runtimes(s).values():
        for spec in trainjob_pods({"spec": {"trainer": {}}}, runtime).values():
            assert [v["name"] for v in spec["volumes"]] == ["dshm"]


def test_the_everything_on_blueprint_installs_the_trainer_and_its_runtimes():
    s = synth(text=(ROOT / "blueprints" / "everything-on.tfvars").read_text())
    assert {"kubeflow-trainer", "trainer-runtimes"} <= set(s.releases())
    assert set(runtimes(s)) == set(RUNTIME_POOLS)


def _upstream_deepspeed_runtime() -> dict:
    """charts/kubeflow-trainer/files/runtimes/deepspeed-distributed.yaml at v2.3.0, as this test reads it: the MPI
    policy and the launcher/node wiring the DeepSpeed image expects (recorded, not copied into the product)."""
    return {"mlPolicy": {"numNodes": 1, "mpi": {"numProcPerNode": 1, "mpiImplementation": "OpenMPI",
                                                "sshAuthMountPath": "/home/mpiuser/.ssh", "runLauncherAsNode": True}},
            "network": {"publishNotReadyAddresses": True},
            "successPolicy": {"operator": "All", "targetReplicatedJobs": ["launcher"]},
            "node": {"command": ["/usr/sbin/sshd"], "args": ["-De", "-f", "/home/mpiuser/.sshd_config"],
                     "readinessProbe": {"tcpSocket": {"port": 2222}, "initialDelaySeconds": 5},
                     "securityContext": {"runAsUser": 1000}},
            "launcher_depends_on": [{"name": "node", "status": "Ready"}],
            "image": "ghcr.io/kubeflow/trainer/deepspeed-runtime:v2.3.0"}


def test_the_mpi_runtime_wires_launcher_and_nodes_as_upstreams_deepspeed_runtime(every_pool):
    upstream = _upstream_deepspeed_runtime()
    runtime = runtimes(every_pool)["deepspeed-gpu"]
    spec = runtime["spec"]
    assert spec["mlPolicy"] == upstream["mlPolicy"]
    jobset = spec["template"]["spec"]
    assert (jobset["network"], jobset["successPolicy"]) == (upstream["network"], upstream["successPolicy"])
    jobs = {j["name"]: j for j in jobset["replicatedJobs"]}
    assert list(jobs) == ["node", "launcher"]
    assert jobs["launcher"]["dependsOn"] == upstream["launcher_depends_on"]
    [sshd] = jobs["node"]["template"]["spec"]["template"]["spec"]["containers"]
    assert {k: sshd[k] for k in upstream["node"]} == upstream["node"]
    assert sshd["image"] == upstream["image"] == versions.TRAINER_DEEPSPEED_IMAGE
    assert runtime["metadata"]["labels"]["trainer.kubeflow.org/framework"] == "deepspeed"


def test_a_trainjob_on_the_mpi_runtime_gets_its_resources_on_every_node_and_its_image_on_the_launcher(every_pool):
    trainjob = {"spec": {"runtimeRef": {"name": "deepspeed-gpu"}, "trainer": {
        "image": "example.com/train:1", "command": ["mpirun", "python", "train.py"],
        "resourcesPerNode": {"limits": {"nvidia.com/gpu": 4}}}}}
    pods = trainjob_pods(trainjob, runtimes(every_pool)["deepspeed-gpu"])
    launcher, node = pods["launcher"]["containers"][0], pods["node"]["containers"][0]
    assert launcher["resources"] == node["resources"] == {"limits": {"nvidia.com/gpu": 4}}
    assert (launcher["image"], launcher["command"]) == ("example.com/train:1", ["mpirun", "python", "train.py"])
    assert (node["image"], node["command"]) == (versions.TRAINER_DEEPSPEED_IMAGE, ["/usr/sbin/sshd"])
