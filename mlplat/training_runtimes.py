"""Kubeflow Trainer ClusterTrainingRuntimes the platform owns: one PyTorch runtime per enabled accelerator pool,
placed on that pool, with the shared volumes mounted and the pool's network settings (EFA) in the environment; and
an MPI runtime for DeepSpeed (and any mpirun program) on the gpu pool, the MPI Operator's successor in Trainer v2.

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
LAUNCHER = "launcher"
TRAINER_STEP_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
# libfabric over the EFA devices, with GPUDirect RDMA (p4d, p5): aws-ofi-nccl then carries NCCL's traffic.
EFA_ENV = (("FI_PROVIDER", "efa"), ("FI_EFA_USE_DEVICE_RDMA", "1"))
SHARED_CLAIMS = {"efs-shared": "/efs", "fsx-shared": "/fsx"}
SHM_GIB = 64
# The runtime the platform renders for each accelerator pool, when that pool is enabled.
RUNTIME_POOLS = {"torch-gpu": "gpu", "torch-gpu-efa": "gpu-efa", "torch-neuron": "neuron", "deepspeed-gpu": "gpu"}
# Upstream's deepspeed-distributed runtime (charts/kubeflow-trainer/files/runtimes at v2.3.0): the image runs sshd as
# mpiuser (uid 1000) from this config, on this port; the launcher waits for every node's sshd to be ready.
MPI_USER_HOME = "/home/mpiuser"
MPI_SSHD_PORT = 2222


@dataclass(frozen=True)
class TrainingRuntime:
    name: str
    pool: NodePoolSpec
    image: str
    env: tuple[tuple[str, str], ...] = ()
    scheduler: str | None = None
    claims: tuple[str, ...] = ()  # shared claims of the workload namespaces to mount (SHARED_CLAIMS)
    description: str = ""
    framework: str = "torch"
    mpi: bool = False  # an OpenMPI launcher (which also trains) reaching the other nodes' sshd


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
        "deepspeed-gpu": dict(image=versions.TRAINER_DEEPSPEED_IMAGE, framework="deepspeed", mpi=True,
                              description="DeepSpeed (or any mpirun program) on the gpu pool: an OpenMPI launcher and "
                                          "nodes over SSH, upstream's DeepSpeed runtime image"),
    }
    return [TrainingRuntime(name, pools[pool], claims=claims, **every[name])
            for name, pool in RUNTIME_POOLS.items() if pool in pools]


def _pod(runtime: TrainingRuntime, container: dict[str, Any]) -> dict[str, Any]:
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
                        **container, "volumeMounts": mounts}],
        "volumes": volumes,
    }
    if runtime.mpi:
        pod["securityContext"] = {"fsGroup": 1000}
    if runtime.scheduler:
        pod["schedulerName"] = runtime.scheduler
    return pod


def _job(name: str, pod: dict[str, Any], trainer: bool, **extra: Any) -> dict[str, Any]:
    template: dict[str, Any] = {"spec": {"template": {"spec": pod}}}
    if trainer:
        template["metadata"] = {"labels": {TRAINER_STEP_LABEL: "trainer"}}
    return {"name": name, **extra, "template": template}


def render(runtime: TrainingRuntime, labels: dict[str, str]) -> dict[str, Any]:
    if runtime.mpi:
        # Nodes serve sshd; the launcher (the trainer step, rank 0 too) starts mpirun once every sshd is ready, and
        # the job succeeds when the launcher does. Trainer mounts the generated SSH keys and the hostfile.
        as_mpiuser = {"securityContext": {"runAsUser": 1000}}
        sshd = {**as_mpiuser, "command": ["/usr/sbin/sshd"], "args": ["-De", "-f", f"{MPI_USER_HOME}/.sshd_config"],
                "readinessProbe": {"tcpSocket": {"port": MPI_SSHD_PORT}, "initialDelaySeconds": 5}}
        policy: dict[str, Any] = {"numNodes": 1, "mpi": {"numProcPerNode": 1, "mpiImplementation": "OpenMPI",
                                                         "sshAuthMountPath": f"{MPI_USER_HOME}/.ssh",
                                                         "runLauncherAsNode": True}}
        jobset: dict[str, Any] = {
            "network": {"publishNotReadyAddresses": True},
            "successPolicy": {"operator": "All", "targetReplicatedJobs": [LAUNCHER]},
            "replicatedJobs": [_job(NODE, _pod(runtime, sshd), trainer=False),
                               _job(LAUNCHER, _pod(runtime, as_mpiuser), trainer=True,
                                    dependsOn=[{"name": NODE, "status": "Ready"}])],
        }
    else:
        policy = {"numNodes": 1, "torch": {}}
        jobset = {"replicatedJobs": [_job(NODE, _pod(runtime, {}), trainer=True)]}
    return {
        "apiVersion": API_VERSION, "kind": "ClusterTrainingRuntime",
        "metadata": {"name": runtime.name, "labels": {**labels, "trainer.kubeflow.org/framework": runtime.framework},
                     "annotations": {"mlplat.io/description": runtime.description}},
        "spec": {"mlPolicy": policy, "template": {"spec": jobset}},
    }
