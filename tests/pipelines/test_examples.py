"""The shipped pipelines (examples/pipelines/*/pipeline.yaml, MLOps on EKS's snapshot -> fine-tune -> evaluate flow
on GPU and on Neuron): each renders for the platform with every pool on, its objects are valid against the CRD
schemas (TrainJob) and the Kubernetes schema (Job), every step's pods fit exactly the pool the step is meant for,
and its LocalQueue exists and its ClusterQueue covers everything its pods request."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlplat.blueprint import parse_text
from mlplat.pipelines.pipeline import check, load
from mlplat.placement import fits, pod_specs
from tests.accelerators.test_examples import WORKLOADS
from tests.support import k8s
from tests.support.paths import ROOT
from tests.support.synth import blueprint_text, synth

PIPELINES = ROOT / "examples" / "pipelines"
# pipeline -> the pool each step is meant for, in order
INTENDED = {
    "llm-sft-gpu": [("snapshot", "Job", "cpu"), ("fine-tune", "TrainJob", "gpu-efa"), ("evaluate", "Job", "gpu")],
    "llm-sft-neuron": [("snapshot", "Job", "cpu"), ("fine-tune", "TrainJob", "neuron"),
                       ("evaluate", "TrainJob", "neuron")],
    "ray-data-prep": [("prepare", "RayJob", "cpu")],
}


@pytest.fixture(scope="module")
def bp():
    return parse_text(blueprint_text(WORKLOADS), "bp.tfvars")


@pytest.fixture(scope="module")
def runtimes():
    """The ClusterTrainingRuntimes the platform deploys with every pool on, by name."""
    return {o["metadata"]["name"]: o for o in synth(WORKLOADS).objects("trainer-runtimes")}


def pipeline(name, bp):
    return load(PIPELINES / name / "pipeline.yaml", bp)


def test_every_shipped_pipeline_is_listed():
    assert sorted(p.parent.name for p in PIPELINES.glob("*/pipeline.yaml")) == sorted(INTENDED)


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_pipeline_renders_valid_objects_and_passes_the_offline_check(name, bp):
    p = pipeline(name, bp)
    assert [(s.spec.name, s.rendered.workload["kind"], s.rendered.pool) for s in p.steps] == INTENDED[name]
    for obj in p.objects:
        k8s.validate(obj)
        assert obj["metadata"]["namespace"] == "ml-workloads"
        assert obj["metadata"]["labels"]["mlplat.io/pipeline"] == name
    assert check(bp, p) == []


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_every_step_fits_exactly_its_pool(name, bp, runtimes):
    """Each pod of each step (every node of a TrainJob, built from the deployed runtime) lands on the step's pool
    and could land on no other."""
    for step in pipeline(name, bp).steps:
        specs = pod_specs(step.rendered.workload, runtimes)
        assert specs, step.spec.name
        assert {role: [p.name for p in bp.enabled_pools if fits(spec, p)] for role, spec in specs.items()} == {
            role: [step.rendered.pool] for role in specs}, step.spec.name


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_every_step_is_queued_where_a_queue_covers_what_it_requests(name, bp, runtimes):
    s = synth(WORKLOADS)
    objects = s.objects("kueue-queues")
    local_queues = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects if o["kind"] == "LocalQueue"}
    config = yaml.safe_load(s.values("kueue")["managerConfig"]["controllerManagerConfigYaml"])
    ignored = tuple(config["resources"]["excludeResourcePrefixes"])
    for step in pipeline(name, bp).steps:
        obj = step.rendered.workload
        local = local_queues[(obj["metadata"]["namespace"], obj["metadata"]["labels"]["kueue.x-k8s.io/queue-name"])]
        [queue] = [o for o in objects if o["kind"] == "ClusterQueue" and o["metadata"]["name"] == local["spec"]["clusterQueue"]]
        [group] = queue["spec"]["resourceGroups"]
        assert step.rendered.pool in {f["name"] for f in group["flavors"]}
        requested = {r for spec in pod_specs(obj, runtimes).values()
                     for c in [*spec.get("initContainers", []), *spec["containers"]]
                     for r in c.get("resources", {}).get("requests", {})}
        assert {r for r in requested if not r.startswith(ignored)} <= set(group["coveredResources"]), step.spec.name
        assert obj["spec"]["suspend"] is True  # Kueue resumes it on admission
        assert {"Job": "batch/job", "TrainJob": "trainer.kubeflow.org/trainjob", "RayJob": "ray.io/rayjob"}[
            obj["kind"]] in config["integrations"]["frameworks"]


def test_the_fine_tune_steps_run_upstreams_recipe_fields(bp):
    """The GPU fine-tune recipe keeps upstream's format: node_type chose gpu-efa, the nodes and processes and the
    resources went to the TrainJob, `{{ .Release.Name }}` became the pipeline's name, and the script runs
    inline_script, pre_script, then the command with its args."""
    step = pipeline("llm-sft-gpu", bp).steps[1]
    trainer = step.rendered.workload["spec"]["trainer"]
    assert (step.rendered.workload["spec"]["runtimeRef"], trainer["numNodes"], trainer["numProcPerNode"]) == (
        {"name": "torch-gpu-efa"}, 2, 8)
    assert trainer["resourcesPerNode"] == {"requests": {"nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "4"},
                                           "limits": {"nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "4"}}
    assert {e["name"]: e["value"] for e in trainer["env"]}["OUTPUT_ROOT"] == "/efs/home/llm-sft-gpu/output"
    script = trainer["command"][2]
    order = [script.index(marker) for marker in ("set -eo pipefail", "cat > /tmp/accelerate.yaml", "cat > /tmp/sft.py",
                                                 "pip3 install transformers", "accelerate launch --config_file")]
    assert order == sorted(order)
    assert script.rstrip().endswith("accelerate launch --config_file /tmp/accelerate.yaml /tmp/sft.py 2>&1 | tee "
                                    "$PROCESS_LOG")


def test_a_step_on_the_wrong_queue_fails_the_check_with_the_coverage_problem(bp, tmp_path: Path):
    source = PIPELINES / "llm-sft-gpu"
    for f in source.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    recipe = tmp_path / "evaluate.yaml"
    text = recipe.read_text()
    assert "\nvllm:\n" in text
    recipe.write_text(text.replace("\nvllm:\n", "\nqueue: cpu\nvllm:\n"))
    problems = check(bp, load(tmp_path / "pipeline.yaml", bp))
    where = f"{tmp_path / 'pipeline.yaml'}:19: Job/llm-sft-gpu-evaluate"
    # The GPUs are the vLLM sidecar's (an init container): the check counts them as Kueue does.
    assert problems == [
        f"{where}: its pods fit none of queue 'cpu''s pools (cpu): use a queue on the pool they need, or change "
        f"their nodeSelector, tolerations or requests",
        f"{where}: queue 'cpu' covers cpu, memory but the pods request nvidia.com/gpu: Kueue would never admit it; "
        f"use a queue on a pool that offers them"]
