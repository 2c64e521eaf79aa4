"""Step templates: a recipe rendered into the Kubernetes objects of one pipeline step, by one function per template.

Each template plays the part of one of upstream MLOps on EKS's charts (charts/machine-learning/...), without Helm:

| template               | upstream chart                               | renders                                     |
|------------------------|----------------------------------------------|---------------------------------------------|
| `data-process`         | data-prep/data-process                       | a batch/v1 Job (Indexed when nnodes > 1)    |
| `hf-snapshot`          | model-prep/hf-snapshot                       | a batch/v1 Job                              |
| `pytorch-distributed`  | training/pytorchjob-distributed (PyTorchJob) | a Kubeflow Trainer TrainJob on the pool's   |
|                        |                                              | torch-* ClusterTrainingRuntime              |
| `ray-data-process`     | data-prep/ray-data-process (a Ray cluster)   | a KubeRay RayJob: a head and nnodes - 1     |
|                        |                                              | workers, deleted when the job ends          |
| `vllm-serve`           | serving/generic-server running vLLM (a       | a batch/v1 Job: vLLM's OpenAI-compatible    |
|                        | Deployment and Service that never end)       | server as a native sidecar, `process` as    |
|                        |                                              | the main container, done when it exits      |

Every step's pods are placed by its pool's labels (`mlplat.io/pool`), tolerate exactly that pool's taints, and, with
Kueue, carry the LocalQueue label so the step waits for quota instead of launching nodes it cannot use.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from mlplat import versions
from mlplat.nodepools import NEURON_SCHEDULER, POOL_KINDS, POOL_LABEL, NodePoolSpec, toleration_for
from mlplat.pipelines.recipe import Recipe
from mlplat.serving_runtimes import SHM_GIB, VLLM_COMPONENT_LABEL
from mlplat.training_runtimes import API_VERSION as TRAINER_API, NODE, RUNTIME_POOLS, SHARED_CLAIMS
from mlplat.workload_check import QUEUE_LABEL

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

# The labels the controllers put on the pods they create: the runner finds a step's pods by them.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # kubernetes pkg/controller/job (batch.JobNameLabel)
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"  # jobset api/jobset/v1alpha2 JobSetNameKey; Trainer names the
# JobSet after the TrainJob
# KubeRay v1.7.0 (controllers/ray/utils/constant.go RayOriginatedFromCRNameLabelKey): on the Ray cluster's head and
# workers and on the submitter Job's pod of a RayJob, the RayJob's name.
RAY_ORIGIN_LABEL = "ray.io/originated-from-cr-name"
RAY_API = "ray.io/v1"
RAY_STEP_DIR = "/mlplat-step"  # where the head's init container writes the step's script
PIPELINE_LABEL = "mlplat.io/pipeline"
STEP_LABEL = "mlplat.io/step"
# Trainer's torch plugin sets these on the trainer container and its webhook refuses a TrainJob that sets them
# (kubeflow/trainer v2.3.0 pkg/constants TorchRunReservedEnvNames).
TORCH_RESERVED_ENV = ("PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT")
TORCH_RUNTIMES = {pool: name for name, pool in RUNTIME_POOLS.items() if name.startswith("torch-")}
CPU_REQUESTS = (("cpu", "1"), ("memory", "2Gi"))  # upstream hf-snapshot's default: 1 CPU, 2 GiB
SOURCE_DIR = "/tmp/mlplat-src"
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}  # a consolidation must not kill a running step


@dataclass(frozen=True)
class Context:
    """What a step is rendered for: the blueprint, the pipeline's name (Helm's release name upstream) and its
    namespace, and the step's name."""

    bp: "Blueprint"
    pipeline: str
    namespace: str
    step: str

    @property
    def name(self) -> str:
        return f"{self.pipeline}-{self.step}"


@dataclass(frozen=True)
class Rendered:
    """A step's objects, the one among them whose status says whether the step succeeded, and how to find its
    pods."""

    objects: tuple[dict[str, Any], ...]
    workload: dict[str, Any]
    pod_selector: str
    pool: str
    queue: str | None
    expected_pods: int
    container: str | None  # the container whose log is the step's output (None: each pod's only container)
    warnings: tuple[str, ...] = ()


