"""Kubeflow Trainer ClusterTrainingRuntimes the platform owns: one PyTorch runtime per enabled accelerator pool,
placed on that pool, with the shared volumes mounted and the pool's network settings (EFA) in the environment.

Typed data (`TrainingRuntime`) rendered by one function (`render`). A TrainJob names a runtime and brings its own
image or command, node count and resources per node; placement, tolerations and mounts come from the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlplat import versions
from mlplat.nodepools import NEURON_SCHEDULER, POOL_LABEL, NodePoolSpec, toleration_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

API_VERSION = "trainer.kubeflow.org/v1alpha1"
# The trainer applies a TrainJob's `spec.trainer` to this replicated job and container (the names upstream's runtimes
# use, and the label that marks the trainer step).
NODE = "node"
TRAINER_STEP_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
# libfabric over the EFA devices, with GPUDirect RDMA (p4d, p5): aws-ofi-nccl then carries NCCL's traffic.
EFA_ENV = (("FI_PROVIDER", "efa"), ("FI_EFA_USE_DEVICE_RDMA", "1"))
SHARED_CLAIMS = {"efs-shared": "/efs", "fsx-shared": "/fsx"}
SHM_GIB = 64
# The runtime the platform renders for each accelerator pool, when that pool is enabled.
RUNTIME_POOLS = {"torch-gpu": "gpu", "torch-gpu-efa": "gpu-efa", "torch-neuron": "neuron"}


@dataclass(frozen=True)
class TrainingRuntime:
    name: str
    pool: NodePoolSpec
    image: str
    env: tuple[tuple[str, str], ...] = ()
    scheduler: str | None = None
    claims: tuple[str, ...] = ()  # shared claims of the workload namespaces to mount (SHARED_CLAIMS)
    description: str = ""


def runtimes_for(bp: "Blueprint") -> list[TrainingRuntime]:
    pools = {p.name: p for p in bp.enabled_pools}
    claims = tuple(c for c, on in (("efs-shared", bp.enable_efs), ("fsx-shared", bp.enable_fsx)) if on)
    # Compiled graphs are cached on FSx when there is one, so a rerun (or another node) skips neuronx-cc.
    neuron_env = (("NEURON_COMPILE_CACHE_URL", "/fsx/neuron-compile-cache"),) if bp.enable_fsx else ()
    every = {
        "torch-gpu": dict(image=versions.TRAINER_GPU_IMAGE, description="PyTorch (torchrun) on the gpu pool"),
        "torch-gpu-efa": dict(image=versions.TRAINER_GPU_IMAGE, env=EFA_ENV,
                              description="PyTorch (torchrun) across gpu-efa nodes, NCCL over EFA"),
        "torch-neuron": dict(image=versions.TRAINER_NEURON_IMAGE.format(region=bp.region), env=neuron_env,
                             scheduler=NEURON_SCHEDULER,
                             description="PyTorch/XLA (torchrun) on Trainium, placed by the Neuron scheduler"),
    }
    return [TrainingRuntime(name, pools[pool], claims=claims, **every[name])
            for name, pool in RUNTIME_POOLS.items() if pool in pools]


def render(runtime: TrainingRuntime, labels: dict[str, str]) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GIB}Gi"}}]
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    for claim in runtime.claims:
        volumes.append({"name": claim, "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": claim, "mountPath": SHARED_CLAIMS[claim]})
    pod: dict[str, Any] = {
        "nodeSelector": {POOL_LABEL: runtime.pool.name},
        "tolerations": toleration_for(runtime.pool),
        "containers": [{"name": NODE, "image": runtime.image,
                        "env": [{"name": k, "value": v} for k, v in runtime.env],
                        "volumeMounts": mounts}],
        "volumes": volumes,
    }
    if runtime.scheduler:
        pod["schedulerName"] = runtime.scheduler
    return {
        "apiVersion": API_VERSION, "kind": "ClusterTrainingRuntime",
        "metadata": {"name": runtime.name, "labels": {**labels, "trainer.kubeflow.org/framework": "torch"},
                     "annotations": {"mlplat.io/description": runtime.description}},
        "spec": {
            "mlPolicy": {"numNodes": 1, "torch": {}},
            "template": {"spec": {"replicatedJobs": [{
                "name": NODE,
                "template": {"metadata": {"labels": {TRAINER_STEP_LABEL: "trainer"}},
                             "spec": {"template": {"spec": pod}}},
            }]}},
        },
    }
