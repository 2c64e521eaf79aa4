"""What EKS publishes rather than stores: managed add-ons with their versions, and the cluster access policies.

Versions are plausible EKS builds (what `aws eks describe-addon-versions` reported for each Kubernetes version in
late 2025, extended to 1.35 and 1.36); they only need to look and behave like real ones. The Kubernetes versions are
the ones EKS still creates clusters on as of 2026-11-30 (1.31's extended support ended 2026-11-26).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Kubernetes versions the catalog knows; DescribeAddonVersions without a version lists these.
KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35", "1.36")
DEFAULT_KUBERNETES_VERSION = "1.36"


@dataclass(frozen=True)
class AddonSpec:
    type: str
    # Default build per Kubernetes version; "*" covers versions not listed.
    versions: dict[str, str]
    default_namespace: str = "kube-system"
    # (service account, recommended AWS-managed policy name) pairs the add-on can use with EKS Pod Identity.
    pod_identity_service_accounts: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def default_version(self, kubernetes_version: str) -> str:
        return self.versions.get(kubernetes_version, self.versions["*"])


ADDONS: dict[str, AddonSpec] = {
    "vpc-cni": AddonSpec(
        "networking", {"*": "v1.20.4-eksbuild.1"}, pod_identity_service_accounts=(("aws-node", "AmazonEKS_CNI_Policy"),)
    ),
    "coredns": AddonSpec(
        "networking",
        {
            "1.29": "v1.11.1-eksbuild.13",
            "1.30": "v1.11.3-eksbuild.2",
            "1.31": "v1.11.4-eksbuild.24",
            "1.32": "v1.11.4-eksbuild.24",
            "1.33": "v1.12.4-eksbuild.1",
            "1.35": "v1.13.1-eksbuild.2",
            "1.36": "v1.13.2-eksbuild.1",
            "*": "v1.12.4-eksbuild.1",
        },
    ),
    "kube-proxy": AddonSpec(
        "networking",
        {
            "1.29": "v1.29.15-eksbuild.12",
            "1.30": "v1.30.14-eksbuild.8",
            "1.31": "v1.31.10-eksbuild.12",
            "1.32": "v1.32.6-eksbuild.12",
            "1.33": "v1.33.3-eksbuild.10",
            "1.34": "v1.34.0-eksbuild.4",
            "1.35": "v1.35.0-eksbuild.3",
            "1.36": "v1.36.1-eksbuild.2",
            "*": "v1.33.3-eksbuild.10",
        },
    ),
    "eks-pod-identity-agent": AddonSpec("security", {"*": "v1.3.9-eksbuild.5"}),
    "aws-ebs-csi-driver": AddonSpec(
        "storage",
        {"*": "v1.51.1-eksbuild.1"},
        pod_identity_service_accounts=(("ebs-csi-controller-sa", "service-role/AmazonEBSCSIDriverPolicy"),),
    ),
    "aws-efs-csi-driver": AddonSpec(
        "storage",
        {"*": "v2.1.14-eksbuild.1"},
        pod_identity_service_accounts=(("efs-csi-controller-sa", "service-role/AmazonEFSCSIDriverPolicy"),),
    ),
    "aws-fsx-csi-driver": AddonSpec(
        "storage",
        {"*": "v1.7.0-eksbuild.1"},
        pod_identity_service_accounts=(("fsx-csi-controller-sa", "AmazonFSxFullAccess"),),
    ),
    "aws-mountpoint-s3-csi-driver": AddonSpec(
        "storage",
        {"*": "v2.1.0-eksbuild.1"},
        pod_identity_service_accounts=(("s3-csi-driver-sa", "AmazonS3FullAccess"),),
    ),
    "snapshot-controller": AddonSpec("storage", {"*": "v8.3.0-eksbuild.1"}),
    "eks-node-monitoring-agent": AddonSpec("observability", {"*": "v1.4.1-eksbuild.1"}),
    "metrics-server": AddonSpec("observability", {"*": "v0.8.0-eksbuild.2"}),
    "amazon-cloudwatch-observability": AddonSpec(
        "observability",
        {"*": "v4.5.0-eksbuild.1"},
        default_namespace="amazon-cloudwatch",
        pod_identity_service_accounts=(("cloudwatch-agent", "CloudWatchAgentServerPolicy"),),
    ),
}

# Names of the EKS cluster access policies (ListAccessPolicies); their ARNs are
# arn:<partition>:eks::aws:cluster-access-policy/<name>.
ACCESS_POLICY_NAMES = (
    "AmazonAIOpsAssistantPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSComputeClusterPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSLoadBalancingClusterPolicy",
    "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSViewPolicy",
)