class StepError(Exception):
    """A recipe that cannot be rendered for this blueprint; the message names the field and the fix."""


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    keys: tuple[str, ...]  # the recipe's allowed top-level keys
    run_key: str | None
    default_pool: str | None  # None: chosen by the accelerators the recipe asks for
    render: Callable[[Context, Recipe], Rendered]
    aliases: tuple[str, ...] = field(default=())


COMMON_KEYS = ("image", "pool", "queue", "resources", "tolerations", "ebs", "pvc", "backoff_limit")
SCRIPT_KEYS = ("git", "inline_script", "pre_script", "post_script")


# ------------------------------------------------------------------------------------------------------ placement

def choose_pool(ctx: Context, recipe: Recipe, default: str | None) -> NodePoolSpec:
    """The enabled pool a step runs on: `pool`, else the pool whose families include `resources.node_type`, else the
    one its accelerators call for, else the template's default."""
    bp = ctx.bp
    enabled = {p.name: p for p in bp.enabled_pools}
    if recipe.pool is not None:
        if recipe.pool not in POOL_KINDS:
            raise StepError(f"pool: {recipe.pool!r} is not a node pool (expected one of {', '.join(POOL_KINDS)})")
        if recipe.pool not in enabled:
            raise StepError(f"pool: {recipe.pool!r} is not enabled: set nodepools.{recipe.pool}.enabled = true")
        return enabled[recipe.pool]
    if recipe.node_type is not None:
        family = recipe.node_type.removeprefix("ml.").split(".")[0]
        matches = [p for p in enabled.values() if family in p.instance_families]
        if matches:
            return matches[0]
        could = [name for name in POOL_KINDS if family in POOL_KINDS[name].known_families]
        fix = (f"enable {could[0]} (nodepools.{could[0]}.enabled = true, with {family} in its instance_families)"
               if could else "name a pool with `pool:` instead")
        raise StepError(f"resources.node_type: {recipe.node_type!r} is in no enabled pool's instance families: {fix}")
    accelerators = recipe.accelerators
    if "nvidia.com/gpu" in accelerators:
        wanted = "gpu-efa" if "vpc.amazonaws.com/efa" in accelerators else "gpu"
    elif any(r.startswith("aws.amazon.com/neuron") for r in accelerators):
        wanted = "neuron"
    else:
        wanted = default or "cpu"
    if wanted not in enabled:
        raise StepError(f"the step runs on the {wanted} pool, which is not enabled: set nodepools.{wanted}.enabled = "
                        f"true, or name another pool with `pool:`")
    return enabled[wanted]


def _queue(ctx: Context, recipe: Recipe, pool: NodePoolSpec) -> str | None:
    if not ctx.bp.enable_kueue:
        return None
    return recipe.queue or pool.name


def _labels(ctx: Context) -> dict[str, str]:
    return {"app.kubernetes.io/instance": ctx.pipeline, "app.kubernetes.io/managed-by": "mlplat",
            PIPELINE_LABEL: ctx.pipeline, STEP_LABEL: ctx.step}


def _metadata(ctx: Context, queue: str | None) -> dict[str, Any]:
    labels = _labels(ctx)
    if queue is not None:
        labels[QUEUE_LABEL] = queue
    return {"name": ctx.name, "namespace": ctx.namespace, "labels": labels}


def _tolerations(pool: NodePoolSpec, recipe: Recipe) -> list[dict[str, Any]]:
    out = toleration_for(pool)
    out += [t for t in recipe.tolerations if t not in out]
    return out


