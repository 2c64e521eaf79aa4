"""Read-only CloudWatch access for the CloudWatch metrics exporter (YACE), via Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.common import ClusterScope, allow, policy, pod_identity_role

# YACE's documented minimum for discovery jobs (README "Authentication"): find tagged resources, list and read their
# metrics. The AWS/FSx namespace needs no service-specific permission.
CLOUDWATCH_READ_ACTIONS = ("cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
                           "tag:GetResources")


@dataclass(frozen=True)
class CloudWatchReaderConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    namespace: str
    service_account: str


class CloudWatchReader(Construct):
    def __init__(self, scope: Construct, id: str, config: CloudWatchReaderConfig) -> None:
        super().__init__(scope, id)
        c = config
        # None of these actions supports resource-level permissions, hence "*".
        self.role = pod_identity_role(
            self, role_name=f"{c.scope.cluster_name}-cloudwatch-exporter", cluster=c.scope,
            cluster_name=c.cluster_name, namespace=c.namespace, service_account=c.service_account,
            policy_document=policy(allow(list(CLOUDWATCH_READ_ACTIONS), "*", sid="ReadCloudWatchMetrics")))
