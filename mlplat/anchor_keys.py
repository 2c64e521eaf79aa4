"""The anchors' toggle names and what each one is here: the mlplat key that does the job, or why mlplat does not offer
it. One record serves three readers: the blueprint (an anchor name written into a blueprint gets this answer instead
of a did-you-mean towards an unrelated key), the README's mapping table (`make docs`), and the test that every toggle
of the anchors' variables.tf (recorded in tests/upstream/anchor-toggles.json) is listed here.

JARK is awslabs/ai-on-eks; MLOps on EKS is aws-samples/amazon-eks-machine-learning-with-terraform-and-kubeflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

JARK = "JARK"
MLOPS = "MLOps on EKS"


@dataclass(frozen=True)
class AnchorKey:
    name: str
    anchor: str
    what: str  # what the anchor's toggle installs or switches
    keys: tuple[str, ...] = ()  # the mlplat blueprint keys that do this job; empty: not offered
    note: str = ""  # with keys: how they do it; without: why it is not offered

    @property
    def offered(self) -> bool:
        return bool(self.keys)

    def message(self) -> str:
        """What a blueprint that uses this name is told (never for a name that is itself an mlplat key)."""
        if self.offered:
            keys = " and ".join(self.keys)
            how = f" ({self.note})" if self.note else ""
            return f"{self.anchor}'s name for {self.what}; in mlplat that is {keys}{how}: use it instead of this key"
        what = self.what.removeprefix("the ")  # "JARK's AIBrix stack", not "JARK's the AIBrix stack"
        return f"{self.anchor}'s {what}, which mlplat does not offer: {self.note}; remove it"


_OUTSIDE_CORE = "it is outside the GPU/Neuron training and serving core this platform covers"
_PUBLIC = ("nothing is exposed outside the cluster by default (services are ClusterIP; `mlplat open` forwards a port), "
           "so there is no gateway or ingress to run")
_NOT_YET = "not built yet (the MLOps modules issue tracks it)"
_SLURM = "Slinky's operator and cluster chart, accounting on Aurora MySQL, NodeSets on the pools (slurm_nodesets)"

_ENTRIES = (
    # Cluster, network and node infrastructure
    AnchorKey("enable_database_subnets", JARK, "isolated database subnets",
              note="the Aurora clusters (MLflow) live in the private subnets behind a security group that admits only "
                   "the cluster's nodes"),
    AnchorKey("enable_eks_auto_mode", JARK, "EKS Auto Mode",
              note="mlplat runs Karpenter itself, pinned, with its own EC2NodeClasses per pool (AMI, EFA, Neuron, MIG "
                   "and local NVMe settings) that Auto Mode's managed node classes replace"),
    AnchorKey("enable_cluster_addons", JARK, "per-add-on switches for the EKS managed add-ons",
              note="the managed add-ons are a fixed, pinned set (mlplat/versions.py EKS_MANAGED_ADDONS), each needed "
                   "by the storage, identity or node-health features"),
    AnchorKey("enable_aws_load_balancer_controller", JARK, "the AWS Load Balancer Controller",
              note=_PUBLIC + "; the optional internal NLBs (argocd_internal_load_balancer, "
                             "grafana_internal_load_balancer) use Service annotations"),
    AnchorKey("enable_service_mutator_webhook", JARK, "the AWS Load Balancer Controller's Service webhook",
              note=_PUBLIC),
    AnchorKey("enable_external_dns", JARK, "ExternalDNS", note=_PUBLIC + ", and so no DNS record to publish"),
    AnchorKey("enable_cilium", JARK, "Cilium chained on the VPC CNI",
              note="the platform keeps the VPC CNI alone; " + _OUTSIDE_CORE),
    AnchorKey("enable_soci_snapshotter", JARK, "the SOCI snapshotter",
              note="pools use containerd's default snapshotter; pools with local NVMe put it in RAID0 for images"),
    AnchorKey("karpenter_enabled", MLOPS, "the switch between Karpenter and managed node groups",
              note="Karpenter is always on: every accelerator and CPU pool is a Karpenter NodePool"),
    AnchorKey("karpenter_cr_enabled", MLOPS, "capacity reservations for Karpenter", ("nodepools",),
              "each pool's capacity_reservation_ids"),
    AnchorKey("hyperpod_enabled", MLOPS, "SageMaker HyperPod's EKS integration",
              note="HyperPod supplies nodes through its own instance groups instead of Karpenter, whose pools are "
                   "what the queues, runtimes and examples here target"),
    # Storage
    AnchorKey("enable_aws_efs_csi_driver", JARK, "the EFS CSI driver and a file system", ("enable_efs",),
              "the file system, the driver as an EKS add-on with Pod Identity, and an efs-shared claim per workload "
              "namespace"),
    AnchorKey("enable_aws_fsx_csi_driver", JARK, "the FSx for Lustre CSI driver", ("enable_fsx",),
              "the file system linked to S3, the driver, and an fsx-shared claim per workload namespace"),
    AnchorKey("enable_s3_models_storage", JARK, "a model bucket with sync and inference service accounts",
              ("workload_s3_access",), "per workload namespace, a Pod Identity role reading the listed buckets and "
              "writing under the listed prefixes"),
    # Accelerators
    AnchorKey("efa_enabled", MLOPS, "EFA interfaces per instance type", ("nodepools",),
              "the gpu-efa pool; pods request vpc.amazonaws.com/efa and the EFA device plugin is installed with it"),
    AnchorKey("enable_aws_efa_k8s_device_plugin", JARK, "the EFA device plugin", ("nodepools",),
              "installed when the gpu-efa pool is enabled"),
    AnchorKey("enable_aws_neuron_device_plugin", JARK, "the Neuron device plugin", ("nodepools",),
              "installed with the scheduler extension when the neuron or inferentia1 pool is enabled"),
    AnchorKey("enable_aws_neuron_monitor", JARK, "neuron-monitor", ("enable_ai_ml_observability_stack",),
              "installed with the stack when a Neuron pool is enabled"),
    AnchorKey("enable_nvidia_device_plugin", JARK, "the NVIDIA device plugin", ("nodepools",),
              "installed when an NVIDIA pool is enabled and the GPU operator is not"),
    AnchorKey("enable_nvidia_gpu_operator", JARK, "the NVIDIA GPU operator", ("enable_nvidia_gpu_operator",)),
    AnchorKey("enable_nvidia_gpu_operator_mig_manager", JARK, "the GPU operator's MIG manager", ("nodepools",),
              "a pool's mig_config, with enable_nvidia_gpu_operator = true"),
    AnchorKey("enable_nvidia_gpu_operator_dcgm_exporter", JARK, "the GPU operator's DCGM exporter",
              ("enable_ai_ml_observability_stack",), "dcgm-exporter is installed with the stack when an NVIDIA pool is "
              "enabled, with or without the operator"),
    AnchorKey("enable_nvidia_dcgm_exporter", JARK, "a standalone DCGM exporter", ("enable_ai_ml_observability_stack",),
              "installed with the stack when an NVIDIA pool is enabled, scraped by a ServiceMonitor"),
    AnchorKey("dcgm_exporter_enabled", MLOPS, "the DCGM exporter", ("enable_ai_ml_observability_stack",),
              "installed with the stack when an NVIDIA pool is enabled, scraped by a ServiceMonitor"),
    AnchorKey("enable_nvidia_dra_driver", JARK, "NVIDIA's DRA driver",
              note="GPUs are device-plugin resources (nvidia.com/gpu) that the pools' Kueue quotas count"),
    AnchorKey("enable_aws_dranet", JARK, "the AWS DRANET driver",
              note="EFA interfaces are device-plugin resources (vpc.amazonaws.com/efa) that the EFA pools' Kueue "
                   "quotas count"),
    AnchorKey("enable_nvidia_nim_stack", JARK, "the NVIDIA NIM operator",
              note="NIM needs an NVIDIA AI Enterprise licence; models are served with vLLM (KServe, Ray Serve or "
                   "LeaderWorkerSet)"),
    AnchorKey("enable_dynamo_platform", JARK, "NVIDIA Dynamo", note=_NOT_YET),
    AnchorKey("enable_aibrix_stack", JARK, "the AIBrix stack", note=_NOT_YET),
    # Scheduling, training and pipelines
    AnchorKey("kueue_enabled", MLOPS, "Kueue", ("enable_kueue",),
              "with queues per pool, fair sharing, preemption and LocalQueues in every workload namespace"),
    AnchorKey("enable_volcano", JARK, "the Volcano batch scheduler",
              note="Kueue (enable_kueue) admits each distributed job as one unit"),
    AnchorKey("enable_mpi_operator", JARK, "MPI operator",
              note="it publishes kustomize manifests, not a Helm chart mlplat can pin, and Kubeflow Trainer v2 takes "
                   "over its role (set enable_kubeflow_trainer = true: MPI programs run as TrainJobs on the "
                   "deepspeed-gpu runtime)"),
    AnchorKey("enable_kuberay_operator", JARK, "the KubeRay operator", ("enable_kuberay_operator",)),
    AnchorKey("enable_rayserve_ha_elastic_cache_redis", JARK, "Ray Serve's GCS fault tolerance on ElastiCache",
              note=_NOT_YET),
    AnchorKey("enable_torchx_etcd", JARK, "etcd for TorchX",
              note="torchrun's c10d rendezvous on the first node needs no etcd"),
    AnchorKey("enable_leader_worker_set", JARK, "LeaderWorkerSet", ("enable_leader_worker_set",)),
    AnchorKey("enable_argo_workflows", JARK, "Argo Workflows",
              note="pipelines run with `mlplat pipeline run`, each step queued by Kueue"),
    AnchorKey("enable_argo_events", JARK, "Argo Events",
              note="pipelines run with `mlplat pipeline run`, which a CI system or scheduler calls"),
    AnchorKey("airflow_enabled", MLOPS, "Airflow", ("enable_airflow",),
              "the official chart with the KubernetesExecutor, metadata on Aurora PostgreSQL, task logs on S3, DAGs "
              "from git (airflow_dags_git_repo) or the example DAG that runs a pipeline"),
    AnchorKey("kubeflow_platform_enabled", MLOPS, "the full Kubeflow platform",
              note="it installs from kustomize manifests with Istio, Dex and oauth2-proxy, not from pinned charts; "
                   "TrainJobs come with enable_kubeflow_trainer, notebooks with enable_jupyterhub, pipelines with "
                   "`mlplat pipeline run`"),
    AnchorKey("enable_slurm_operator", JARK, "Slinky's Slurm operator", ("enable_slurm",), _SLURM),
    AnchorKey("enable_mariadb_operator", JARK, "the MariaDB operator (for Slurm accounting)",
              note="Slurm's accounting database is an Aurora MySQL cluster of the AWS layer (enable_slurm)"),
    AnchorKey("slurm_enabled", MLOPS, "Slurm on Kubernetes", ("enable_slurm",), _SLURM),
    AnchorKey("slurm_login_enabled", MLOPS, "Slurm login nodes", ("slurm_login_ssh_public_keys",),
              "login nodes exist when keys are listed: without one nobody could sign in"),
    AnchorKey("ack_sagemaker_enabled", MLOPS, "the ACK SageMaker controller", ("enable_ack_sagemaker",)),
    AnchorKey("enable_amazon_emr", JARK, "EMR on EKS", note=_OUTSIDE_CORE),
    # Serving
    AnchorKey("kserve_enabled", MLOPS, "KServe", ("enable_kserve",),
              "in RawDeployment mode, without Knative or Istio"),
    AnchorKey("enable_istio", JARK, "Istio", note=_PUBLIC),
    AnchorKey("enable_envoy_gateway", JARK, "Envoy Gateway", note=_PUBLIC),
    AnchorKey("enable_envoy_ai_gateway", JARK, "Envoy AI Gateway", note=_PUBLIC),
    AnchorKey("enable_envoy_ai_gateway_crds", JARK, "Envoy AI Gateway's CRDs", note=_PUBLIC),
    AnchorKey("enable_gateway_api_crds", JARK, "the Gateway API CRDs", note=_PUBLIC),
    AnchorKey("enable_gateway_api_inference_crds", JARK, "the Gateway API inference extension CRDs", note=_PUBLIC),
    AnchorKey("enable_agentgateway", JARK, "agentgateway", note=_PUBLIC),
    AnchorKey("enable_redis", JARK, "an in-cluster Redis", note=_OUTSIDE_CORE),
    # Notebooks and tracking
    AnchorKey("enable_jupyterhub", JARK, "JupyterHub", ("enable_jupyterhub",)),
    AnchorKey("enable_jupyter_enterprise_gateway", JARK, "Jupyter Enterprise Gateway", note=_OUTSIDE_CORE),
    AnchorKey("enable_mlflow_tracking", JARK, "MLflow tracking", ("enable_mlflow",),
              "on Aurora Serverless v2 with TLS, artifacts on S3, authentication on"),
    AnchorKey("mlflow_enabled", MLOPS, "MLflow", ("enable_mlflow",),
              "on Aurora Serverless v2 with TLS, artifacts on S3, authentication on"),
    # Observability
    AnchorKey("enable_ai_ml_observability_stack", JARK, "the AI/ML observability stack",
              ("enable_ai_ml_observability_stack",)),
    AnchorKey("enable_kube_prometheus_stack", JARK, "kube-prometheus-stack", ("enable_ai_ml_observability_stack",),
              "Prometheus, Alertmanager and Grafana are part of the stack"),
    AnchorKey("prometheus_enabled", MLOPS, "Prometheus", ("enable_ai_ml_observability_stack",),
              "Prometheus, Alertmanager and Grafana are part of the stack"),
    AnchorKey("enable_grafana_operator", JARK, "the Grafana operator",
              note="dashboards are versioned JSON files loaded by Grafana's sidecar from ConfigMaps"),
    AnchorKey("enable_amazon_prometheus", JARK, "Amazon Managed Service for Prometheus",
              note="metrics stay in the cluster's Prometheus (prometheus_retention, prometheus_storage_gib)"),
    AnchorKey("enable_aws_cloudwatch_metrics", JARK, "the CloudWatch metrics agent",
              note="node and pod metrics go to the cluster's Prometheus; CloudWatch metrics of FSx are read into it"),
    AnchorKey("enable_kubecost", JARK, "Kubecost", ("enable_ai_ml_observability_stack",),
              "OpenCost and the GPU efficiency and cost dashboard come with the stack"),
    AnchorKey("observability_mcp_enabled", JARK, "MCP servers for the observability stack", note=_OUTSIDE_CORE),
    AnchorKey("enable_langfuse", JARK, "Langfuse", note=_OUTSIDE_CORE),
    # Identity and certificates
    AnchorKey("enable_cert_manager", JARK, "cert-manager",
              ("enable_kserve", "enable_slurm", "observability_logs_backend"),
              "installed when something needs certificates: KServe's and Slurm's webhooks, OpenSearch's TLS"),
    # Agentic and developer tools
    AnchorKey("enable_agent_sandbox", JARK, "the agent-sandbox controller", note=_OUTSIDE_CORE),
    AnchorKey("enable_kro", JARK, "kro", note=_OUTSIDE_CORE),
    AnchorKey("enable_ack_lambdamicrovms", JARK, "the ACK Lambda MicroVMs controller", note=_OUTSIDE_CORE),
    AnchorKey("enable_gitlab", JARK, "GitLab", note=_OUTSIDE_CORE),
    AnchorKey("enable_milvus", JARK, "Milvus", note=_OUTSIDE_CORE),
    AnchorKey("enable_mcp_gateway_registry", JARK, "the MCP gateway registry", note=_OUTSIDE_CORE),
    AnchorKey("enable_selenium_grid", JARK, "Selenium Grid", note=_OUTSIDE_CORE),
    AnchorKey("kagent_enabled", MLOPS, "kagent", note=_OUTSIDE_CORE),
    AnchorKey("kmcp_enabled", MLOPS, "kmcp", note=_OUTSIDE_CORE),
)

ANCHOR_KEYS: Mapping[str, AnchorKey] = MappingProxyType({e.name: e for e in _ENTRIES})

# Anchor names that are not toggles but that users of the anchors write, each said plainly.
OTHER_REFUSALS: Mapping[str, str] = MappingProxyType({
    "enable_kubeflow_training_operator": "JARK's Kubeflow training operator v1, which mlplat does not offer: v1.9 is "
                                         "the last v1 line, maintenance-only, and its MPIJob v1 CRD takes the name "
                                         "the MPI operator's v2beta1 needs; remove it",
    "secondary_cidr_blocks": "JARK's secondary VPC CIDRs for pods; mlplat gives pods 1/8 of vpc_cidr per zone instead "
                             "(size vpc_cidr for it); remove it",
})


def refusals(blueprint_keys: set[str]) -> dict[str, str]:
    """Anchor names that are not mlplat keys, each with what the blueprint answers when it meets one."""
    out = {name: entry.message() for name, entry in ANCHOR_KEYS.items() if name not in blueprint_keys}
    out.update(OTHER_REFUSALS)
    return out


def mapping_table() -> str:
    rows = ["| anchor key | anchor | what it is | in mlplat |", "|---|---|---|---|"]
    for entry in sorted(_ENTRIES, key=lambda e: (e.anchor, e.name)):
        if entry.offered:
            keys = ", ".join(f"`{k}`" for k in entry.keys)
            here = keys + (f": {entry.note}" if entry.note else "")
        else:
            here = f"not offered: {entry.note}"
        rows.append(f"| `{entry.name}` | {entry.anchor} | {entry.what} | {here} |")
    return "\n".join(rows)
