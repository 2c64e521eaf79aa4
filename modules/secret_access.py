"""Read-only access to the platform's generated secrets for the External Secrets Operator, via Pod Identity."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from modules.common import POD_IDENTITY_TRUST, allow, policy


@dataclass(frozen=True)
class SecretAccessConfig:
    name: str  # platform name, prefixes the role
    cluster_name: str
    region: str
    namespace: str
    service_account: str
    secret_arns: tuple[str, ...]
    kms_key_arn: str


class SecretReader(Construct):
    def __init__(self, scope: Construct, id: str, config: SecretAccessConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.role = IamRole(self, "role", name=f"{c.name}-external-secrets",
                            assume_role_policy=POD_IDENTITY_TRUST)
        IamRolePolicy(self, "policy", role=self.role.id, policy=policy(
            allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], list(c.secret_arns),
                  sid="ReadPlatformSecrets"),
            # The key decrypts only on behalf of Secrets Manager, not for direct use.
            allow(["kms:Decrypt"], c.kms_key_arn, sid="DecryptThroughSecretsManager",
                  condition={"StringEquals": {"kms:ViaService": f"secretsmanager.{c.region}.amazonaws.com"}}),
        ))
        EksPodIdentityAssociation(self, "identity", cluster_name=c.cluster_name, namespace=c.namespace,
                                  service_account=c.service_account, role_arn=self.role.arn)
