"""Generated credentials in Secrets Manager. The password comes from an ephemeral resource and is written with a
write-only attribute, so it appears in no synthesized file and in no terraform state or plan.

Each secret's name is a prefix plus a suffix terraform picks once (kept in state): a destroyed secret keeps its name
for its 7-day recovery window, and a platform redeployed under the same name in that window gets fresh names instead
of failing on the old ones. Consumers read the name from the AWS layer's outputs.
"""

from __future__ import annotations

from cdktn import Fn
from cdktn_provider_aws.ephemeral_aws_secretsmanager_random_password import EphemeralAwsSecretsmanagerRandomPassword
from cdktn_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktn_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion
from constructs import Construct

PASSWORD_LENGTH = 32
# Bump to rotate: terraform writes a new password only when this version changes.
PASSWORD_VERSION = 1
# A deleted secret can be restored for this long (aws secretsmanager restore-secret).
RECOVERY_WINDOW_DAYS = 7


class GeneratedSecret(Construct):
    def __init__(self, scope: Construct, id: str, *, name_prefix: str, username: str, description: str,
                 kms_key_arn: str) -> None:
        super().__init__(scope, id)
        self.secret = SecretsmanagerSecret(self, "secret", name_prefix=name_prefix, description=description,
                                           kms_key_id=kms_key_arn, recovery_window_in_days=RECOVERY_WINDOW_DAYS)
        # Punctuation excluded: these passwords travel through URLs, Helm values and PostgreSQL connection strings.
        password = EphemeralAwsSecretsmanagerRandomPassword(self, "password", password_length=PASSWORD_LENGTH,
                                                            exclude_punctuation=True, require_each_included_type=True)
        # Readers of the secret (e.g. a database taking the password write-only) depend on this version existing.
        self.version = SecretsmanagerSecretVersion(
            self, "value", secret_id=self.secret.id, secret_string_wo_version=PASSWORD_VERSION,
            secret_string_wo=Fn.jsonencode({"username": username, "password": password.random_password}),
        )

    @property
    def arn(self) -> str:
        return self.secret.arn

    @property
    def name(self) -> str:
        return self.secret.name