def _resources(recipe: Recipe, default: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    requests = dict(recipe.requests or (default if not recipe.limits else ()))
    limits = dict(recipe.limits)
    # Extended resources cannot be overcommitted: Kubernetes requires requests == limits, and defaults requests
    # from limits. Written out so Kueue and the checks see them.
    for resource, quantity in limits.items():
        if "/" in resource:
            requests.setdefault(resource, quantity)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _claims(ctx: Context, recipe: Recipe) -> list[tuple[str, str]]:
    """(claim, mount path) pairs: the recipe's `pvc`, or the platform's shared claims."""
    if recipe.mounts is not None:
        return [(m.claim, m.mount_path) for m in recipe.mounts]
    on = {"efs-shared": ctx.bp.enable_efs, "fsx-shared": ctx.bp.enable_fsx}
    return [(claim, path) for claim, path in SHARED_CLAIMS.items() if on[claim]]


def _env(pairs: Any) -> list[dict[str, Any]]:
    return [{"name": e.name, "value": e.value} for e in pairs]


def _on_claim(path: str, claims: list[tuple[str, str]]) -> bool:
    root = path.rstrip("/")
    return any(root == mount or root.startswith(mount.rstrip("/") + "/") for _, mount in claims)


# --------------------------------------------------------------------------------------------------------- script

def script(ctx: Context, recipe: Recipe) -> str:
    """The shell program a scripted step runs, in upstream's order: clone `git`, then `inline_script`,
    `pre_script`, the command with its args, `post_script`. Unlike upstream, any failing line fails the step, and a
    command piped into `tee` fails it too (pipefail)."""
    lines = ["set -eo pipefail"]
    if recipe.git is not None:
        git = recipe.git
        branch = f" --branch {shlex.quote(git.branch)}" if git.branch else ""
        lines += [f'mkdir -p {SOURCE_DIR} && git clone{branch} {shlex.quote(git.repo_url)} '
                  f'"{SOURCE_DIR}/$HOSTNAME"', f'cd "{SOURCE_DIR}/$HOSTNAME"']
        if git.commit:
            lines.append(f"git reset --hard {shlex.quote(git.commit)}")
    lines += [*recipe.inline_script, *recipe.pre_script]
    if recipe.run is not None:
        lines.append(" ".join([*recipe.run.command, *recipe.run.args]))
    lines += list(recipe.post_script)
    if recipe.git is not None:
        lines += ['cd / && rm -rf "${SOURCE_DIR:-' + SOURCE_DIR + '}/$HOSTNAME"']
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------- batch Jobs

def _job(ctx: Context, recipe: Recipe, pool: NodePoolSpec, container: dict[str, Any], *,
         warnings: tuple[str, ...] = (), sidecars: tuple[tuple[dict[str, Any], list[dict[str, Any]]], ...] = (),
         volumes_of_sidecars: tuple[dict[str, Any], ...] = (), pod_labels: dict[str, str] | None = None
         ) -> Rendered:
    """A batch/v1 Job of `container` on `pool`, the claims (and `ebs`) mounted in it. `sidecars` are (container, its
    own mounts) pairs run as native sidecars (init containers with restartPolicy Always): started, in order, before
    `container`, each mounting the claims too, and stopped by the kubelet once `container` has exited, so the Job
    completes or fails with `container` alone."""
    queue = _queue(ctx, recipe, pool)
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for i, (claim, path) in enumerate(_claims(ctx, recipe)):
        volumes.append({"name": f"claim-{i}", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": f"claim-{i}", "mountPath": path})
    if recipe.ebs is not None:
        # Upstream makes a PVC per release; a generic ephemeral volume lives and dies with the pod instead, so a
        # failed or interrupted step leaves no volume behind.
        from mlplat.catalog.accelerators import GP3_CLASS

        volumes.append({"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": GP3_CLASS,
            "resources": {"requests": {"storage": recipe.ebs.storage}}}}}})
        mounts.append({"name": "scratch", "mountPath": recipe.ebs.mount_path})
    volumes += volumes_of_sidecars
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "nodeSelector": {POOL_LABEL: pool.name},
        "tolerations": _tolerations(pool, recipe),
        "containers": [{**container, "volumeMounts": mounts}],
    }
    if sidecars:
        pod["initContainers"] = [{**sidecar, "restartPolicy": "Always",
                                  "volumeMounts": [dict(m) for m in mounts] + own} for sidecar, own in sidecars]
    if volumes:
        pod["volumes"] = volumes
    if pool.kind.accelerator == "aws.amazon.com/neuron":
        pod["schedulerName"] = NEURON_SCHEDULER
    access = getattr(ctx.bp, "workload_s3_access", {})
    if ctx.namespace in access:
        from mlplat.workloads_config import WORKLOAD_SERVICE_ACCOUNT

        pod["serviceAccountName"] = WORKLOAD_SERVICE_ACCOUNT  # the namespace's S3 role (Pod Identity)
    spec: dict[str, Any] = {"backoffLimit": recipe.backoff_limit,
                            "template": {"metadata": {"labels": {**_labels(ctx), **(pod_labels or {})},
                                                      "annotations": dict(DO_NOT_DISRUPT)},
                                         "spec": pod}}
    if recipe.nnodes > 1:
        # One pod per shard: JOB_COMPLETION_INDEX tells each which one it is.
        spec.update({"completions": recipe.nnodes, "parallelism": recipe.nnodes, "completionMode": "Indexed"})
    if queue is not None:
        spec["suspend"] = True  # Kueue starts it once admitted
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": _metadata(ctx, queue), "spec": spec}
    return Rendered((job,), job, f"{JOB_NAME_LABEL}={ctx.name}", pool.name, queue, recipe.nnodes, container["name"],
                    warnings)


