"""Accelerator add-ons: the device stacks that make the node pools' accelerators schedulable (NVIDIA device plugin or
GPU operator, EFA device plugin, Neuron device plugin + scheduler + node problem detector, neuron-monitor), and the
storage workloads mount (gp3 default class, EFS, FSx for Lustre).

Node agents land only where they serve: a nodeSelector on the pools' labels and tolerations of exactly those pools'
taints, so none of them reaches the tainted system nodes. Controllers (GPU operator, NFD master, Neuron scheduler)
run on the system nodes on purpose, like Karpenter: they must not depend on the capacity they make usable.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Mapping

from mlplat import versions
from mlplat.addons import NO_PODS, NODE_AGENT, SYSTEM, AddOn, AddonContext
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.nodepools import ACCELERATOR_LABEL, AMI_FAMILY_LABEL, EFA_LABEL, NEURON_SCHEDULER, tolerations_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

NVIDIA_GPU = "nvidia.com/gpu"
NEURON_DEVICE = "aws.amazon.com/neuron"
MANAGED = {"app.kubernetes.io/managed-by": "mlplat"}

NEURON_MONITOR_NAMESPACE = "neuron-monitor"
NEURON_MONITOR_IMAGE = versions.NEURON_MONITOR_IMAGE  # the neuron chart stopped shipping neuron-monitor
# dashboards/scrape-contract.yaml: job neuron-monitor, named port `metrics`, /metrics, `node` from the pod's node.
NEURON_MONITOR_JOB = "neuron-monitor"
NEURON_MONITOR_PORT = 8000
PROMETHEUS_LABELS = {"release": "kube-prometheus-stack"}  # kube-prometheus-stack selects monitors by release

GP3_CLASS = "gp3"
EFS_CLASS = "efs"
EFS_SHARED_CLAIM = "efs-shared"
FSX_SHARED_CLAIM = "fsx-shared"


def _system_nodes() -> dict[str, Any]:
    """Placement on the system node group, as fresh objects (shared ones would become YAML anchors)."""
    return copy.deepcopy(SYSTEM_NODES)


def _system_affinity() -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}
                              for key, value in SYSTEM_NODES["nodeSelector"].items()]}]}}}


def _on_accelerator_nodes(bp: "Blueprint", accelerator: str) -> dict[str, Any]:
    value = {NVIDIA_GPU: "nvidia", NEURON_DEVICE: "neuron"}[accelerator]
    return {"nodeSelector": {ACCELERATOR_LABEL: value}, "tolerations": tolerations_for(bp.pools_offering(accelerator))}


# --- NVIDIA -----------------------------------------------------------------------------------------------------------

def nvidia_device_plugin_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        # Replaces the chart's NFD-label affinity: no NFD runs here, the pools' labels say where the GPUs are.
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [
                {"key": ACCELERATOR_LABEL, "operator": "In", "values": ["nvidia"]},
                # Bottlerocket's NVIDIA images run the device plugin on the host already.
                {"key": AMI_FAMILY_LABEL, "operator": "NotIn", "values": ["bottlerocket"]},
            ]}]}}},
        "tolerations": tolerations_for(bp.pools_offering(NVIDIA_GPU)),
    }


def gpu_operator_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "operator": {"affinity": _system_affinity(), "tolerations": _system_nodes()["tolerations"]},
        # Operands follow NFD's nvidia.com/gpu.present label, which only the NVIDIA pools' nodes get.
        "daemonsets": {"tolerations": tolerations_for(bp.pools_offering(NVIDIA_GPU))},
        # Karpenter cannot provision MIG slices (mlplat/nodepools.py MIG_NOT_OFFERED): whole GPUs only.
        "migManager": {"enabled": False},
        "node-feature-discovery": {
            "worker": _on_accelerator_nodes(bp, NVIDIA_GPU),
            "master": _system_nodes(),
            "gc": _system_nodes(),
        },
    }


# --- EFA --------------------------------------------------------------------------------------------------------------

def efa_device_plugin_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    # The chart adds a CriticalAddonsOnly toleration of its own; the nodeSelector keeps it off the system nodes.
    return {"nodeSelector": {EFA_LABEL: "true"}, "tolerations": tolerations_for(bp.efa_pools)}


# --- Neuron -----------------------------------------------------------------------------------------------------------

def neuron_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "devicePlugin": _on_accelerator_nodes(bp, NEURON_DEVICE),
        "scheduler": {
            "enabled": True, **_system_nodes(),
            "customScheduler": {
                "enabled": True, "fullnameOverride": NEURON_SCHEDULER, **_system_nodes(),
                # The chart's default kube-scheduler is 1.31; it must follow the control plane's minor version.
                "image": {"repository": versions.KUBE_SCHEDULER_REPOSITORY,
                          "tag": versions.KUBE_SCHEDULER_TAGS[bp.eks_cluster_version]},
            },
        },
        "npd": {
            # The chart creates no namespace for the detector; the release's own (kube-system) always exists.
            "enabled": True, "namespaceOverride": "kube-system", **_on_accelerator_nodes(bp, NEURON_DEVICE),
            # It reports the NeuronHealth condition (alert NeuronHealthDegraded); its recovery marks an Auto Scaling
            # group instance unhealthy, and Karpenter nodes belong to none: enable_node_auto_repair replaces them.
            "nodeRecovery": {"enabled": False},
        },
    }


def neuron_monitor_objects(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    labels = {"app.kubernetes.io/name": NEURON_MONITOR_JOB, **MANAGED}
    selector = {"app.kubernetes.io/name": NEURON_MONITOR_JOB}
    ns = NEURON_MONITOR_NAMESPACE
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": NEURON_MONITOR_JOB, "namespace": ns, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    **_on_accelerator_nodes(bp, NEURON_DEVICE),
                    "containers": [{
                        "name": "neuron-monitor",
                        "image": NEURON_MONITOR_IMAGE,
                        # neuron-monitor piped into its Prometheus exporter, serving /metrics on the port below.
                        "command": ["/opt/bin/entrypoint.sh"],
                        "args": ["--port", str(NEURON_MONITOR_PORT),
                                 "--neuron-monitor-config", "/opt/aws/neuron/bin/neuron-monitor.conf"],
                        "ports": [{"name": "metrics", "containerPort": NEURON_MONITOR_PORT, "protocol": "TCP"}],
                        "env": [{"name": "GOMEMLIMIT", "value": "160MiB"}],
                        "resources": {"requests": {"cpu": "250m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi"}},
                        # It reads the Neuron devices and driver counters of the host.
                        "securityContext": {"privileged": True},
                    }],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NEURON_MONITOR_JOB, "namespace": ns, "labels": dict(labels)},
        "spec": {"clusterIP": "None", "selector": dict(selector),
                 "ports": [{"name": "metrics", "port": NEURON_MONITOR_PORT, "targetPort": "metrics"}]},
    }
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": NEURON_MONITOR_JOB, "namespace": ns, "labels": {**labels, **PROMETHEUS_LABELS}},
        "spec": {
            "jobLabel": "app.kubernetes.io/name",  # job="neuron-monitor", whatever the Service is called
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": [ns]},
            "endpoints": [{
                "port": "metrics", "path": "/metrics", "scheme": "http", "interval": "30s", "honorLabels": False,
                "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}],
            }],
        },
    }
    return {"objects": [daemonset, service, monitor]}


# --- Storage ----------------------------------------------------------------------------------------------------------

def storage_class_objects(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    objects: list[dict[str, Any]] = [{
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": GP3_CLASS, "labels": dict(MANAGED),
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        # The volume is created in the AZ where the pod lands, not where the claim happened to be made.
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Delete",
    }]
    if bp.enable_efs:
        objects.append({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": EFS_CLASS, "labels": dict(MANAGED)},
            "provisioner": "efs.csi.aws.com",
            # One EFS access point per claim, rooted in its own directory under /dynamic.
            "parameters": {"provisioningMode": "efs-ap", "fileSystemId": ctx.outputs["efs_file_system_id"],
                           "directoryPerms": "700", "basePath": "/dynamic"},
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        })
    return {"objects": objects}


def _static_volume(name: str, namespace: str, claim: str, capacity: str, csi: dict[str, Any],
                   mount_options: list[str]) -> list[dict[str, Any]]:
    """A PersistentVolume bound to exactly one claim; PVs are cluster-scoped, so each namespace gets its own."""
    pv = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": dict(MANAGED)},
        "spec": {
            "capacity": {"storage": capacity},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",  # the data outlives the claim
            "storageClassName": "",
            "csi": csi,
            "claimRef": {"namespace": namespace, "name": claim},
        },
    }
    if mount_options:
        pv["spec"]["mountOptions"] = mount_options
    pvc = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim, "namespace": namespace, "labels": dict(MANAGED)},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": name,
                 "resources": {"requests": {"storage": capacity}}},
    }
    return [pv, pvc]


def shared_volumes(bp: "Blueprint", out: Mapping[str, str], ns: str) -> list[dict[str, Any]]:
    """The efs-shared and fsx-shared claims of namespace `ns` (those the blueprint enables), each bound to a
    PersistentVolume of its own on the platform's file system (a PersistentVolume binds one claim)."""
    objects: list[dict[str, Any]] = []
    if bp.enable_efs:
        # EFS is elastic; the capacity is nominal (Kubernetes requires one).
        objects += _static_volume(f"{EFS_SHARED_CLAIM}-{ns}", ns, EFS_SHARED_CLAIM, "1Ti", {
            "driver": "efs.csi.aws.com", "volumeHandle": out["efs_file_system_id"],
            "volumeAttributes": {"encryptInTransit": "true"},
        }, [])
    if bp.enable_fsx:
        capacity = f"{bp.fsx_storage_capacity}Gi"
        objects += _static_volume(f"{FSX_SHARED_CLAIM}-{ns}", ns, FSX_SHARED_CLAIM, capacity, {
            "driver": "fsx.csi.aws.com", "volumeHandle": out["fsx_file_system_id"],
            "volumeAttributes": {"dnsname": out["fsx_dns_name"], "mountname": out["fsx_mount_name"]},
        }, ["flock"])
    return objects


def shared_volume_objects(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [o for ns in ctx.blueprint.workload_namespaces
                        for o in shared_volumes(ctx.blueprint, ctx.outputs, ns)]}


def _workload_namespaces_enabled(bp: "Blueprint") -> bool:
    # The namespaces belong to the `workload-namespaces` add-on (modules); the claims follow wherever it is on.
    from mlplat.catalog import by_name

    return by_name()["workload-namespaces"].enabled(bp)


ADDONS: list[AddOn] = [
    AddOn("nvidia-device-plugin", "kube-system",
          enabled=lambda bp: bool(bp.pools_offering(NVIDIA_GPU)) and not bp.enable_nvidia_gpu_operator,
          chart=versions.CHARTS["nvidia-device-plugin"], conflicts_with=("nvidia-gpu-operator",),
          computed_values=nvidia_device_plugin_values, sync_wave=-6, placement=NODE_AGENT),
    AddOn("nvidia-gpu-operator", "gpu-operator",
          enabled=lambda bp: bp.enable_nvidia_gpu_operator and bool(bp.pools_offering(NVIDIA_GPU)),
          chart=versions.CHARTS["gpu-operator"], conflicts_with=("nvidia-device-plugin",),
          computed_values=gpu_operator_values, toggle="enable_nvidia_gpu_operator", sync_wave=-6, placement=SYSTEM),
    AddOn("aws-efa-k8s-device-plugin", "kube-system", enabled=lambda bp: bool(bp.efa_pools),
          chart=versions.CHARTS["aws-efa-k8s-device-plugin"], computed_values=efa_device_plugin_values, sync_wave=-6, placement=NODE_AGENT),
    AddOn("aws-neuron", "kube-system", enabled=lambda bp: bool(bp.pools_offering(NEURON_DEVICE)),
          chart=versions.CHARTS["neuron-helm-chart"], computed_values=neuron_values, sync_wave=-6, placement=SYSTEM),
    AddOn("neuron-monitor", NEURON_MONITOR_NAMESPACE,
          enabled=lambda bp: bool(bp.pools_offering(NEURON_DEVICE)) and bp.enable_ai_ml_observability_stack,
          depends_on=("kube-prometheus-stack",), computed_values=neuron_monitor_objects,
          toggle="enable_ai_ml_observability_stack", placement=NODE_AGENT),
    AddOn("storage-classes", "kube-system", enabled=lambda bp: True, computed_values=storage_class_objects,
          sync_wave=-7, placement=NO_PODS),
    AddOn("shared-volumes", "kube-system",
          enabled=lambda bp: (bp.enable_efs or bp.enable_fsx) and _workload_namespaces_enabled(bp),
          depends_on=("workload-namespaces",), computed_values=shared_volume_objects, sync_wave=-5, placement=NO_PODS),
]
