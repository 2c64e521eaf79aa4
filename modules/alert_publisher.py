"""Alertmanager's permission to publish to the SNS topics the blueprint's receivers name, via Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.common import ClusterScope, allow, policy, pod_identity_role


@dataclass(frozen=True)
class AlertPublisherConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    namespace: str
    service_account: str
    topic_arns: tuple[str, ...]


class AlertPublisher(Construct):
    def __init__(self, scope: Construct, id: str, config: AlertPublisherConfig) -> None:
        super().__init__(scope, id)
        c = config
        # Only Publish, only these topics (a topic encrypted with a customer key also needs that key's policy to
        # allow this role kms:GenerateDataKey* and kms:Decrypt).
        self.role = pod_identity_role(
            self, role_name=f"{c.scope.cluster_name}-alertmanager", cluster=c.scope, cluster_name=c.cluster_name,
            namespace=c.namespace, service_account=c.service_account,
            policy_document=policy(allow(["sns:Publish"], list(c.topic_arns), sid="PublishAlerts")))
