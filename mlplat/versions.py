"""Every provider, chart, image and Kubernetes version the platform installs, in one place.

Each pin says where it comes from. Change a version here and nowhere else; tests check that every chart value the
platform sets exists in that chart's own values.yaml at the pinned version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Terraform providers. The prebuilt cdktn bindings (cdktn-provider-aws 25.x) are generated from aws 6.x, but the
# stacks only use attributes that 5.100 also has. 5.100.0 (2025-06) is the release every test validates against and
# deploys with, so it is the one admitted: a fresh init never floats to an untested 6.x.
AWS_PROVIDER_CONSTRAINT = "~> 5.100.0"
HELM_PROVIDER_CONSTRAINT = ">= 3.0.0, < 4.0.0"  # cdktn-provider-helm 15.x is generated from helm 3.x

# EKS. The calendar is AWS's, per minor: when EKS released it, when standard support ends (then extended support bills
# $0.60 instead of $0.10 per cluster-hour: 6x), and when extended support ends (then EKS no longer creates clusters
# on it and upgrades existing ones). `mlplat validate` warns on extended support and refuses an ended version.
# Sources: awsdocs/amazon-eks-user-guide latest/ug/versioning/kubernetes-versions.adoc @0e7fca37 (1.30-1.35);
# 1.36 from endoflife-date/endoflife.date products/amazon-eks.md @a70eca33 (AWS What's New 2026-06, not yet in the
# user guide's table when recorded); pricing from the AWS Containers blog "Amazon EKS extended support for Kubernetes
# versions pricing" (2024-04). Recorded 2026-11-30. EKS 1.37 (2026-10-02) is not offered yet: no AMI release or EKS-D
# kube-scheduler tag for it was recorded (see AL2023_AMI_RELEASES and KUBE_SCHEDULER_TAGS).
@dataclass(frozen=True)
class EksVersion:
    minor: str
    released: date
    end_of_standard_support: date
    end_of_extended_support: date


EKS_CALENDAR: dict[str, EksVersion] = {v.minor: v for v in (
    EksVersion("1.30", date(2024, 5, 23), date(2025, 7, 23), date(2026, 7, 23)),
    EksVersion("1.31", date(2024, 9, 26), date(2025, 11, 26), date(2026, 11, 26)),
    EksVersion("1.32", date(2025, 1, 23), date(2026, 3, 23), date(2027, 3, 23)),
    EksVersion("1.33", date(2025, 5, 29), date(2026, 7, 29), date(2027, 7, 29)),
    EksVersion("1.34", date(2025, 10, 2), date(2026, 12, 2), date(2027, 12, 2)),
    EksVersion("1.35", date(2026, 1, 27), date(2027, 3, 27), date(2028, 3, 27)),
    EksVersion("1.36", date(2026, 6, 2), date(2027, 8, 2), date(2028, 8, 2)),
)}


def eks_support(minor: str, today: date) -> str:
    """'standard', 'extended' or 'ended' (EKS no longer creates or runs clusters on it) for a calendar minor."""
    v = EKS_CALENDAR[minor]
    if today < v.end_of_standard_support:
        return "standard"
    return "extended" if today < v.end_of_extended_support else "ended"


def eks_versions_offered(today: date) -> tuple[str, ...]:
    """The minors a new platform may use today: recorded in the calendar and not past extended support."""
    return tuple(m for m in EKS_CALENDAR if eks_support(m, today) != "ended")


EKS_STANDARD_PRICE_PER_HOUR = 0.10
EKS_EXTENDED_PRICE_PER_HOUR = 0.60
# The newest version in standard support, for which every per-minor pin below is recorded.
EKS_DEFAULT_VERSION = "1.36"


# EKS managed add-ons. Each follows the cluster version: the AWS layer asks EKS (data.aws_eks_addon_version) for the
# default build of each add-on for the cluster's version, so changing eks_cluster_version upgrades the add-ons with
# the control plane; the resolved versions are recorded in state. The node monitoring agent is added when
# enable_node_auto_repair is on.
EKS_MANAGED_ADDONS = (
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "eks-pod-identity-agent",
    "aws-ebs-csi-driver",
    "aws-efs-csi-driver",
    "aws-fsx-csi-driver",
    "eks-node-monitoring-agent",
)

# Node images: Karpenter's EC2NodeClass alias pins an AMI release, not "latest", so node images only change when
# these lines change. An alias resolves per node to the image of the cluster's Kubernetes minor, so the release must
# ship every minor the platform offers (tests/foundation/test_versions.py checks this record).
# awslabs/amazon-eks-ami CHANGELOG.md "AMI Release v20260714" (2026-07-13): AL2023 standard, nvidia and neuron
# variants for Kubernetes 1.30-1.36. Bump on the AMI release cadence (kernel, containerd and NVIDIA driver fixes).
AL2023_AMI_RELEASE = "v20260714"
AL2023_AMI_RELEASES: dict[str, tuple[str, ...]] = {  # release -> Kubernetes minors it ships
    "v20251120": ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34"),
    "v20260714": ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36"),
}
AL2023_AMI_ALIAS = f"al2023@{AL2023_AMI_RELEASE}"
# bottlerocket-os/bottlerocket release notes: aws-k8s-1.35(-nvidia) added in v1.53.0 (2026-01-14), aws-k8s-1.36(-nvidia)
# in v1.61.0 (2026-05-18), aws-k8s-1.37 in v1.66.0 (2026-09-22); v1.68.0 still updates 1.31-1.36, so v1.66.0 ships
# 1.31-1.37.
BOTTLEROCKET_RELEASE = "v1.66.0"
BOTTLEROCKET_RELEASES: dict[str, tuple[str, ...]] = {
    "v1.66.0": ("1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37"),
}
BOTTLEROCKET_AMI_ALIAS = f"bottlerocket@{BOTTLEROCKET_RELEASE}"


@dataclass(frozen=True)
class Chart:
    chart: str
    repository: str
    version: str
    source: str  # where the pin comes from

    def __post_init__(self) -> None:
        if not self.version:
            raise ValueError(f"chart {self.chart} has no pinned version")


# Helm charts. Versions match the upstream releases copied into ../shared/reference/chart-values (2026-08).
CHARTS: dict[str, Chart] = {
    "karpenter": Chart(
        "karpenter", "oci://public.ecr.aws/karpenter", "1.14.1",
        "aws/karpenter-provider-aws v1.14.1 (the published chart stamps 1.14.1; the git tag's Chart.yaml reads 1.13.0)",
    ),
    # Same version as the controller chart: Karpenter publishes both from one release (hack/release/common.sh).
    "karpenter-crd": Chart(
        "karpenter-crd", "oci://public.ecr.aws/karpenter", "1.14.1",
        "aws/karpenter-provider-aws v1.14.1 charts/karpenter-crd, published with the controller chart (upgrade guide "
        "\"CRD Upgrades\")",
    ),
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "88.5.3",
        "prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3",
    ),
    "argo-cd": Chart(
        "argo-cd", "https://argoproj.github.io/argo-helm", "10.1.1", "argoproj/argo-helm tag argo-cd-10.1.1 (Argo CD v3.4.4)",
    ),
    "kueue": Chart("kueue", "oci://registry.k8s.io/kueue/charts", "0.19.2", "kubernetes-sigs/kueue v0.19.2"),
    "mlflow": Chart(
        "mlflow", "https://community-charts.github.io/helm-charts", "1.11.5",
        "community-charts/helm-charts tag mlflow-1.11.5 (MLflow 3.15.1)",
    ),
    # Apache Airflow's official chart: 1.22.0 (2026-06-13, the newest release; its default image is Airflow 3.2.2,
    # release notes of helm-chart/1.22.0). The anchor (MLOps on EKS) pins 1.16.0 (Airflow 2.10); this is the same
    # chart two Airflow majors on. The value keys the platform sets are recorded in tests/upstream/airflow-chart.json.
    "airflow": Chart(
        "airflow", "https://airflow.apache.org", "1.22.0",
        "apache/airflow tag helm-chart/1.22.0 chart/ (Airflow 3.2.2)",
    ),
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.20.0", "NVIDIA/k8s-device-plugin v0.20.0",
    ),
    "dcgm-exporter": Chart(
        "dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", "4.8.2", "NVIDIA/dcgm-exporter 4.5.3-4.8.2",
    ),
    "neuron-helm-chart": Chart(
        "neuron-helm-chart", "oci://public.ecr.aws/neuron", "1.9.0", "aws-neuron/neuron-helm-charts chart 1.9.0",
    ),
    "metrics-server": Chart(
        "metrics-server", "https://kubernetes-sigs.github.io/metrics-server", "3.13.1",
        "kubernetes-sigs/metrics-server tag metrics-server-helm-chart-3.13.1",
    ),
    "fluent-bit": Chart("fluent-bit", "https://fluent.github.io/helm-charts", "0.58.1", "fluent/helm-charts tag fluent-bit-0.58.1"),
    "opensearch-dashboards": Chart(
        "opensearch-dashboards", "https://opensearch-project.github.io/helm-charts", "3.6.0",
        "opensearch-project/helm-charts opensearch-dashboards-3.6.0 (OpenSearch Dashboards 3.6.0, read 2026-12-02)",
    ),
    "opensearch": Chart(
        "opensearch", "https://opensearch-project.github.io/helm-charts", "3.6.0", "opensearch-project/helm-charts opensearch-3.6.0",
    ),
    "external-secrets": Chart(
        "external-secrets", "https://charts.external-secrets.io", "2.9.0",
        "external-secrets/external-secrets tag helm-chart-2.9.0 (2026-08-08; values and CRDs in ../shared/reference). "
        "From 1.3.2: v2.0.0's one breaking change removed the Alibaba and Device42 providers; the external-secrets.io/v1 "
        "APIs the platform uses are unchanged",
    ),
    "kuberay-operator": Chart("kuberay-operator", "https://ray-project.github.io/kuberay-helm", "1.7.0", "ray-project/kuberay v1.7.0"),
    # The git tag's Chart.yaml reads 0.1.0; the release publishes the chart at the release's version
    # (../shared/reference/SOURCES.md), the form kubeflow/trainer v2.3.0's Chart.yaml depends on (lws 0.8.0).
    # Kubeflow Trainer v2 with its JobSet dependency (oci://registry.k8s.io/jobset/charts 0.12.0); the release notes
    # install it from this OCI repository into kubeflow-system.
    "kubeflow-trainer": Chart(
        "kubeflow-trainer", "oci://ghcr.io/kubeflow/charts", "2.3.0", "kubeflow/trainer v2.3.0 (2026-08-06)",
    ),
    "lws": Chart("lws", "oci://registry.k8s.io/lws/charts", "0.10.0", "kubernetes-sigs/lws v0.10.0 (2026-08-11)"),
    # KServe v0.20.0 splits its chart in three (../shared/reference/SOURCES.md): the CRDs, the controller with its
    # webhooks and inferenceservice-config, and kserve-runtime-configs (upstream's ClusterServingRuntimes and LLM
    # configs, both off by default). The platform installs the first two; it renders its own runtimes instead of the
    # third. charts/kserve-*/README.md at v0.20.0 install them from this OCI repository.
    "kserve-crd": Chart(
        "kserve-crd", "oci://ghcr.io/kserve/charts", "v0.20.0",
        "kserve/kserve tag v0.20.0 charts/kserve-crd (CRDs only; values and CRDs in ../shared/reference)",
    ),
    "kserve-resources": Chart(
        "kserve-resources", "oci://ghcr.io/kserve/charts", "v0.20.0",
        "kserve/kserve tag v0.20.0 charts/kserve-resources (controller, webhooks, inferenceservice-config)",
    ),
    # Zero to JupyterHub: the git tag's Chart.yaml reads 0.0.1-set.by.chartpress; chartpress publishes the release at
    # the tag's version. JupyterHub 5.5.0 (its appVersion).
    "jupyterhub": Chart(
        "jupyterhub", "https://hub.jupyter.org/helm-chart/", "4.4.0",
        "jupyterhub/zero-to-jupyterhub-k8s tag 4.4.0 (2026-06-10), JupyterHub 5.5.0",
    ),
    # Slinky (SchedMD): the CRDs, the operator with its webhook, and a Slurm cluster, all at v1.2.1 (2026-07-30, commit
    # 87313dac; values and CRDs in ../shared/reference, read 2026-12-02). docs/installation.md at the tag installs all
    # three from this OCI repository; the operator chart's CRD subchart is left off (crds.enabled false), so the CRDs
    # are a release of their own that Helm upgrades. The slurm chart's appVersion is Slurm 26.05 (the operator needs
    # 25.11 or later).
    "slurm-operator-crds": Chart(
        "slurm-operator-crds", "oci://ghcr.io/slinkyproject/charts", "1.2.1",
        "SlinkyProject/slurm-operator tag v1.2.1 helm/slurm-operator-crds (CRDs slinky.slurm.net/v1beta1)",
    ),
    "slurm-operator": Chart(
        "slurm-operator", "oci://ghcr.io/slinkyproject/charts", "1.2.1",
        "SlinkyProject/slurm-operator tag v1.2.1 helm/slurm-operator (operator and webhook images 1.2.1)",
    ),
    "slurm": Chart(
        "slurm", "oci://ghcr.io/slinkyproject/charts", "1.2.1",
        "SlinkyProject/slurm-operator tag v1.2.1 helm/slurm (Slurm 26.05 images, tag 26.05-ubuntu26.04)",
    ),
    "gpu-operator": Chart(
        "gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "v26.3.3",
        "NVIDIA/gpu-operator tag v26.3.3 (2026-06, latest patch of 26.3; v26.7.0 was a day old at pinning); "
        "not in ../shared/reference",
    ),
    "aws-efa-k8s-device-plugin": Chart(
        "aws-efa-k8s-device-plugin", "https://aws.github.io/eks-charts", "v0.5.30",
        "aws/eks-charts stable/aws-efa-k8s-device-plugin v0.5.30 (image v0.5.20, gh-pages index 2026-08-03); "
        "not in ../shared/reference",
    ),
    "cert-manager": Chart(
        "cert-manager", "https://charts.jetstack.io", "v1.21.1",
        "cert-manager/cert-manager tag v1.21.1 (2026-08); issues OpenSearch's TLS certificates; not in ../shared/reference",
    ),
    "loki": Chart(
        "loki", "https://grafana-community.github.io/helm-charts", "18.11.0",
        "grafana-community/helm-charts tag loki-18.11.0 (Loki 3.7.6; the chart moved from grafana/helm-charts); "
        "not in ../shared/reference",
    ),
    "tempo": Chart(
        "tempo", "https://grafana-community.github.io/helm-charts", "2.2.4",
        "grafana-community/helm-charts tag tempo-2.2.4 (Tempo 2.10.8, single binary); not in ../shared/reference",
    ),
    "opentelemetry-collector": Chart(
        "opentelemetry-collector", "https://open-telemetry.github.io/opentelemetry-helm-charts", "0.170.0",
        "open-telemetry/opentelemetry-helm-charts tag opentelemetry-collector-0.170.0 (collector 0.158.0); "
        "not in ../shared/reference",
    ),
    "opencost": Chart(
        "opencost", "https://opencost.github.io/opencost-helm-chart", "2.5.17",
        "opencost/opencost-helm-chart tag opencost-2.5.17 (OpenCost 1.120.1); not in ../shared/reference",
    ),
    # The ACK SageMaker controller: chart name sagemaker-chart, published to ECR Public at the controller's version.
    "sagemaker-chart": Chart(
        "sagemaker-chart", "oci://public.ecr.aws/aws-controllers-k8s", "1.9.1",
        "aws-controllers-k8s/sagemaker-controller tag v1.9.1 (dc497070, 2026-08-13) helm/Chart.yaml; controller image "
        "1.9.1 (helm/values.yaml), recorded 2026-12-02",
    ),
    "prometheus-yet-another-cloudwatch-exporter": Chart(
        "prometheus-yet-another-cloudwatch-exporter", "https://prometheus-community.github.io/helm-charts", "0.47.0",
        "prometheus-community/helm-charts tag prometheus-yet-another-cloudwatch-exporter-0.47.0 (YACE v0.67.0, "
        "latest as of 2026-08-22); not in ../shared/reference",
    ),
}

# The cluster access node (modules/access_node.py): the current standard AL2023 AMI for arm64, read at plan time from
# the public SSM parameter AWS publishes in every region (the standard AMI ships the SSM agent; the minimal one does
# not: AL2023 user guide, "AL2023 AMIs"), on the smallest Graviton burstable type.
ACCESS_NODE_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
ACCESS_NODE_INSTANCE_TYPE = "t4g.nano"

# MLflow's backend store (modules/mlflow_aws.py): Aurora PostgreSQL 16.8, a 2025 minor release of the 16 line that
# Serverless v2 supports. It sets the version at creation; AWS applies later minors in maintenance windows.
AURORA_POSTGRESQL_VERSION = "16.8"
AURORA_POSTGRESQL_PARAMETER_FAMILY = "aurora-postgresql16"
# Slurm's accounting database (modules/slurm_aws.py): slurmdbd speaks the MySQL protocol (MariaDB or MySQL; the Slinky
# docs pair it with MariaDB or "any mysql/mariadb compatible" service). Aurora MySQL 3.10.5 (MySQL 8.0.42, released
# 2026-07-30), the newest patch of the 3.10 long-term-support line in the document history of AWS's Aurora MySQL
# release notes (read 2026-12-02: 3.10.3 2026-01-02, 3.10.4 2026-03-30, 3.10.5 2026-07-30; 3.12.0 2026-02-17);
# Serverless v2 runs every 3.x version. Version string form `8.0.mysql_aurora.<version>` (Aurora user guide, "Aurora
# MySQL version numbers"); not read from a region's DescribeDBEngineVersions (`mlplat preflight` asks it).
AURORA_MYSQL_VERSION = "8.0.mysql_aurora.3.10.5"
AURORA_MYSQL_PARAMETER_FAMILY = "aurora-mysql8.0"

# Grafana plugins, installed by Grafana at start from grafana.com: grafana/opensearch-datasource tag v2.34.2
# (2026-08-05, needs Grafana >= 10.4); the dashboards' logs panels use this data source type.
GRAFANA_PLUGINS = {"grafana-opensearch-datasource": "2.34.2"}

# The in-repo chart (charts/mlplat-manifests) that applies the platform's typed Kubernetes objects.
MANIFESTS_CHART_VERSION = "0.1.0"

# Terraform/OpenTofu releases the stacks need: ephemeral resources (1.10) and write-only attributes (1.11) keep
# generated passwords out of state. cdktn checks features against these; terraform checks `required_version`.
TARGET_VERSIONS = {"terraform": ">=1.11.0", "opentofu": ">=1.11.0"}
TERRAFORM_REQUIRED_VERSION = ">= 1.11.0"

# Container images the platform sets itself (charts' own images follow their chart pins).
# neuron-monitor: AWS's standalone DaemonSet (aws-neuron-sdk src/k8/k8s-neuron-monitor-daemonset.yml).
NEURON_MONITOR_IMAGE = "public.ecr.aws/neuron/neuron-monitor:1.3.0"
# The log retention Job (mlplat/catalog/log_retention.py) runs the image the opensearch chart 3.6.0 runs: its values'
# image.repository at the chart's appVersion 3.6.0 (opensearch-project/helm-charts opensearch-3.6.0 Chart.yaml).
OPENSEARCH_IMAGE = "opensearchproject/opensearch:3.6.0"
# Kubeflow Trainer runtimes (mlplat/training_runtimes.py) run the AWS Deep Learning Containers the examples run
# (examples/gpu-efa-distributed-training.yaml, examples/neuron-training.yaml; tests/modules/test_trainer.py checks that
# they agree): the GPU one carries the EFA installer, libfabric and aws-ofi-nccl, the Neuron one the Neuron SDK 2.26.1.
# The Neuron image lives in the DLC account's registry of each region. Tags as the examples pin them, not read from a
# registry.
# Kubeflow Trainer's DeepSpeed runtime image (OpenMPI, sshd as mpiuser on port 2222, DeepSpeed), at the chart's own
# tag: charts/kubeflow-trainer/templates/_helpers.tpl (trainer.runtimeImage, tag v<chart version>) and
# cmd/runtimes/deepspeed/Dockerfile at v2.3.0.
TRAINER_DEEPSPEED_IMAGE = "ghcr.io/kubeflow/trainer/deepspeed-runtime:v2.3.0"
TRAINER_GPU_IMAGE = "public.ecr.aws/deep-learning-containers/pytorch-training:2.7.1-gpu-py312-cu128-ubuntu22.04-ec2"
TRAINER_NEURON_IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-training-neuronx:2.8.0-neuronx-py311-sdk2.26.1-ubuntu22.04"
# KServe ServingRuntimes (mlplat/serving_runtimes.py), and the vLLM server of the pipelines' vllm-serve step
# (mlplat/pipelines/steps.py), which runs these same two images. GPU: vLLM's OpenAI-compatible server at the tag the
# examples
# run (examples/vllm-multi-node-lws.yaml; tests/modules/test_kserve.py checks that they agree). Neuron: AWS's vLLM
# Neuron DLC, the newest line that still lists trn1 and inf2 (the neuron pool's default families; the 0.21+ lines
# are trn2/trn3 only): aws-neuron/deep-learning-containers README.md at 2be9ed1d (2026-08-17), row "VLLM 0.16.0,
# Neuron 2.31.1", Dockerfile vllm/inference/0.16.0/Dockerfile.neuronx at tag 2.31.1. Tag from that table, not read
# from the registry.
KSERVE_VLLM_GPU_IMAGE = "vllm/vllm-openai:v0.20.1"
KSERVE_VLLM_NEURON_IMAGE = ("public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:"
                            "0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04")
# Notebook images (Jupyter Docker Stacks, built 2026-08-07 with JupyterHub 5.5.0, the hub's version; x86_64 like the
# pools): jupyter/docker-stacks wiki page 2026-08 lists the scipy tag; the CUDA 12 PyTorch variant of the same build
# follows the stacks' documented prefix (`cuda12-`, docs/using/selecting.md) and was not read from the registry.
NOTEBOOK_CPU_IMAGE = "quay.io/jupyter/scipy-notebook:x86_64-2026-08-07"
NOTEBOOK_GPU_IMAGE = "quay.io/jupyter/pytorch-notebook:x86_64-cuda12-2026-08-07"
# EFA node exporter: AWS's build of node_exporter v1.9.0 with the amazonefa collector (procfs v0.16.0), published by
# aws-samples/awsome-distributed-training 4.validation_and_observability/3.efa-node-exporter/buildspec.yaml as
# public.ecr.aws/hpc-cloud/efa-node-exporter:node-exporter${NODE_EXPORTER_VERSION}-procs${PROCFS_EXPORTER_VERSION}
# (gallery.ecr.aws/hpc-cloud/efa-node-exporter); the tag is derived from that buildspec, not read from the registry.
EFA_NODE_EXPORTER_IMAGE = "public.ecr.aws/hpc-cloud/efa-node-exporter:node-exporterv1.9.0-procsv0.16.0"
# Pipeline steps without an image of their own (hf-snapshot, mlplat/pipelines/steps.py): the official Python image
# (docker-library/python's supported tags, 3.12 on Debian 12), in place of upstream MLOps on EKS's unpinned
# `python:slim-bullseye`; the Hugging Face Hub client at the version upstream's hf-snapshot chart installs
# (charts/machine-learning/model-prep/hf-snapshot templates/hf-snapshot.yaml). Tag not read from the registry.
PIPELINE_PYTHON_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim-bookworm"
HUGGINGFACE_HUB_VERSION = "0.22.2"
# The Neuron scheduler runs a second kube-scheduler, which must match the control plane's minor version: the newest
# production EKS Distro build of each minor, from aws/eks-distro docs/contents/releases/<minor>/<n>/index.md at main
# 17884462 (2026-08-19). Every tag is checked against tests/upstream/eks-distro-kube-scheduler-tags.json.
KUBE_SCHEDULER_REPOSITORY = "public.ecr.aws/eks-distro/kubernetes/kube-scheduler"
KUBE_SCHEDULER_TAGS = {
    "1.32": "v1.32.13-eks-1-32-41",
    "1.33": "v1.33.13-eks-1-33-31",
    "1.34": "v1.34.9-eks-1-34-21",
    "1.35": "v1.35.6-eks-1-35-13",
    "1.36": "v1.36.2-eks-1-36-7",
}
