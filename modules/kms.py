"""The platform's customer-managed KMS key: EKS secrets envelope encryption, Secrets Manager, EFS, FSx, Aurora, and
the platform's CloudWatch log groups (EKS control plane, VPC flow logs)."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.kms_alias import KmsAlias
from cdktn_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.common import policy

KEY_ACTIONS_FOR_LOGS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")


@dataclass(frozen=True)
class KeyConfig:
    name: str
    partition: str
    region: str
    account_id: str
    # Log group name prefixes whose groups may encrypt with the key (CloudWatch Logs uses it as the logs service).
    log_group_prefixes: tuple[str, ...]


def key_policy(c: KeyConfig) -> str:
    """An explicit key policy: the account administers the key through IAM (no lockout, least privilege stays in the
    IAM policies of each role); CloudWatch Logs may use it only for the platform's own log groups (the CloudWatch
    Logs guide's statement, scoped by encryption context)."""
    log_groups = [f"arn:{c.partition}:logs:{c.region}:{c.account_id}:log-group:{prefix}*"
                  for prefix in c.log_group_prefixes]
    return policy(
        {"Sid": "AccountAdministersThroughIam", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{c.partition}:iam::{c.account_id}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchLogsForPlatformLogGroups", "Effect": "Allow",
         "Principal": {"Service": f"logs.{c.region}.amazonaws.com"}, "Action": list(KEY_ACTIONS_FOR_LOGS),
         "Resource": "*", "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}}},
    )


class PlatformKey(Construct):
    def __init__(self, scope: Construct, id: str, config: KeyConfig) -> None:
        super().__init__(scope, id)
        # Rotated yearly; 7 days to cancel an accidental deletion.
        self.key = KmsKey(self, "key", description=f"{config.name} platform encryption key", enable_key_rotation=True,
                          deletion_window_in_days=7, policy=key_policy(config))
        KmsAlias(self, "alias", name=f"alias/{config.name}", target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn
