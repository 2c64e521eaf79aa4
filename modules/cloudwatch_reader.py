"""Read-only CloudWatch access for the CloudWatch metrics exporter (YACE), via Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from modules.common import POD_IDENTITY_TRUST, allow, policy

# YACE's documented minimum for discovery jobs (README "Authentication"): find tagged resources, list and read their
# metrics. The AWS/FSx namespace needs no service-specific permission.
CLOUDWATCH_READ_ACTIONS = ("cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
                           "tag:GetResources")


@dataclass(frozen=True)
class CloudWatchReaderConfig:
    name: str  # platform name, prefixes the role
    cluster_name: str
    namespace: str
    service_account: str


class CloudWatchReader(Construct):
    def __init__(self, scope: Construct, id: str, config: CloudWatchReaderConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.role = IamRole(self, "role", name=f"{c.name}-cloudwatch-exporter", assume_role_policy=POD_IDENTITY_TRUST)
        # None of these actions supports resource-level permissions, hence "*".
        IamRolePolicy(self, "policy", role=self.role.id,
                      policy=policy(allow(CLOUDWATCH_READ_ACTIONS, "*", sid="ReadCloudWatchMetrics")))
        EksPodIdentityAssociation(self, "identity", cluster_name=c.cluster_name, namespace=c.namespace,
                                  service_account=c.service_account, role_arn=self.role.arn)
