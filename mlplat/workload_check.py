"""Check workload manifests against a blueprint before they reach a cluster: that the operator for each kind is
installed, that a queued workload names a LocalQueue that will exist and whose ClusterQueue covers everything its
pods request, that a TrainJob's runtime exists, and that every pod fits an enabled node pool; for ACK SageMaker
objects, that the controller reconciles the kind and that the job uses the execution role and S3 locations it may.
Each problem says the blueprint key (or manifest field) that fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import yaml

from mlplat import serving_runtimes
from mlplat.nodepools import POOL_KINDS, resolve, toleration_for
from mlplat.placement import fits, pod_specs
from mlplat.training_runtimes import RUNTIME_POOLS, render, runtimes_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# The blueprint toggle that installs the operator of each workload kind.
OPERATOR_TOGGLES = {
    "RayCluster": "enable_kuberay_operator", "RayJob": "enable_kuberay_operator", "RayService": "enable_kuberay_operator",
    "LeaderWorkerSet": "enable_leader_worker_set",
    "TrainJob": "enable_kubeflow_trainer",
    "InferenceService": "enable_kserve",
}
# Kinds that define how workloads run rather than run pods themselves, and the toggle that installs their CRD.
DEFINITION_TOGGLES = {"ServingRuntime": "enable_kserve", "ClusterServingRuntime": "enable_kserve"}
# Kinds of operators mlplat does not install, and what runs the same workload here.
NOT_OFFERED = {
    "MPIJob": "the MPI Operator is not installed by mlplat (Kubeflow Trainer v2 takes over its role): run it as a "
              "TrainJob on runtime deepspeed-gpu (an mpirun launcher over SSH) or torch-gpu-efa (NCCL over EFA); "
              "see examples/nccl-allreduce-efa.yaml",
    "PyTorchJob": "Kubeflow's training operator v1 is not offered (maintenance-only): run it as a TrainJob on a "
                  "torch-* runtime with enable_kubeflow_trainer = true; see examples/trainjob-gpu-efa.yaml",
}

# The ACK SageMaker controller's API group: SageMaker runs these objects' jobs and endpoints, not the cluster's pods.
SAGEMAKER_GROUP = "sagemaker.services.k8s.aws"


@dataclass(frozen=True)
class Workload:
    path: Path
    line: int
    obj: dict[str, Any]

    @property
    def runs_pods(self) -> bool:
        return self.obj.get("kind") in OPERATOR_TOGGLES or bool(pod_specs(self.obj))

    @property
    def where(self) -> str:
        meta = self.obj.get("metadata", {})
        return f"{self.path}:{self.line}: {self.obj.get('kind')}/{meta.get('name', '?')}"


def load_workloads(path: Path) -> list[Workload]:
    """The documents of a manifest file with the line each starts on; a file that is not YAML is one problem."""
    from mlplat.errors import BlueprintError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BlueprintError([f"{path}: cannot read the workload file ({exc.strerror}); check the path"]) from None
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise BlueprintError([f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the file"]) from None
    out = []
    for node in nodes:
        if node is None:
            continue
        obj = yaml.SafeLoader(yaml.serialize(node)).get_single_data()  # the node back as plain data
        if isinstance(obj, dict) and "kind" in obj:
            out.append(Workload(path, node.start_mark.line + 1, obj))
    return out


def problems(bp: "Blueprint", workloads: list[Workload]) -> list[str]:
    return [f"{w.where}: {message}" for w in workloads for message in _problems(bp, w.obj)]


def _problems(bp: "Blueprint", obj: dict[str, Any]) -> Iterator[str]:
    kind = obj["kind"]
    if str(obj.get("apiVersion", "")).split("/")[0] == SAGEMAKER_GROUP:
        yield from _sagemaker_problems(bp, obj)
        return
    if kind in NOT_OFFERED:
        yield NOT_OFFERED[kind]
        return
    toggle = OPERATOR_TOGGLES.get(kind, DEFINITION_TOGGLES.get(kind))
    if toggle is not None and not getattr(bp, toggle):
        yield f"needs the {kind} operator: set {toggle} = true in the blueprint"
        return
    if kind == "InferenceService":
        yield from _inference_service(bp, obj)
        return
    runtimes = {r.name: render(r, {}) for r in runtimes_for(bp)} if kind == "TrainJob" else None
    if kind == "TrainJob":
        wanted = obj.get("spec", {}).get("runtimeRef", {}).get("name")
        if wanted not in runtimes:
            pool = RUNTIME_POOLS.get(wanted)
            fix = (f"enable its pool (nodepools.{pool}.enabled = true)" if pool is not None
                   else f"use one of: {', '.join(sorted(runtimes)) or 'none (enable an accelerator pool)'}")
            yield f"runtime {wanted!r} is not installed by this blueprint: {fix}"
            return
    yield from _pods(bp, obj, pod_specs(obj, runtimes))


def _inference_service(bp: "Blueprint", obj: dict[str, Any]) -> Iterator[str]:
    """A predictor with a model runs on the serving runtime it names: one the platform renders (or, when it names
    another, its placement cannot be checked here and only its queue is)."""
    model = obj.get("spec", {}).get("predictor", {}).get("model")
    platform = {r.name: serving_runtimes.render(r, {}) for r in serving_runtimes.runtimes_for(bp)}
    if model is not None:
        wanted = model.get("runtime")
        if wanted is None:
            yield (f"spec.predictor.model.runtime is not set: the platform's runtimes are never picked implicitly; "
                   f"name one of: {', '.join(sorted(platform)) or 'none (enable the gpu or neuron pool)'}")
            return
        if wanted not in platform and wanted in serving_runtimes.RUNTIME_POOLS:
            pool = serving_runtimes.RUNTIME_POOLS[wanted]
            yield (f"runtime {wanted!r} is not installed by this blueprint: enable its pool "
                   f"(nodepools.{pool}.enabled = true)")
            return
        if wanted not in platform:
            _, reason = _queue(bp, obj)
            if reason:
                yield reason
            return  # the user's own runtime: its pods are not known here
    yield from _pods(bp, obj, pod_specs(obj, platform))


def _pods(bp: "Blueprint", obj: dict[str, Any], specs: dict[str, Any]) -> Iterator[str]:
    from mlplat.catalog.modules import KUEUE_IGNORED_PREFIXES, queue_resources

    if not specs:
        return  # not a workload (a ConfigMap, a Service ...)
    queue, reason = _queue(bp, obj)
    if reason:
        yield reason
        return
    every_pool = [resolve(name, bp.nodepools.get(name)) for name in POOL_KINDS]
    for role, spec in specs.items():
        who = "its pods" if role == "pod" else f"its {role} pods"
        if queue is not None:
            # Kueue admits onto one of the queue's flavors and adds that pool's node labels and tolerations.
            flavors = [q.pool for q in queue.quotas]
            if not any((admitted := _with_flavor(spec, p)) is not None and fits(admitted, p) for p in flavors):
                yield (f"{who} fit none of queue {queue.name!r}'s pools ({', '.join(p.name for p in flavors)}): "
                       f"use a queue on the pool they need, or change their nodeSelector, tolerations or requests")
            continue
        if not any(fits(spec, p) for p in bp.enabled_pools):
            disabled = [p.name for p in every_pool if not p.enabled and fits(spec, p)]
            fix = (" or ".join(f"nodepools.{n}.enabled = true" for n in disabled) if disabled
                   else "their nodeSelector, tolerations or requests match no pool of the platform")
            yield f"{who} fit no enabled node pool: {fix}"
    if queue is not None:
        covered = set(queue_resources(queue))
        requested = {r for spec in specs.values()
                     for c in [*spec.get("initContainers", []), *spec.get("containers", [])]
                     for r in c.get("resources", {}).get("requests", {})}
        missing = sorted(r for r in requested - covered if not r.startswith(KUEUE_IGNORED_PREFIXES))
        if missing:
            yield (f"queue {queue.name!r} covers {', '.join(sorted(covered))} but the pods request "
                   f"{', '.join(missing)}: Kueue would never admit it; use a queue on a pool that offers them")


def _queue(bp: "Blueprint", obj: dict[str, Any]) -> tuple[Any, str | None]:
    """The ClusterQueue a workload's LocalQueue label leads to (None when it has no label), or why there is none."""
    meta = obj.get("metadata", {})
    name = meta.get("labels", {}).get(QUEUE_LABEL)
    if name is None:
        return None, None
    namespace = meta.get("namespace", "default")
    if not bp.enable_kueue:
        return None, f"is labelled for Kueue queue {name!r} but Kueue is off: set enable_kueue = true or remove the label"
    if namespace not in bp.queued_namespaces:
        return None, (f"namespace {namespace!r} has no LocalQueues: use one of workload_namespaces "
                      f"({', '.join(bp.workload_namespaces)}) or add it there")
    queues = {q.name: q for q in bp.kueue_queue_specs}
    if name not in queues:
        if not bp.kueue_queues and name in POOL_KINDS:
            return None, (f"no queue {name!r}: the default queues follow the enabled pools; set "
                          f"nodepools.{name}.enabled = true or use one of {', '.join(sorted(queues))}")
        return None, f"no queue {name!r}: use one of {', '.join(sorted(queues))} (kueue_queues)"
    return queues[name], None