def data_process(ctx: Context, recipe: Recipe) -> Rendered:
    if recipe.image is None:
        raise StepError("image: is required (the container the processing runs in)")
    pool = choose_pool(ctx, recipe, "cpu")
    container = {"name": "process", "image": recipe.image, "command": ["bash", "-c", script(ctx, recipe)],
                 "env": _env(recipe.run.env if recipe.run else ()), "resources": _resources(recipe, CPU_REQUESTS)}
    return _job(ctx, recipe, pool, container)


def hf_snapshot(ctx: Context, recipe: Recipe) -> Rendered:
    """Download a Hugging Face model snapshot onto the shared file system (upstream: /fsx/pretrained-models/<id>)."""
    snap = recipe.snapshot
    assert snap is not None  # the recipe's parser requires hf_model_id for this template
    pool = choose_pool(ctx, recipe, "cpu")
    claims = _claims(ctx, recipe)
    root = snap.directory.rstrip("/")
    if not _on_claim(root, claims):
        raise StepError(f"snapshot.dir: {snap.directory!r} is on no mounted claim "
                        f"({', '.join(path for _, path in claims) or 'none'}): "
                        f"the snapshot would vanish with the pod; put it under /fsx or /efs (enable_fsx, enable_efs)")
    env = [{"name": "HF_MODEL_ID", "value": snap.model_id}, {"name": "SNAPSHOT_ROOT", "value": root},
           {"name": "XDG_CACHE_HOME", "value": "/tmp/.cache"}]
    if snap.secret_name:
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": snap.secret_name,
                                                                       "key": snap.secret_key}}})
    env += _env(recipe.env)
    download = (
        f"pip install --no-cache-dir --quiet huggingface-hub=={versions.HUGGINGFACE_HUB_VERSION}\n"
        'python - <<\'PY\'\n'
        "import os\n"
        "from huggingface_hub import snapshot_download\n"
        "target = os.path.join(os.environ['SNAPSHOT_ROOT'], os.environ['HF_MODEL_ID'])\n"
        "path = snapshot_download(repo_id=os.environ['HF_MODEL_ID'], local_dir=target,\n"
        "                         ignore_patterns=['*.msgpack', '*.h5'], token=os.environ.get('HF_TOKEN'))\n"
        "print(f'snapshot of {os.environ[\"HF_MODEL_ID\"]} in {path}', flush=True)\n"
        "PY\n"
        f'chown -R {shlex.quote(snap.owner)} "$SNAPSHOT_ROOT/$HF_MODEL_ID"\n'
    )
    container = {"name": "hf-snapshot", "image": recipe.image or versions.PIPELINE_PYTHON_IMAGE,
                 "command": ["bash", "-c", "set -eo pipefail\n" + download], "env": env,
                 "resources": _resources(recipe, CPU_REQUESTS)}
    return _job(ctx, recipe, pool, container)


