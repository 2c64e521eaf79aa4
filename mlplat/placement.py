"""Which node pool a pod lands on, and the pods of a workload: the matcher `mlplat validate --workload` uses to
explain a workload that no enabled pool can run (and the tests use to check the examples and add-ons).

A pod fits a pool when it tolerates all the pool's taints, the pool's labels and Karpenter requirements can satisfy
its nodeSelector and required node affinity, and the pool offers every extended resource it requests.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from mlplat.nodepools import NodePoolSpec

def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if obj["kind"] in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    if obj["kind"] == "Pod":
        return obj["spec"]
    return None


# Where each operator's kind keeps its Ray cluster.
_RAY_CLUSTER = {"RayCluster": (), "RayJob": ("rayClusterSpec",), "RayService": ("rayClusterConfig",)}


def pod_specs(obj: Mapping[str, Any], runtimes: Mapping[str, Mapping[str, Any]] | None = None
              ) -> dict[str, Mapping[str, Any]]:
    """Every pod template of a workload, by role: a Ray cluster's head and worker groups, a LeaderWorkerSet's
    leader and workers, a TrainJob's nodes (its runtime's pod with the TrainJob's resources; `runtimes` by name),
    an InferenceService's predictor (its serving runtime's pod with the model's container), or the one template of
    a plain kind."""
    kind = obj["kind"]
    if kind == "TrainJob":
        runtime = (runtimes or {}).get(obj["spec"]["runtimeRef"]["name"])
        return {} if runtime is None else trainjob_pods(obj, runtime)
    if kind == "InferenceService":
        model = obj["spec"]["predictor"].get("model")
        runtime = (runtimes or {}).get(model.get("runtime")) if model is not None else None
        return inferenceservice_pods(obj, runtime)
    if kind in _RAY_CLUSTER:
        cluster = obj["spec"]
        for key in _RAY_CLUSTER[kind]:
            cluster = cluster[key]
        return {"head": cluster["headGroupSpec"]["template"]["spec"],
                **{g["groupName"]: g["template"]["spec"] for g in cluster.get("workerGroupSpecs", [])}}
    if kind == "LeaderWorkerSet":
        group = obj["spec"]["leaderWorkerTemplate"]
        return {"leader": group.get("leaderTemplate", group["workerTemplate"])["spec"],
                "worker": group["workerTemplate"]["spec"]}
    spec = pod_spec(obj)
    return {"pod": spec} if spec is not None else {}


def _tolerates(tolerations: Iterable[Mapping[str, str]], taint: Mapping[str, str]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint["key"]:
                return True
        elif t.get("key") == taint["key"] and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _possible_values(pool: NodePoolSpec, key: str) -> list[str] | None:
    """The values a pool's nodes can carry for a label; None when the pool does not constrain it."""
    if key in pool.labels:
        return [pool.labels[key]]
    if key == "karpenter.k8s.aws/instance-family":
        return list(pool.instance_families)
    if key == "karpenter.sh/capacity-type":
        return list(pool.capacity_types)
    if key == "kubernetes.io/arch":
        return ["amd64"]
    if key == "kubernetes.io/os":
        return ["linux"]
    if key in ("node.kubernetes.io/instance-type", "topology.kubernetes.io/zone", "kubernetes.io/hostname") \
            or key.startswith("karpenter.k8s.aws/"):
        return None
    return []  # a label no node of the pool carries


def _satisfied(pool: NodePoolSpec, key: str, operator: str, values: list[str]) -> bool:
    possible = _possible_values(pool, key)
    if key == "node.kubernetes.io/instance-type" and operator == "In":
        return any(v.split(".")[0] in pool.instance_families for v in values)
    if possible is None:
        return True
    if operator == "In":
        return bool(set(possible) & set(values))
    if operator == "NotIn":
        return bool(set(possible) - set(values))
    if operator == "Exists":
        return bool(possible)
    if operator == "DoesNotExist":
        return not possible
    raise ValueError(f"node affinity operator {operator!r} is not one of In, NotIn, Exists, DoesNotExist")


def _offers(pool: NodePoolSpec, resource: str) -> bool:
    if resource == "vpc.amazonaws.com/efa":
        return pool.kind.efa
    return resource == pool.kind.accelerator


