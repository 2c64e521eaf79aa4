"""Every provider, chart, image and Kubernetes version the platform installs, in one place.

Each pin says where it comes from. Change a version here and nowhere else; tests check that every chart value the
platform sets exists in that chart's own values.yaml at the pinned version.
"""

from __future__ import annotations

from dataclasses import dataclass

# Terraform providers. The prebuilt cdktn bindings (cdktn-provider-aws 25.x) are generated from aws 6.x, but the
# stacks only use attributes that 5.100 also has, so the constraint admits both: air-gapped mirrors that still carry
# 5.100.x keep working (terraform validate runs against 5.100.0 in the tests).
AWS_PROVIDER_CONSTRAINT = ">= 5.100.0, < 7.0.0"
HELM_PROVIDER_CONSTRAINT = ">= 3.0.0, < 4.0.0"  # cdktn-provider-helm 15.x is generated from helm 3.x
KUBERNETES_PROVIDER_CONSTRAINT = ">= 2.38.0, < 3.0.0"  # cdktn-provider-kubernetes 17.x is generated from 2.x

# EKS. Supported control-plane versions (EKS standard support as of 2026-11); the default is the newest we test.
EKS_VERSIONS = ("1.31", "1.32", "1.33", "1.34")
EKS_DEFAULT_VERSION = "1.33"

# EKS managed add-ons. No explicit addon_version: EKS then installs its default build for the cluster version, which
# is what AWS tests together; the resolved version is recorded in state and changes only with eks_cluster_version.
EKS_MANAGED_ADDONS = (
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "eks-pod-identity-agent",
    "aws-ebs-csi-driver",
    "aws-efs-csi-driver",
    "aws-fsx-csi-driver",
)

# Node images: Karpenter's EC2NodeClass alias pins the AMI family release, not "latest", so node images only change
# when this line changes. AL2023 v20251120 (awslabs/amazon-eks-ami release notes) ships the standard, nvidia and neuron
# variants for EKS 1.31-1.34, which the alias picks per instance type; Bottlerocket v1.51.0 sits between v1.50.0
# (2025-11-06) and v1.52.0 (2025-12-22), after the k8s-1.34 variants arrived in v1.47.0.
AL2023_AMI_ALIAS = "al2023@v20251120"
BOTTLEROCKET_AMI_ALIAS = "bottlerocket@v1.51.0"


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
    "opensearch": Chart(
        "opensearch", "https://opensearch-project.github.io/helm-charts", "3.6.0", "opensearch-project/helm-charts opensearch-3.6.0",
    ),
    "opensearch-dashboards": Chart(
        "opensearch-dashboards", "https://opensearch-project.github.io/helm-charts", "3.6.0",
        "opensearch-project/helm-charts opensearch-dashboards-3.6.0",
    ),
    "external-secrets": Chart(
        "external-secrets", "https://charts.external-secrets.io", "1.3.2",
        "external-secrets/external-secrets chart 1.3.2 (external-secrets.io/v1 APIs); not in ../shared/reference",
    ),
    "kuberay-operator": Chart("kuberay-operator", "https://ray-project.github.io/kuberay-helm", "1.7.0", "ray-project/kuberay v1.7.0"),
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
    "prometheus-yet-another-cloudwatch-exporter": Chart(
        "prometheus-yet-another-cloudwatch-exporter", "https://prometheus-community.github.io/helm-charts", "0.47.0",
        "prometheus-community/helm-charts tag prometheus-yet-another-cloudwatch-exporter-0.47.0 (YACE v0.67.0, "
        "latest as of 2026-08-22); not in ../shared/reference",
    ),
}

# MLflow's backend store (modules/mlflow_aws.py): Aurora PostgreSQL 16.8, a 2025 minor release of the 16 line that
# Serverless v2 supports. It sets the version at creation; AWS applies later minors in maintenance windows.
AURORA_POSTGRESQL_VERSION = "16.8"
AURORA_POSTGRESQL_PARAMETER_FAMILY = "aurora-postgresql16"

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
# EFA node exporter: AWS's build of node_exporter v1.9.0 with the amazonefa collector (procfs v0.16.0), published by
# aws-samples/awsome-distributed-training 4.validation_and_observability/3.efa-node-exporter/buildspec.yaml as
# public.ecr.aws/hpc-cloud/efa-node-exporter:node-exporter${NODE_EXPORTER_VERSION}-procs${PROCFS_EXPORTER_VERSION}
# (gallery.ecr.aws/hpc-cloud/efa-node-exporter); the tag is derived from that buildspec, not read from the registry.
EFA_NODE_EXPORTER_IMAGE = "public.ecr.aws/hpc-cloud/efa-node-exporter:node-exporterv1.9.0-procsv0.16.0"
# The Neuron scheduler runs a second kube-scheduler, which must match the control plane's minor version; tags from the
# EKS Distro release manifests (aws/eks-distro docs/contents/releases/<minor>/<n>/index.md).
KUBE_SCHEDULER_REPOSITORY = "public.ecr.aws/eks-distro/kubernetes/kube-scheduler"
KUBE_SCHEDULER_TAGS = {
    "1.31": "v1.31.12-eks-1-31-30",  # neuron-helm-chart 1.9.0 default
    "1.32": "v1.32.9-eks-1-32-30",
    "1.33": "v1.33.7-eks-1-33-23",
    "1.34": "v1.34.11-eks-1-34-24",
}
