"""Read-only access to the platform's generated secrets for the External Secrets Operator, via Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from modules.common import ClusterScope, allow, policy


@dataclass(frozen=True)
class SecretAccessConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    namespace: str
    service_account: str
    secret_arns: tuple[str, ...]
    kms_key_arn: str


class SecretReader(Construct):
    def __init__(self, scope: Construct, id: str, config: SecretAccessConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.role = IamRole(self, "role", name=f"{c.scope.cluster_name}-external-secrets",
                            assume_role_policy=c.scope.pod_identity_trust(c.namespace, c.service_account))
        IamRolePolicy(self, "policy", role=self.role.id, policy=policy(
            allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], list(c.secret_arns),
                  sid="ReadPlatformSecrets"),
            # The key decrypts only on behalf of Secrets Manager, not for direct use.
            allow(["kms:Decrypt"], c.kms_key_arn, sid="DecryptThroughSecretsManager",
                  condition={"StringEquals": {"kms:ViaService": f"secretsmanager.{c.scope.region}.amazonaws.com"}}),
        ))
        EksPodIdentityAssociation(self, "identity", cluster_name=c.cluster_name, namespace=c.namespace,
                                  service_account=c.service_account, role_arn=self.role.arn)