# ------------------------------------------------------------------------------------------------------- TrainJob

def pytorch_distributed(ctx: Context, recipe: Recipe) -> Rendered:
    """Upstream's PyTorchJob (master + nnodes-1 workers, nproc_per_node each) as a TrainJob: Trainer's torch
    runtime sets the same PET_* variables (PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR, ...) the recipes read."""
    if not ctx.bp.enable_kubeflow_trainer:
        raise StepError("the pytorch-distributed template runs a Kubeflow Trainer TrainJob: set "
                        "enable_kubeflow_trainer = true")
    pool = choose_pool(ctx, recipe, None)
    runtime = TORCH_RUNTIMES.get(pool.name)
    if runtime is None:
        raise StepError(f"no PyTorch runtime on the {pool.name} pool (runtimes: "
                        + ", ".join(f"{r} on {p}" for p, r in TORCH_RUNTIMES.items())
                        + "): ask for its accelerators in resources, or set `pool:`")
    assert recipe.run is not None
    reserved = sorted({e.name for e in recipe.run.env} & set(TORCH_RESERVED_ENV))
    if reserved:
        raise StepError(f"train.env: {', '.join(reserved)} are set by Kubeflow Trainer for every node (its webhook "
                        f"refuses a TrainJob that sets them); remove them")
    runtime_claims = {claim: path for claim, path in _claims(ctx, Recipe(recipe.path))}
    asked = dict(_claims(ctx, recipe))
    other = {claim: path for claim, path in asked.items() if runtime_claims.get(claim) != path}
    if other:
        raise StepError("pvc: distributed steps mount what their runtime mounts ("
                        + (", ".join(f"{c} at {p}" for c, p in runtime_claims.items()) or "nothing")
                        + f"); {', '.join(f'{c} at {p}' for c, p in other.items())} cannot be added: remove it, or "
                          f"move that work into a data-process step")
    warnings = ()
    if recipe.ebs is not None:
        warnings = (f"ebs: not applied to a distributed step: its nodes' /tmp is on the {pool.name} pool's "
                    f"{pool.root_volume_gib} GiB root volume; keep data on /fsx or /efs",)
    queue = _queue(ctx, recipe, pool)
    trainer: dict[str, Any] = {"numNodes": recipe.nnodes, "command": ["bash", "-c", script(ctx, recipe)]}
    if recipe.image is not None:
        trainer["image"] = recipe.image
    if recipe.nproc_per_node is not None:
        trainer["numProcPerNode"] = recipe.nproc_per_node
    resources = _resources(recipe)
    if resources:
        trainer["resourcesPerNode"] = resources
    if recipe.run.env:
        trainer["env"] = _env(recipe.run.env)
    spec: dict[str, Any] = {"runtimeRef": {"name": runtime}, "trainer": trainer}
    if queue is not None:
        spec["suspend"] = True
    trainjob = {"apiVersion": TRAINER_API, "kind": "TrainJob", "metadata": _metadata(ctx, queue), "spec": spec}
    return Rendered((trainjob,), trainjob, f"{JOBSET_NAME_LABEL}={ctx.name}", pool.name, queue, recipe.nnodes,
                    NODE, warnings)


# ---------------------------------------------------------------------------------------------------------- RayJob

