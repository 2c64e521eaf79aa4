"""The caller identity of the emulator's dummy credentials, as a real IAM user's.

moto answers GetCallerIdentity for unknown credentials with `arn:aws:sts::<account>:user/moto`, an ARN AWS never
returns (IAM users are `arn:aws:iam::<account>:user/<name>`), and with an access key id (AKIA...) as the user id,
where AWS reports the user's unique id (AIDA...). EKS and IAM refuse such an ARN as a principal. The platform makes
the deployer a cluster admin from this identity, so it must be one AWS would hand out.
"""

from __future__ import annotations

import hashlib

from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition

DEFAULT_USER = "moto"
_moto_get_caller_identity = STSBackend.get_caller_identity


def _user_unique_id(account_id: str) -> str:
    """A stable IAM user unique id (AIDA + 17 upper-case letters and digits) for the dummy user of `account_id`."""
    digest = hashlib.sha256(f"{account_id}:user/{DEFAULT_USER}".encode()).hexdigest().upper()
    return f"AIDA{digest[:17]}"


def _get_caller_identity(self: STSBackend, access_key_id: str, region: str) -> tuple[str, str, str]:
    user_id, arn, account_id = _moto_get_caller_identity(self, access_key_id, region)
    if arn == f"arn:{get_partition(region)}:sts::{self.account_id}:user/{DEFAULT_USER}":
        arn = f"arn:{get_partition(region)}:iam::{self.account_id}:user/{DEFAULT_USER}"
        user_id = _user_unique_id(self.account_id)
    return user_id, arn, account_id


def install() -> None:
    STSBackend.get_caller_identity = _get_caller_identity  # type: ignore[method-assign]
