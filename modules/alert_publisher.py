"""Alertmanager's permission to publish to the SNS topics the blueprint's receivers name, via Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from modules.common import ClusterScope, allow, policy


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
        self.role = IamRole(self, "role", name=f"{c.scope.cluster_name}-alertmanager",
                            assume_role_policy=c.scope.pod_identity_trust(c.namespace, c.service_account))
        # Only Publish, only these topics (a topic encrypted with a customer key also needs that key's policy to
        # allow this role kms:GenerateDataKey* and kms:Decrypt).
        IamRolePolicy(self, "policy", role=self.role.id,
                      policy=policy(allow(["sns:Publish"], list(c.topic_arns), sid="PublishAlerts")))
        EksPodIdentityAssociation(self, "identity", cluster_name=c.cluster_name, namespace=c.namespace,
                                  service_account=c.service_account, role_arn=self.role.arn)