def ray_data_process(ctx: Context, recipe: Recipe) -> Rendered:
    """Upstream's ray-data-process (a Ray cluster of nnodes running `process`) as a KubeRay RayJob: the script runs
    as the Ray job's entrypoint on the head, the workers join the cluster, and KubeRay deletes the cluster when the
    job ends. KubeRay passes the entrypoint through two shells (the submitter's command line, then Ray's), so the
    script is not quoted into it: an init container writes it to a file on the head, and the entrypoint runs that."""
    if not ctx.bp.enable_kuberay_operator:
        raise StepError("the ray-data-process template runs a KubeRay RayJob: set enable_kuberay_operator = true")
    if recipe.image is None:
        raise StepError("image: is required (a Ray image of ray.version, such as rayproject/ray:2.52.0)")
    assert recipe.ray is not None  # the recipe's parser requires the ray block for this template
    pool = choose_pool(ctx, recipe, "cpu")
    queue = _queue(ctx, recipe, pool)
    mounts = [{"name": f"claim-{i}", "mountPath": path} for i, (_, path) in enumerate(_claims(ctx, recipe))]
    volumes = [{"name": f"claim-{i}", "persistentVolumeClaim": {"claimName": claim}}
               for i, (claim, _) in enumerate(_claims(ctx, recipe))]
    env = _env(recipe.run.env if recipe.run else ())

    def pod(container: dict[str, Any], extra_volumes: list[dict[str, Any]], init: list[dict[str, Any]]
            ) -> dict[str, Any]:
        spec: dict[str, Any] = {"nodeSelector": {POOL_LABEL: pool.name}, "tolerations": _tolerations(pool, recipe),
                                "containers": [container], "volumes": volumes + extra_volumes}
        if init:
            spec["initContainers"] = init
        if pool.kind.accelerator == "aws.amazon.com/neuron":
            spec["schedulerName"] = NEURON_SCHEDULER
        if ctx.namespace in getattr(ctx.bp, "workload_s3_access", {}):
            from mlplat.workloads_config import WORKLOAD_SERVICE_ACCOUNT

            spec["serviceAccountName"] = WORKLOAD_SERVICE_ACCOUNT
        return {"metadata": {"labels": _labels(ctx), "annotations": dict(DO_NOT_DISRUPT)}, "spec": spec}

    step_volume = {"name": "mlplat-step", "emptyDir": {"sizeLimit": "1Mi"}}
    step_mount = {"name": "mlplat-step", "mountPath": RAY_STEP_DIR}
    write_script = {"name": "write-step-script", "image": recipe.image,
                    "command": ["bash", "-c", f'printf "%s" "$MLPLAT_STEP_SCRIPT" > {RAY_STEP_DIR}/step.sh'],
                    "env": [{"name": "MLPLAT_STEP_SCRIPT", "value": script(ctx, recipe)}],
                    "volumeMounts": [step_mount]}
    head_resources: dict[str, Any] = {}
    if recipe.ray.head_requests or recipe.ray.head_limits:
        head_resources = {k: dict(v) for k, v in (("requests", recipe.ray.head_requests),
                                                   ("limits", recipe.ray.head_limits)) if v}
    workers = recipe.nnodes - 1
    # The head takes ray.resources; without them, the step's resources when it is the whole cluster, else 1 CPU.
    head = {"name": "ray-head", "image": recipe.image, "env": env,
            "resources": head_resources or (_resources(recipe, CPU_REQUESTS) if not workers
                                            else {"requests": dict(CPU_REQUESTS)}),
            "volumeMounts": mounts + [step_mount]}
    cluster: dict[str, Any] = {
        "rayVersion": recipe.ray.version,
        "headGroupSpec": {"rayStartParams": {}, "template": pod(head, [step_volume], [write_script])},
    }
    if workers:
        worker = {"name": "ray-worker", "image": recipe.image, "env": env,
                  "resources": _resources(recipe, CPU_REQUESTS), "volumeMounts": mounts}
        cluster["workerGroupSpecs"] = [{"groupName": "workers", "replicas": workers, "minReplicas": workers,
                                        "maxReplicas": workers, "rayStartParams": {}, "template": pod(worker, [], [])}]
    # Kueue runs only RayJobs that delete their cluster when they end; the runner deletes the RayJob itself after.
    spec: dict[str, Any] = {"entrypoint": f"bash {RAY_STEP_DIR}/step.sh", "shutdownAfterJobFinishes": True,
                            "rayClusterSpec": cluster}
    if recipe.ray.runtime_env_yaml:
        spec["runtimeEnvYAML"] = recipe.ray.runtime_env_yaml
    if queue is not None:
        spec["suspend"] = True
    rayjob = {"apiVersion": RAY_API, "kind": "RayJob", "metadata": _metadata(ctx, queue), "spec": spec}
    warnings = ("ebs: not applied to a Ray step: keep data on /fsx or /efs",) if recipe.ebs is not None else ()
    return Rendered((rayjob,), rayjob, f"{RAY_ORIGIN_LABEL}={ctx.name}", pool.name, queue, recipe.nnodes + 1, None,
                    warnings)


