"""Read-only access for the External Secrets Operator, via Pod Identity, to the platform's generated secrets and to
the user's secrets the blueprint names (alert receivers' credentials, workload secrets; encrypted with a key the user
manages, they also need that key's policy to let this role decrypt)."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.common import ClusterScope, allow, policy, pod_identity_role


@dataclass(frozen=True)
class SecretAccessConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    namespace: str
    service_account: str
    secret_arns: tuple[str, ...]
    kms_key_arn: str
    # Secrets the user owns and names in the blueprint (alert receivers' credentials, workload secrets), by name.
    user_secret_names: tuple[str, ...] = ()

    def user_secret_arns(self) -> list[str]:
        """Secrets Manager appends a hyphen and six characters to a secret's name in its ARN."""
        s = self.scope
        return [f"arn:{s.partition}:secretsmanager:{s.region}:{s.account_id}:secret:{name}-??????"
                for name in self.user_secret_names]


class SecretReader(Construct):
    def __init__(self, scope: Construct, id: str, config: SecretAccessConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.role = pod_identity_role(
            self, role_name=f"{c.scope.cluster_name}-external-secrets", cluster=c.scope, cluster_name=c.cluster_name,
            namespace=c.namespace, service_account=c.service_account, policy_document=policy(
                *([allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], list(c.secret_arns),
                         sid="ReadPlatformSecrets"),
                   # The platform's key decrypts them only on behalf of Secrets Manager, not for direct use.
                   allow(["kms:Decrypt"], c.kms_key_arn, sid="DecryptThroughSecretsManager",
                         condition={"StringEquals": {
                             "kms:ViaService": f"secretsmanager.{c.scope.region}.amazonaws.com"}})]
                  if c.secret_arns else []),
                *([allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], c.user_secret_arns(),
                         sid="ReadNamedUserSecrets")] if c.user_secret_names else []),
            ))