def _with_flavor(spec: Any, pool: Any) -> dict[str, Any] | None:
    """The pod as Kueue admits it onto `pool`'s flavor, or None when its nodeSelector contradicts the flavor's."""
    selector = dict(spec.get("nodeSelector", {}))
    if any(selector.get(k, v) != v for k, v in pool.labels.items()):
        return None
    return {**spec, "nodeSelector": {**pool.labels, **selector},
            "tolerations": [*spec.get("tolerations", []), *toleration_for(pool)]}


def _sagemaker_problems(bp: "Blueprint", obj: dict[str, Any]) -> Iterator[str]:
    """An ACK SageMaker object: the controller is installed and reconciles its kind, it runs as the platform's
    execution role (the only role the controller may pass), and a training job's S3 locations are ones that role may
    read (inputs) and write (output, checkpoints)."""
    from mlplat.workloads_config import RECONCILED_KINDS, ack_sagemaker_role_names

    kind = obj["kind"]
    if not bp.enable_ack_sagemaker:
        yield "needs the ACK SageMaker controller: set enable_ack_sagemaker = true in the blueprint"
        return
    if kind not in RECONCILED_KINDS:
        yield (f"the platform's ACK SageMaker controller reconciles only {', '.join(sorted(RECONCILED_KINDS))}; "
               f"its IAM role may not manage a {kind}")
        return
    spec = obj.get("spec", {})
    if kind == "HyperParameterTuningJob":
        spec = spec.get("trainingJobDefinition", {})
    role_field = "executionRoleARN" if kind == "Model" else "roleARN"
    execution_role = ack_sagemaker_role_names(bp.name)[1]
    if role_field in spec and not str(spec[role_field]).endswith(f":role/{execution_role}"):
        yield (f"{role_field} {spec[role_field]!r} is not the platform's execution role {execution_role!r} (output "
               f"ack_sagemaker_execution_role_arn), the only role the controller may pass")
    access = bp.ack_sagemaker_s3_access
    if kind == "Model" or access is None:
        return
    writable = tuple(access.write_prefixes)
    readable = (*(f"s3://{b}/" for b in access.read_buckets), *writable)
    reads = [c.get("dataSource", {}).get("s3DataSource", {}).get("s3URI") for c in spec.get("inputDataConfig", [])]
    writes = [spec.get("outputDataConfig", {}).get("s3OutputPath"), spec.get("checkpointConfig", {}).get("s3URI")]
    for uri in filter(None, reads):
        if not str(uri).startswith(readable):
            yield (f"input {uri!r} is outside what the execution role may read: add its bucket to "
                   f"ack_sagemaker_s3_access.read_buckets")
    for uri in filter(None, writes):
        if not f"{str(uri).rstrip('/')}/".startswith(writable):
            yield (f"output {uri!r} is outside what the execution role may write: add a prefix covering it to "
                   f"ack_sagemaker_s3_access.write_prefixes")
