"""Generated credentials in Secrets Manager. The password comes from an ephemeral resource and is written with a
write-only attribute, so it appears in no synthesized file and in no terraform state or plan."""

from __future__ import annotations

from cdktn import Fn
from cdktn_provider_aws.ephemeral_aws_secretsmanager_random_password import EphemeralAwsSecretsmanagerRandomPassword
from cdktn_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktn_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion
from constructs import Construct

PASSWORD_LENGTH = 32
# Bump to rotate: terraform writes a new password only when this version changes.
PASSWORD_VERSION = 1


class GeneratedSecret(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, username: str, description: str,
                 kms_key_arn: str) -> None:
        super().__init__(scope, id)
        self.secret = SecretsmanagerSecret(self, "secret", name=name, description=description,
                                           kms_key_id=kms_key_arn, recovery_window_in_days=7)
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
