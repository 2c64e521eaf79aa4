"""A secret name stays taken while the secret waits out its recovery window, as in Secrets Manager.

moto lets CreateSecret fail on such a name as if the secret were live (ResourceExistsException, "already exists");
AWS answers InvalidRequestException and says why, and that is the answer a redeploy under the same platform name
must survive (modules/secrets.py gives each deployment generation fresh names).
"""

from __future__ import annotations

from typing import Any

from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend

SCHEDULED_FOR_DELETION = ("You can't create this secret because a secret with this name is already scheduled for "
                          "deletion.")
_moto_create_secret = SecretsManagerBackend.create_secret


def _create_secret(self: SecretsManagerBackend, name: str, *args: Any, **kwargs: Any) -> str:
    existing = self.secrets.get(name)
    if existing is not None and getattr(existing, "deleted_date", None) is not None:
        raise InvalidRequestException(SCHEDULED_FOR_DELETION)
    return _moto_create_secret(self, name, *args, **kwargs)


def install() -> None:
    SecretsManagerBackend.create_secret = _create_secret  # type: ignore[method-assign]
