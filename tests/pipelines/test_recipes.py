"""Recipes and pipeline files as users write them: each mistake is one `file:line: key: message` line naming the fix
(reported all at once, before anything is rendered), and what a recipe asks for is what the rendered objects do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlplat.blueprint import parse_text
from mlplat.errors import BlueprintError
from mlplat.pipelines.pipeline import check, load
from tests.accelerators.test_examples import WORKLOADS
from tests.support import k8s
from tests.support.synth import blueprint_text

CPU_JOB = "image: python:3.12\nprocess:\n  command: [python]\n  args: [-c, 'print(1)']\n"


@pytest.fixture(scope="module")
def bp():
    return parse_text(blueprint_text(WORKLOADS), "bp.tfvars")


@pytest.fixture(scope="module")
def bp_without_kueue():
    return parse_text(blueprint_text({**WORKLOADS, "enable_kueue": False}), "bp.tfvars")


def write(tmp: Path, steps: str, recipes: dict[str, str] | None = None, head: str = "name: demo\n") -> Path:
    for name, text in (recipes or {}).items():
        (tmp / name).write_text(textwrap.dedent(text))
    path = tmp / "pipeline.yaml"
    path.write_text(head + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  "))
    return path


def problems(bp, path: Path) -> list[str]:
    with pytest.raises(BlueprintError) as caught:
        load(path, bp)
    return [p.replace(f"{path.parent}/", "") for p in caught.value.problems]


def one_step(tmp: Path, recipe: str, template: str = "data-process") -> Path:
    return write(tmp, f"- name: step\n  template: {template}\n  recipe: r.yaml\n", {"r.yaml": recipe})


# --- recipe fields -------------------------------------------------------------------------------------------------

def test_unknown_recipe_key_gets_a_did_you_mean(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "inline_scrpit: [echo]\n")
    assert problems(bp, path) == [
        "r.yaml:5: inline_scrpit: unknown key (expected one of image, pool, queue, resources, tolerations, ebs, pvc, "
        "backoff_limit, git, inline_script, pre_script, post_script, process); did you mean inline_script?"]


def test_upstream_fields_mlplat_refuses_say_why(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "framework: accelerate\nhyperpod: {enabled: true}\n")
    assert problems(bp, path) == [
        "r.yaml:5: framework: upstream's charts ship per-framework scripts inside the chart (scripts/<framework>); "
        "mlplat renders steps without a chart: bring the scripts with `git` or `inline_script` and remove this key",
        "r.yaml:6: hyperpod: SageMaker HyperPod nodes are not this platform's: steps run on its Karpenter pools; "
        "remove this key"]


def test_only_the_release_name_is_expanded(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "pre_script:\n  - echo {{ .Values.image }}\n")
    assert problems(bp, path) == [
        "r.yaml:5: pre_script: {{ .Values.image }} is a Helm template expression mlplat does not expand (only "
        "{{ .Release.Name }}, the pipeline's name); write the value out"]


def test_release_name_becomes_the_pipeline_name(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "pre_script:\n  - mkdir -p /efs/home/{{ .Release.Name }}/logs\n")
    command = load(path, bp).steps[0].rendered.workload["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "mkdir -p /efs/home/demo/logs\n" in command[2]


def test_bad_quantity_and_node_count(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "resources:\n  requests:\n    cpu: lots\n  nnodes: 0\n")
    assert problems(bp, path) == [
        "r.yaml:7: resources.requests.cpu: expected a Kubernetes quantity such as 8, 500m or 64Gi, got 'lots'",
        "r.yaml:8: resources.nnodes: expected a whole number >= 1, got 0"]


def test_a_step_needs_its_command(bp, tmp_path):
    path = one_step(tmp_path, "image: python:3.12\n")
    assert problems(bp, path) == [
        "r.yaml:1: process: is required: the command the step runs (process.command, process.args)"]


def test_problems_of_every_step_are_reported_together(bp, tmp_path):
    path = write(tmp_path, """\
        - name: a
          template: data-proces
          recipe: r.yaml
        - name: a
          template: data-process
          recipe: missing.yaml
          timeout: soon
        """, {"r.yaml": CPU_JOB})
    assert problems(bp, path) == [
        "pipeline.yaml:4: steps[0].template: expected one of data-process, hf-snapshot, pytorch-distributed, "
        "ray-data-process, vllm-serve, got 'data-proces'; did you mean data-process?",
        "pipeline.yaml:6: steps[1].name: step 'a' is named twice; names are unique within a pipeline",
        "pipeline.yaml:9: steps[1].timeout: expected seconds or a duration such as 30m, 2h or 7d, got 'soon'",
        "pipeline.yaml:8: steps[1].recipe: missing.yaml does not exist (paths are relative to the "
        "pipeline file)"]


def test_pipeline_name_and_namespace(bp, tmp_path):
    path = write(tmp_path, "- name: step\n  template: data-process\n  recipe: r.yaml\n", {"r.yaml": CPU_JOB},
                 head="name: Demo_1\nnamespace: team-x\n")
    assert problems(bp, path) == [
        "pipeline.yaml:1: name: expected a lowercase DNS label such as 'qwen3-sft' (the steps' object names start "
        "with it), got 'Demo_1'",
        "pipeline.yaml:2: namespace: expected one of the blueprint's workload_namespaces (ml-workloads): the shared "
        "claims and Kueue's LocalQueues are there; got 'team-x'"]


def test_object_names_stay_short_enough_for_their_pods(bp, tmp_path):
    path = write(tmp_path, "- name: a-rather-long-step-name\n  template: data-process\n  recipe: r.yaml\n",
                 {"r.yaml": CPU_JOB}, head="name: a-long-pipeline-name\n")
    assert problems(bp, path) == [
        "pipeline.yaml:3: steps[0].name: a-long-pipeline-name-a-rather-long-step-name is longer than 40 characters "
        "(the step's objects and their pods are named after it); shorten the pipeline's or the step's name"]


# --- placement against the blueprint ----------------------------------------------------------------------------------

def test_node_type_picks_the_pool_by_family_and_places_by_label(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "resources:\n  node_type: g6e.2xlarge\n  limits:\n    nvidia.com/gpu: 1\n")
    step = load(path, bp).steps[0]
    pod = step.rendered.workload["spec"]["template"]["spec"]
    assert (step.rendered.pool, pod["nodeSelector"]) == ("gpu", {"mlplat.io/pool": "gpu"})
    assert pod["containers"][0]["resources"] == {"requests": {"nvidia.com/gpu": "1"},
                                                 "limits": {"nvidia.com/gpu": "1"}}


def test_node_type_of_a_disabled_pool_names_the_pool_to_enable(tmp_path):
    bp = parse_text(blueprint_text({"nodepools": {"cpu": {"enabled": True}}}), "bp.tfvars")
    path = one_step(tmp_path, CPU_JOB + "resources:\n  node_type: trn1.32xlarge\n")
    assert problems(bp, path) == [
        "pipeline.yaml:3: step step (data-process, recipe r.yaml): resources.node_type: 'trn1.32xlarge' is in no "
        "enabled pool's instance families: enable neuron (nodepools.neuron.enabled = true, with trn1 in its "
        "instance_families)"]


def test_pool_not_enabled(tmp_path):
    bp = parse_text(blueprint_text({"nodepools": {"cpu": {"enabled": True}}}), "bp.tfvars")
    path = one_step(tmp_path, CPU_JOB + "pool: inferentia1\n")
    assert problems(bp, path) == [
        "pipeline.yaml:3: step step (data-process, recipe r.yaml): pool: 'inferentia1' is not enabled: set "
        "nodepools.inferentia1.enabled = true"]


def test_trainer_sets_the_rendezvous_variables(bp, tmp_path):
    recipe = ("resources:\n  limits:\n    nvidia.com/gpu: 1\n"
              "train:\n  command: [torchrun]\n  env:\n    - name: PET_NNODES\n      value: '2'\n")
    path = one_step(tmp_path, recipe, template="pytorch-distributed")
    assert problems(bp, path) == [
        "pipeline.yaml:3: step step (pytorch-distributed, recipe r.yaml): train.env: PET_NNODES are set by Kubeflow "
        "Trainer for every node (its webhook refuses a TrainJob that sets them); remove them"]


def test_distributed_steps_mount_only_their_runtimes_claims(bp, tmp_path):
    recipe = ("resources:\n  limits:\n    nvidia.com/gpu: 1\npvc:\n  - name: scratch\n    mount_path: /data\n"
              "train:\n  command: [torchrun]\n")
    path = one_step(tmp_path, recipe, template="pytorch-distributed")
    assert problems(bp, path) == [
        "pipeline.yaml:3: step step (pytorch-distributed, recipe r.yaml): pvc: distributed steps mount what their "
        "runtime mounts (efs-shared at /efs, fsx-shared at /fsx); scratch at /data cannot be added: remove it, or "
        "move that work into a data-process step"]


def test_a_snapshot_outside_the_shared_claims_would_vanish(bp, tmp_path):
    path = one_step(tmp_path, "hf_model_id: Qwen/Qwen3-0.6B\nsnapshot:\n  dir: /models\n", template="hf-snapshot")
    assert problems(bp, path) == [
        "pipeline.yaml:3: step step (hf-snapshot, recipe r.yaml): snapshot.dir: '/models' is on no mounted claim "
        "(/efs, /fsx): the snapshot would vanish with the pod; put it under /fsx or /efs (enable_fsx, enable_efs)"]


# --- what the rendered objects do ------------------------------------------------------------------------------------

def test_script_runs_in_upstreams_order_and_fails_on_any_line(bp, tmp_path):
    recipe = (CPU_JOB + "git:\n  repo_url: https://example.com/r.git\n  branch: main\n  commit: abc123\n"
              "inline_script: [echo inline]\npre_script: [echo pre]\npost_script: [echo post]\n")
    path = one_step(tmp_path, recipe)
    script = load(path, bp).steps[0].rendered.workload["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert script.splitlines() == [
        "set -eo pipefail",
        'mkdir -p /tmp/mlplat-src && git clone --branch main https://example.com/r.git "/tmp/mlplat-src/$HOSTNAME"',
        'cd "/tmp/mlplat-src/$HOSTNAME"', "git reset --hard abc123",
        "echo inline", "echo pre", "python -c print(1)", "echo post",
        'cd / && rm -rf "${SOURCE_DIR:-/tmp/mlplat-src}/$HOSTNAME"']


def test_several_nodes_make_an_indexed_job_and_ebs_an_ephemeral_volume(bp, tmp_path):
    path = one_step(tmp_path, CPU_JOB + "resources:\n  nnodes: 3\nebs:\n  storage: 50Gi\n  mount_path: /scratch\n")
    job = load(path, bp).steps[0].rendered.workload
    k8s.validate(job)
    spec = job["spec"]
    assert {k: spec[k] for k in ("completions", "parallelism", "completionMode")} == {
        "completions": 3, "parallelism": 3, "completionMode": "Indexed"}
    volume = spec["template"]["spec"]["volumes"][-1]
    assert volume == {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "gp3", "resources": {"requests": {"storage": "50Gi"}}}}}}
    assert {"name": "scratch", "mountPath": "/scratch"} in spec["template"]["spec"]["containers"][0]["volumeMounts"]


def test_queued_by_kueue_only_when_kueue_is_on(bp, bp_without_kueue, tmp_path):
    path = one_step(tmp_path, CPU_JOB)
    queued = load(path, bp).steps[0].rendered.workload
    assert (queued["metadata"]["labels"]["kueue.x-k8s.io/queue-name"], queued["spec"]["suspend"]) == ("cpu", True)
    plain = load(path, bp_without_kueue).steps[0].rendered.workload
    assert "kueue.x-k8s.io/queue-name" not in plain["metadata"]["labels"] and "suspend" not in plain["spec"]


# --- Ray -------------------------------------------------------------------------------------------------------------

RAY = "image: rayproject/ray:2.52.0\nray:\n  version: \"2.52.0\"\nprocess:\n  command: [python, prep.py]\n"


def test_a_ray_step_is_a_valid_rayjob_whose_every_pod_is_on_its_pool(bp, tmp_path):
    path = one_step(tmp_path, RAY + "resources:\n  nnodes: 3\n  requests:\n    cpu: '8'\n", template="ray-data-process")
    rendered = load(path, bp).steps[0].rendered
    rayjob = rendered.workload
    k8s.validate(rayjob)
    assert (rendered.pool, rendered.pod_selector, rendered.expected_pods) == (
        "cpu", "ray.io/originated-from-cr-name=demo-step", 4)
    cluster = rayjob["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]["spec"]
    [workers] = cluster["workerGroupSpecs"]
    assert (workers["replicas"], workers["minReplicas"], workers["maxReplicas"]) == (2, 2, 2)
    for pod in (head, workers["template"]["spec"]):
        assert pod["nodeSelector"] == {"mlplat.io/pool": "cpu"}
    assert workers["template"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "8"}}
    assert head["containers"][0]["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}}
    # The script reaches the head as a file (no quoting through KubeRay's two shells): written by the init container.
    [init] = head["initContainers"]
    script = next(e["value"] for e in init["env"] if e["name"] == "MLPLAT_STEP_SCRIPT")
    assert script.splitlines() == ["set -eo pipefail", "python prep.py"]
    assert rayjob["spec"]["entrypoint"] == "bash /mlplat-step/step.sh"
    assert {"name": "mlplat-step", "mountPath": "/mlplat-step"} in head["containers"][0]["volumeMounts"]
    assert (rayjob["spec"]["suspend"], rayjob["metadata"]["labels"]["kueue.x-k8s.io/queue-name"]) == (True, "cpu")


def test_a_one_node_ray_step_gives_the_head_the_steps_resources(bp, tmp_path):
    path = one_step(tmp_path, RAY + "resources:\n  limits:\n    nvidia.com/gpu: 1\n", template="ray-data-process")
    rayjob = load(path, bp).steps[0].rendered.workload
    head = rayjob["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    assert "workerGroupSpecs" not in rayjob["spec"]["rayClusterSpec"]
    assert head["containers"][0]["resources"] == {"requests": {"nvidia.com/gpu": "1"},
                                                  "limits": {"nvidia.com/gpu": "1"}}
    assert head["nodeSelector"] == {"mlplat.io/pool": "gpu"}


def test_the_ray_block_is_checked(bp, tmp_path):
    path = one_step(tmp_path, "image: rayproject/ray:2.52.0\nray:\n  dashboard: {host: 0.0.0.0}\n"
                              "process:\n  command: [python]\n", template="ray-data-process")
    assert problems(bp, path) == [
        "r.yaml:3: ray.dashboard: the Ray dashboard listens inside the cluster only (kubectl port-forward to the "
        "head); remove this key",
        "r.yaml:3: ray.version: is required"]
    path = one_step(tmp_path, "image: rayproject/ray:2.52.0\nprocess:\n  command: [python]\n",
                    template="ray-data-process")
    assert problems(bp, path) == ["r.yaml:1: ray: is required: ray.version, the Ray version of the image"]


def test_a_ray_step_needs_the_kuberay_operator(tmp_path):
    bp = parse_text(blueprint_text({"nodepools": {"cpu": {"enabled": True}}}), "bp.tfvars")
    path = one_step(tmp_path, RAY, template="ray-data-process")
    assert problems(bp, path) == [
        "pipeline.yaml:3: step step (ray-data-process, recipe r.yaml): the ray-data-process template runs a KubeRay "
        "RayJob: set enable_kuberay_operator = true"]


# --- vLLM server beside the step's command ----------------------------------------------------------------------

SERVE = ("vllm:\n  model: /fsx/pretrained-models/Qwen/Qwen3-8B\nprocess:\n  command: [python]\n  args: [eval.py]\n"
         "resources:\n  limits:\n    nvidia.com/gpu: 2\n")


def test_a_vllm_serve_step_is_a_job_whose_server_is_a_native_sidecar_on_its_pool(bp, tmp_path):
    from mlplat import versions

    recipe = SERVE + "  requests:\n    cpu: '8'\n    memory: 64Gi\n"
    recipe = recipe.replace("Qwen3-8B\n", "Qwen3-8B\n  served_model_name: '{{ .Release.Name }}'\n"
                                          "  args: ['--max-model-len 4096', --enable-lora]\n")
    path = one_step(tmp_path, recipe, template="vllm-serve")
    p = load(path, bp)
    rendered = p.steps[0].rendered
    job = rendered.workload
    k8s.validate(job)
    assert check(bp, p) == []
    assert (rendered.pool, rendered.queue, rendered.container, rendered.pod_selector) == (
        "gpu", "gpu", "process", "batch.kubernetes.io/job-name=demo-step")
    pod = job["spec"]["template"]["spec"]
    [server] = pod["initContainers"]
    [command] = pod["containers"]
    assert (server["name"], server["restartPolicy"], server["image"]) == ("vllm", "Always",
                                                                         versions.KSERVE_VLLM_GPU_IMAGE)
    assert server["command"] + server["args"] == [
        "vllm", "serve", "/fsx/pretrained-models/Qwen/Qwen3-8B", "--port=8000", "--served-model-name=demo",
        "--tensor-parallel-size=2", "--max-model-len", "4096", "--enable-lora"]
    health = {"httpGet": {"path": "/health", "port": 8000}}
    assert server["startupProbe"] == {**health, "periodSeconds": 10, "failureThreshold": 360}
    assert server["readinessProbe"] == {**health, "periodSeconds": 10}
    assert server["resources"] == {"requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "2"},
                                   "limits": {"nvidia.com/gpu": "2"}}
    assert {"name": "dshm", "mountPath": "/dev/shm"} in server["volumeMounts"]
    assert {m["mountPath"] for m in server["volumeMounts"]} == {"/efs", "/fsx", "/dev/shm"}
    assert command["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}}
    assert command["env"][:2] == [{"name": "OPENAI_BASE_URL", "value": "http://localhost:8000/v1"},
                                  {"name": "SERVED_MODEL_NAME", "value": "demo"}]
    assert command["command"][2] == "set -eo pipefail\npython eval.py\n"
    assert (pod["restartPolicy"], pod["nodeSelector"], job["spec"]["suspend"]) == (
        "Never", {"mlplat.io/pool": "gpu"}, True)
    # The observability stack's vLLM PodMonitor picks the server up (port http).
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "vllm"


def test_a_vllm_serve_step_on_neuron_runs_the_neuron_image_under_the_neuron_scheduler(bp, tmp_path):
    from mlplat import versions

    recipe = SERVE.replace("nvidia.com/gpu: 2", "aws.amazon.com/neuron: 1").replace(
        "Qwen3-8B\n", "Qwen3-8B\n  tensor_parallel_size: 2\n  port: 8080\n")
    p = load(one_step(tmp_path, recipe, template="vllm-serve"), bp)
    job = p.steps[0].rendered.workload
    k8s.validate(job)
    assert check(bp, p) == []
    pod = job["spec"]["template"]["spec"]
    [server] = pod["initContainers"]
    assert (p.steps[0].rendered.pool, pod["schedulerName"], server["image"]) == (
        "neuron", "neuron-scheduler", versions.KSERVE_VLLM_NEURON_IMAGE)
    assert server["args"] == ["/fsx/pretrained-models/Qwen/Qwen3-8B", "--port=8080", "--served-model-name=Qwen3-8B",
                              "--tensor-parallel-size=2"]
    assert server["startupProbe"]["httpGet"] == {"path": "/health", "port": 8080}
    assert pod["containers"][0]["env"][0] == {"name": "OPENAI_BASE_URL", "value": "http://localhost:8080/v1"}


@pytest.mark.parametrize("change, message", [
    (("/fsx/pretrained-models/Qwen/Qwen3-8B", "/models/qwen"),
     "vllm.model: '/models/qwen' is on no mounted claim (/efs, /fsx): the server reads the model from the shared file "
     "systems; put it under /fsx or /efs (an hf-snapshot step downloads it there)"),
    (("Qwen3-8B\n", "Qwen3-8B\n  tensor_parallel_size: 4\n"),
     "vllm.tensor_parallel_size: 4 is more than the 2 nvidia.com/gpu the server requests (resources): vLLM would not "
     "start; request 4 GPUs or lower it"),
    (("nvidia.com/gpu: 2", "cpu: 4"),
     "the vLLM server needs accelerators, and the step would run on the cpu pool: request nvidia.com/gpu (the gpu "
     "pool) or aws.amazon.com/neuron (the neuron pool) in resources"),
    (("resources:\n", "pool: inferentia1\nresources:\n"),
     "pool: vLLM does not run on inf1 (the inferentia1 pool runs only the first-generation Neuron SDK); use the neuron "
     "pool (inf2, trn1, trn2)"),
    (("resources:\n", "resources:\n  nnodes: 2\n"),
     "resources.nnodes: a vllm-serve step is one pod, the server beside the command that uses it; a model across "
     "nodes is served with LeaderWorkerSet (examples/vllm-multi-node-lws.yaml); remove nnodes"),
    (("nvidia.com/gpu: 2", "cpu: 4\npool: gpu"),
     "resources: the server requests no nvidia.com/gpu, so it would see no device on the gpu pool; set "
     "resources.limits.nvidia.com/gpu"),
])
def test_a_vllm_serve_step_that_could_not_serve_is_refused_with_the_fix(bp, tmp_path, change, message):
    recipe = SERVE.replace(*change)
    assert recipe != SERVE
    assert problems(bp, one_step(tmp_path, recipe, template="vllm-serve")) == [
        f"pipeline.yaml:3: step step (vllm-serve, recipe r.yaml): {message}"]


def test_the_vllm_block_is_checked_field_by_field(bp, tmp_path):
    recipe = SERVE.replace("  model: /fsx/pretrained-models/Qwen/Qwen3-8B\n",
                           "  port: 70000\n  args: ['--port 9000', -tp=2]\n  sevred_model_name: x\n")
    assert problems(bp, one_step(tmp_path, recipe, template="vllm-serve")) == [
        "r.yaml:4: vllm.sevred_model_name: unknown key (expected one of model, served_model_name, port, "
        "tensor_parallel_size, args, env, image); did you mean vllm.served_model_name?",
        "r.yaml:2: vllm.model: is required",
        "r.yaml:2: vllm.port: expected a port number up to 65535, got 70000",
        "r.yaml:3: vllm.args: --port is set from vllm.port; remove it from args",
        "r.yaml:3: vllm.args: -tp is set from vllm.tensor_parallel_size; remove it from args"]
    assert problems(bp, one_step(tmp_path, "process:\n  command: [python]\n", template="vllm-serve")) == [
        "r.yaml:1: vllm: is required: vllm.model, the model directory the server serves"]
