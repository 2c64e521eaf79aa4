"""The platform's customer-managed KMS key: EKS secrets envelope encryption, Secrets Manager, EFS, FSx."""

from __future__ import annotations

from cdktn_provider_aws.kms_alias import KmsAlias
from cdktn_provider_aws.kms_key import KmsKey
from constructs import Construct


class PlatformKey(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str) -> None:
        super().__init__(scope, id)
        # The default key policy (account root) lets IAM policies grant use; rotation yearly.
        self.key = KmsKey(self, "key", description=f"{name} platform encryption key", enable_key_rotation=True,
                          deletion_window_in_days=7)
        KmsAlias(self, "alias", name=f"alias/{name}", target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn
