"""Shared pieces of the accelerator tests: the blueprint deltas (few, so synths stay cached), the pod-to-pool matcher
(mlplat/placement.py), and the verified Helm value keys of the charts that ../shared/reference does not carry."""

from __future__ import annotations

from typing import Any

from mlplat.placement import fits, pod_spec, pod_specs, trainjob_node  # noqa: F401  (re-exported for the tests)

RESERVATION = "cr-0123456789abcdef0"

# Every pool on (cpu on Bottlerocket, gpu-efa with a capacity reservation); Kueue brings the workload namespaces.
ALL_POOLS = {
    "cuda_efa_az": "us-west-2a",
    "neuron_az": "us-west-2b",
    "enable_kueue": True,
    "nodepools": {
        "cpu": {"enabled": True, "ami_family": "bottlerocket"},
        "gpu-efa": {"enabled": True, "capacity_reservation_ids": [RESERVATION]},
        "neuron": {"enabled": True},
        "inferentia1": {"enabled": True},
    },
}

# The other side of every accelerator toggle: GPU operator, observability (neuron-monitor), node auto repair.
OPERATOR = {
    "cuda_efa_az": "us-west-2a",
    "neuron_az": "us-west-2b",
    "enable_nvidia_gpu_operator": True,
    "enable_ai_ml_observability_stack": True,
    "enable_node_auto_repair": True,
    "nodepools": {
        "gpu-efa": {"enabled": True},
        "neuron": {"enabled": True},
    },
}

# No shared file systems, but workload namespaces (Kueue) that could hold claims.
NO_FILESYSTEMS = {"enable_efs": False, "enable_fsx": False, "enable_kueue": True}


# --- Helm value keys of charts not in ../shared/reference ---------------------------------------------------------
# Only the keys the platform sets, with the shape of their defaults (`{}` free-form map, `[]` list, scalars as in
# the chart). Verified by reading the charts at the pinned versions:
#   gpu-operator v26.3.3: NVIDIA/gpu-operator deployments/gpu-operator/values.yaml and its vendored subchart
#     charts/node-feature-discovery/values.yaml (0.18.3; nodeSelector/tolerations of master, worker and gc);
#   aws-efa-k8s-device-plugin v0.5.30: aws/eks-charts stable/aws-efa-k8s-device-plugin/values.yaml.
GPU_OPERATOR_KEYS: dict[str, Any] = {
    "operator": {"tolerations": [], "affinity": {"nodeAffinity": {}}},
    "daemonsets": {"tolerations": []},
    "mig": {"strategy": "single"},
    "migManager": {"enabled": True, "config": {"default": "all-disabled", "create": False, "name": "", "data": {}}},
    "cdi": {"enabled": True, "nriPluginEnabled": False},
    "driver": {"enabled": True},
    "toolkit": {"enabled": True},
    "dcgmExporter": {"enabled": True},
    "node-feature-discovery": {
        "master": {"nodeSelector": {}, "tolerations": []},
        "worker": {"nodeSelector": {}, "tolerations": []},
        "gc": {"nodeSelector": {}, "tolerations": []},
    },
}
EFA_DEVICE_PLUGIN_KEYS: dict[str, Any] = {"nodeSelector": {}, "tolerations": []}
