"""AWS-managed KMS keys (alias/aws/rds, alias/aws/fsx, ...) that say so.

Services create these on first use in an account. moto creates the ones it knows when their alias is first looked
up, but as customer-managed keys, so DescribeKey reports KeyManager CUSTOMER and a destroyed deployment seems to leave
keys behind. Here they are AWS-managed, and other services' extensions get theirs through `aws_managed_key_id`.
"""

from __future__ import annotations

from moto.kms.models import KmsBackend

_moto_generate_default_keys = KmsBackend._generate_default_keys


def _generate_default_keys(backend: KmsBackend, alias_name: str) -> str | None:
    key_id = _moto_generate_default_keys(backend, alias_name)
    if key_id is not None:
        backend.keys[key_id].key_manager = "AWS"
    return key_id


def aws_managed_key_id(backend: KmsBackend, alias_name: str) -> str:
    """The id of the account's AWS-managed key `alias_name` (alias/aws/<service>), created on first use."""
    key_id = backend.get_key_id_from_alias(alias_name)  # creates the aliases moto knows
    if key_id is None:
        key = backend.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", f"Default key for {alias_name}", None)
        key.key_manager = "AWS"
        backend.create_alias(key.id, alias_name)
        key_id = key.id
    return key_id


def install() -> None:
    KmsBackend._generate_default_keys = _generate_default_keys  # type: ignore[method-assign]
