"""Blueprint keys of the workload operators: what lets users run Ray and multi-node serving on the platform's pools."""

from __future__ import annotations

from dataclasses import dataclass

from mlplat.schema import field


@dataclass(frozen=True)
class WorkloadKeys:
    enable_kuberay_operator: bool = field(
        False, "Install the KubeRay operator (RayCluster, RayJob, RayService) on the system nodes; with Kueue, Ray "
        "clusters, jobs and services queue through the LocalQueues.",
    )
    enable_kubeflow_trainer: bool = field(
        False, "Install Kubeflow Trainer v2 (TrainJob) with JobSet on the system nodes, and a PyTorch "
        "ClusterTrainingRuntime per enabled accelerator pool (torch-gpu, torch-gpu-efa, torch-neuron) placed on it with "
        "the shared volumes mounted; with Kueue, TrainJobs queue through the LocalQueues.",
    )
    enable_leader_worker_set: bool = field(
        False, "Install LeaderWorkerSet (a leader pod and its workers deployed, scaled and restarted as one unit, for "
        "multi-node inference); with Kueue, each group is admitted as one workload.",
    )

    def _rules_workloads(self) -> list[tuple[tuple[str, ...], str]]:
        return []
