"""KServe ClusterServingRuntimes the platform owns: vLLM's OpenAI-compatible server on the NVIDIA `gpu` pool and AWS's
vLLM Neuron container on the `neuron` pool (trn1/trn2/inf2), each rendered only when its pool is enabled.

Typed data (`ServingRuntime`) rendered by one function (`render`). An InferenceService names a runtime
(`spec.predictor.model.runtime`), a model location (`storageUri`, downloaded to /mnt/models by KServe's storage
initializer) and its resources; placement, tolerations, scheduler, image and server flags come from the runtime.
KServe appends the InferenceService's `args` to the runtime's (v0.20.0 MergeRuntimeContainers), so engine flags
(tensor parallelism, context length) go there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlplat import versions
from mlplat.nodepools import NEURON_SCHEDULER, POOL_LABEL, NodePoolSpec, toleration_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

API_VERSION = "serving.kserve.io/v1alpha1"
KIND = "ClusterServingRuntime"
# KServe merges the InferenceService's model container into the runtime container of this name.
CONTAINER = "kserve-container"
MODEL_FORMAT = "vllm"
MODEL_DIR = "/mnt/models"  # where the storage initializer puts storageUri's files
HTTP_PORT = 8080
# The observability stack's vLLM PodMonitor (job vllm) scrapes /metrics on the port named http of pods with this label.
VLLM_COMPONENT_LABEL = ("app.kubernetes.io/component", "vllm")
SHM_GIB = 16  # NCCL and vLLM's worker processes exchange tensors through /dev/shm
# The runtime the platform renders for each pool, when that pool is enabled. Not inferentia1: inf1 runs only the
# first-generation Neuron SDK (torch-neuron), which vLLM does not support.
RUNTIME_POOLS = {"vllm-gpu": "gpu", "vllm-neuron": "neuron"}


@dataclass(frozen=True)
class ServingRuntime:
    name: str
    pool: NodePoolSpec
    image: str
    description: str
    scheduler: str | None = None
    shm_gib: int = SHM_GIB


def runtimes_for(bp: "Blueprint") -> list[ServingRuntime]:
    pools = {p.name: p for p in bp.enabled_pools}
    every = {
        "vllm-gpu": dict(image=versions.KSERVE_VLLM_GPU_IMAGE,
                         description="vLLM OpenAI-compatible server on the gpu pool"),
        "vllm-neuron": dict(image=versions.KSERVE_VLLM_NEURON_IMAGE, scheduler=NEURON_SCHEDULER,
                            description="vLLM with the Neuron plugin on the neuron pool (inf2, trn1, trn2), placed "
                                        "by the Neuron scheduler"),
    }
    return [ServingRuntime(name, pools[pool], **every[name]) for name, pool in RUNTIME_POOLS.items() if pool in pools]


def render(runtime: ServingRuntime, labels: dict[str, str]) -> dict[str, Any]:
    container = {
        "name": CONTAINER, "image": runtime.image,
        # Both images run `vllm serve` (the DLC's entrypoint would run whatever the args say; be explicit).
        "command": ["vllm", "serve"],
        "args": [MODEL_DIR, f"--port={HTTP_PORT}", "--served-model-name={{.Name}}"],
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": HTTP_PORT}, "periodSeconds": 10},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
    }
    spec: dict[str, Any] = {
        # Never picked implicitly: an InferenceService names its runtime, so it lands on the pool it asked for.
        "supportedModelFormats": [{"name": MODEL_FORMAT, "autoSelect": False}],
        "multiModel": False,
        # Pod labels of every predictor using it (KServe: runtime labels < InferenceService < predictor labels).
        "labels": dict([VLLM_COMPONENT_LABEL]),
        "nodeSelector": {POOL_LABEL: runtime.pool.name},
        "tolerations": toleration_for(runtime.pool),
        "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{runtime.shm_gib}Gi"}}],
        "containers": [container],
    }
    if runtime.scheduler:
        spec["schedulerName"] = runtime.scheduler
    return {
        "apiVersion": API_VERSION, "kind": KIND,
        "metadata": {"name": runtime.name, "labels": dict(labels),
                     "annotations": {"mlplat.io/description": runtime.description}},
        "spec": spec,
    }