def fits(spec: Mapping[str, Any], pool: NodePoolSpec) -> bool:
    """A pod fits a pool if it tolerates all the pool's taints, the pool's labels and requirements can satisfy its
    nodeSelector and required node affinity, and the pool offers every extended resource it requests."""
    if not all(_tolerates(spec.get("tolerations", []), t) for t in pool.taints):
        return False
    if not all(_satisfied(pool, k, "In", [v]) for k, v in spec.get("nodeSelector", {}).items()):
        return False
    terms = (spec.get("affinity", {}).get("nodeAffinity", {})
             .get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms"))
    if terms and not any(all(_satisfied(pool, e["key"], e["operator"], e.get("values", []))
                             for e in term.get("matchExpressions", [])) for term in terms):
        return False
    # Init containers count too: a sidecar's (restartPolicy Always) requests are held beside the main containers',
    # an ordinary init container's while it runs; either needs the resource on the node.
    requested = {r for c in [*spec.get("initContainers", []), *spec["containers"]] for part in ("requests", "limits")
                 for r in c.get("resources", {}).get(part, {}) if "/" in r}
    return all(_offers(pool, r) for r in requested)


def trainjob_pods(trainjob: Mapping[str, Any], runtime: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The pod spec of each replicated job of a TrainJob, by job name, as Kubeflow Trainer v2.3 builds them from the
    runtime (pkg/runtime/core/trainingruntime.go, plugins/jobset/builder.go): the trainer step's `node` container
    takes the TrainJob's image, command, args, env and resources per node; under an MPI policy that runs the
    launcher as a node, the `node` job's container takes the resources and env too (it keeps the runtime's image
    and command: its sshd)."""
    spec = runtime["spec"]
    mpi = spec.get("mlPolicy", {}).get("mpi") or {}
    trainer = trainjob["spec"].get("trainer", {})
    pods = {}
    for job in spec["template"]["spec"]["replicatedJobs"]:
        pod = copy.deepcopy(job["template"]["spec"]["template"]["spec"])
        is_trainer = (job["template"].get("metadata", {}).get("labels", {})
                      .get("trainer.kubeflow.org/trainjob-ancestor-step") == "trainer")
        if is_trainer or (mpi.get("runLauncherAsNode") and job["name"] == "node"):
            for node in (c for c in pod["containers"] if c["name"] == "node"):
                if "resourcesPerNode" in trainer:
                    node["resources"] = copy.deepcopy(trainer["resourcesPerNode"])
                if is_trainer:
                    for key in ("image", "command", "args"):
                        if key in trainer:
                            node[key] = trainer[key]
                node["env"] = [*node.get("env", []), *trainer.get("env", [])]
        pods[job["name"]] = pod
    return pods


def trainjob_node(trainjob: Mapping[str, Any], runtime: Mapping[str, Any]) -> dict[str, Any]:
    """The pod spec of a TrainJob's trainer step (the training node; the launcher under an MPI runtime)."""
    [job] = [j for j in runtime["spec"]["template"]["spec"]["replicatedJobs"]
             if j["template"].get("metadata", {}).get("labels", {})
             .get("trainer.kubeflow.org/trainjob-ancestor-step") == "trainer"]
    return trainjob_pods(trainjob, runtime)[job["name"]]


# Fields of a KServe predictor that configure the component, not its pod (v1beta1 ComponentExtensionSpec, the
# model-framework shorthands and the multi-node worker spec); the rest of the predictor is a PodSpec.
_PREDICTOR_NOT_POD = {"model", "minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "scaleMetricType",
                      "containerConcurrency", "timeout", "canaryTrafficPercent", "logger", "batcher", "labels",
                      "annotations", "deploymentStrategy", "autoScaling", "storageUris", "workerSpec", "name",
                      "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "pmml", "lightgbm", "paddle",
                      "huggingface"}
# What a ServingRuntime's pod spec contributes (v0.20.0 MergePodSpec); the predictor's own fields win.
_RUNTIME_POD_FIELDS = ("nodeSelector", "affinity", "tolerations", "volumes", "imagePullSecrets", "schedulerName")
# Model fields that pick the runtime and the model's files rather than describe the container.
_MODEL_NOT_CONTAINER = {"modelFormat", "runtime", "runtimeVersion", "protocolVersion", "storageUri", "storage"}


def inferenceservice_pods(isvc: Mapping[str, Any], runtime: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The predictor pod of a KServe InferenceService as KServe v0.20 builds it (components/predictor.go,
    utils.MergeRuntimeContainers and MergePodSpec): the runtime's placement, volumes and scheduler under the
    predictor's own pod fields, and the runtime's first container with the model's fields over it (its args
    appended to the runtime's). A predictor without `model` runs its own containers. Empty when the model names no
    runtime in `runtime` (None)."""
    predictor = isvc["spec"]["predictor"]
    own = {k: copy.deepcopy(v) for k, v in predictor.items() if k not in _PREDICTOR_NOT_POD}
    model = predictor.get("model")
    if model is None:
        return {"predictor": own} if own.get("containers") else {}
    if runtime is None:
        return {}
    spec = runtime["spec"]
    pod: dict[str, Any] = {k: copy.deepcopy(spec[k]) for k in _RUNTIME_POD_FIELDS if k in spec}
    for key, value in own.items():
        if key == "nodeSelector":
            pod["nodeSelector"] = {**pod.get("nodeSelector", {}), **value}
        elif key == "volumes":
            mine = {v["name"] for v in value}
            pod["volumes"] = [v for v in pod.get("volumes", []) if v["name"] not in mine] + value
        elif key != "containers":
            pod[key] = value
    container = copy.deepcopy(spec["containers"][0])
    for key, value in model.items():
        if key in _MODEL_NOT_CONTAINER:
            continue
        if key == "args":
            container["args"] = [*container.get("args", []), *value]
        elif key == "resources":
            container["resources"] = {part: {**container.get("resources", {}).get(part, {}), **value.get(part, {})}
                                      for part in ("requests", "limits") if part in value
                                      or part in container.get("resources", {})}
        else:
            container[key] = copy.deepcopy(value)
    pod["containers"] = [container, *copy.deepcopy(predictor.get("containers", []))]
    return {"predictor": pod}