# ---------------------------------------------------------------------------------------------------- vLLM server

VLLM_CONTAINER = "vllm"
# How long the kubelet lets the server come up (weights read from /fsx or /efs; on Neuron, the graphs compiled) before
# it counts the start as failed: 360 probes 10 s apart, an hour. The step's pending_timeout, which counts from
# submission to the command's start and so includes this, is the bound users set.
VLLM_STARTUP_PERIOD_SECONDS = 10
VLLM_STARTUP_FAILURES = 360


def vllm_serve(ctx: Context, recipe: Recipe) -> Rendered:
    """Serve a model with vLLM for as long as the step's command runs: a batch/v1 Job whose pod runs `vllm serve` as
    a native sidecar (an init container with restartPolicy Always) and the recipe's script (`inline_script`,
    `pre_script`, `process`, `post_script`) as its main container, which reaches the server at
    http://localhost:<vllm.port> (OPENAI_BASE_URL, SERVED_MODEL_NAME in its environment): evaluation or batch
    inference against a fine-tuned model on /fsx or /efs.

    Kubernetes starts the main container only once the sidecar's startup probe (vLLM's /health, which answers once
    the engine is up) has passed, and stops the sidecar once the main container has exited: the Job completes or
    fails with the command alone, and the runner waits on it and deletes it like any Job step. A standing endpoint
    is KServe's job (enable_kserve), not a pipeline step's: a server on its own never completes.

    `resources` are the server's (the accelerators it serves on, and `node_type` or `pool` choosing the pool as in
    every template); the command gets 1 CPU and 2 GiB. GPU pools run vLLM's image, the neuron pool AWS's vLLM Neuron
    container (placed by the Neuron scheduler), both the ones the KServe runtimes pin (mlplat/serving_runtimes.py).

    Triton is not a template: it serves a model repository (a config.pbtxt per model and, for LLMs, a TensorRT-LLM
    engine compiled for the GPU type), which a pipeline would first have to build, with an image the platform does
    not pin; vLLM serves the Hugging Face directory a fine-tune step writes as it is."""
    settings = recipe.vllm
    assert settings is not None and recipe.run is not None  # the recipe's parser requires both for this template
    if recipe.nnodes > 1:
        raise StepError("resources.nnodes: a vllm-serve step is one pod, the server beside the command that uses it; "
                        "a model across nodes is served with LeaderWorkerSet (examples/vllm-multi-node-lws.yaml); "
                        "remove nnodes")
    if recipe.nproc_per_node is not None:
        raise StepError("resources.nproc_per_node: the server spreads over vllm.tensor_parallel_size devices; "
                        "remove it")
    pool = choose_pool(ctx, recipe, None)
    accelerator = pool.kind.accelerator
    if accelerator is None:
        raise StepError(f"the vLLM server needs accelerators, and the step would run on the {pool.name} pool: request "
                        f"nvidia.com/gpu (the gpu pool) or aws.amazon.com/neuron (the neuron pool) in resources")
    if pool.name == "inferentia1":
        raise StepError("pool: vLLM does not run on inf1 (the inferentia1 pool runs only the first-generation Neuron "
                        "SDK); use the neuron pool (inf2, trn1, trn2)")
    devices = recipe.accelerators.get(accelerator)
    if devices is None:
        raise StepError(f"resources: the server requests no {accelerator}, so it would see no device on the "
                        f"{pool.name} pool; set resources.limits.{accelerator}")
    claims = _claims(ctx, recipe)
    if not _on_claim(settings.model, claims):
        raise StepError(f"vllm.model: {settings.model!r} is on no mounted claim "
                        f"({', '.join(path for _, path in claims) or 'none'}): the server reads the model from the "
                        f"shared file systems; put it under /fsx or /efs (an hf-snapshot step downloads it there)")
    parallel = settings.tensor_parallel_size
    if accelerator == "nvidia.com/gpu":
        gpus = int(float(devices))
        parallel = parallel or gpus
        if parallel > gpus:
            raise StepError(f"vllm.tensor_parallel_size: {parallel} is more than the {gpus} nvidia.com/gpu the server "
                            f"requests (resources): vLLM would not start; request {parallel} GPUs or lower it")
    # On Neuron the size counts NeuronCores (2 per trn1 or inf2 device, more on trn2), so it is left to the recipe.
    name = settings.served_model_name or settings.model.rstrip("/").rsplit("/", 1)[-1]
    port = settings.port
    health = {"httpGet": {"path": "/health", "port": port}}
    server = {
        "name": VLLM_CONTAINER,
        "image": settings.image or (versions.KSERVE_VLLM_GPU_IMAGE if accelerator == "nvidia.com/gpu"
                                    else versions.KSERVE_VLLM_NEURON_IMAGE),
        "command": ["vllm", "serve"],
        "args": [settings.model, f"--port={port}", f"--served-model-name={name}",
                 *([f"--tensor-parallel-size={parallel}"] if parallel else []), *settings.args],
        **({"env": _env(settings.env)} if settings.env else {}),
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "startupProbe": {**health, "periodSeconds": VLLM_STARTUP_PERIOD_SECONDS,
                         "failureThreshold": VLLM_STARTUP_FAILURES},
        "readinessProbe": {**health, "periodSeconds": 10},
        "resources": _resources(recipe),
    }
    shm = {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GIB}Gi"}}
    env = [{"name": "OPENAI_BASE_URL", "value": f"http://localhost:{port}/v1"},
           {"name": "SERVED_MODEL_NAME", "value": name}, *_env(recipe.run.env)]
    container = {"name": "process", "image": recipe.image or versions.PIPELINE_PYTHON_IMAGE,
                 "command": ["bash", "-c", script(ctx, recipe)], "env": env,
                 "resources": {"requests": dict(CPU_REQUESTS)}}
    return _job(ctx, recipe, pool, container, sidecars=((server, [{"name": "dshm", "mountPath": "/dev/shm"}]),),
                volumes_of_sidecars=(shm,), pod_labels=dict([VLLM_COMPONENT_LABEL]))


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("data-process", "a batch Job running `process` (CPU pool unless the recipe asks for accelerators)",
             COMMON_KEYS + SCRIPT_KEYS + ("process",), "process", "cpu", data_process),
    Template("hf-snapshot", "download a Hugging Face model snapshot to /fsx (or snapshot.dir)",
             COMMON_KEYS + ("hf_model_id", "hf_secret_name", "hf_secret_key", "snapshot", "env"), None, "cpu",
             hf_snapshot),
    Template("pytorch-distributed", "a Kubeflow Trainer TrainJob running `train` on nnodes nodes of the pool its "
             "accelerators (or node_type) call for", COMMON_KEYS + SCRIPT_KEYS + ("train",), "train", None,
             pytorch_distributed, aliases=("pytorchjob-distributed",)),
    Template("ray-data-process", "a KubeRay RayJob running `process` on a Ray cluster of nnodes (a head and "
             "nnodes - 1 workers) on the pool its accelerators (or node_type) call for, the cpu pool by default",
             COMMON_KEYS + SCRIPT_KEYS + ("process", "ray"), "process", "cpu", ray_data_process),
    Template("vllm-serve", "a batch Job running `process` against a vLLM OpenAI-compatible server (a native "
             "sidecar on the pool its accelerators call for) that serves `vllm.model` until the command exits",
             COMMON_KEYS + SCRIPT_KEYS + ("process", "vllm"), "process", None, vllm_serve),
)}
TEMPLATE_ALIASES = {alias: t.name for t in TEMPLATES.values() for alias in t.aliases}


