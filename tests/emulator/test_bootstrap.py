"""`mlplat bootstrap` on the embedded AWS: the state bucket is created with every protection, a second run changes
nothing, and a bucket with any protection missing is refused, named, and left as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mlplat.aws import Aws
from mlplat.bootstrap import bootstrap, tls_only_policy
from mlplat.emulator import LocalAws
from mlplat.errors import MlplatError
from mlplat.state import StateBucket

from .support import REGION, ClientFactory

TAGS = {"Platform": "boot", "ManagedBy": "mlplat"}
ALL_CHECKS = ["versioning", "encryption", "public access block", "TLS-only policy", "ACLs disabled"]


def _aws(shared_aws: LocalAws) -> Aws:
    return Aws(region=REGION, local_env=shared_aws.terraform_env())


def _settings(s3: Any, bucket: str) -> dict[str, Any]:
    """Everything bootstrap sets, as S3 reads it back."""
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket)["Status"],
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
        "public_access_block": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "tags": {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]},
        "region": s3.head_bucket(Bucket=bucket)["BucketRegion"],
    }


def test_bootstrap_creates_a_protected_bucket_and_a_second_run_changes_nothing(shared_aws: LocalAws,
                                                                               client: ClientFactory) -> None:
    target = StateBucket("boot-state-twice", REGION, "")
    said: list[str] = []
    first = bootstrap(_aws(shared_aws), target, TAGS, said.append)
    assert (first.created, [f.check for f in first.findings if f.ok]) == (True, ALL_CHECKS)
    s3 = client("s3")
    created = _settings(s3, target.bucket)
    assert created == {
        "versioning": "Enabled",
        "encryption": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}],
        "public_access_block": {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                                "RestrictPublicBuckets": True},
        "policy": tls_only_policy(target.bucket, REGION),
        "ownership": [{"ObjectOwnership": "BucketOwnerEnforced"}],
        "tags": TAGS,
        "region": REGION,
    }

    second = bootstrap(_aws(shared_aws), target, TAGS, said.append)
    assert (second.created, all(f.ok for f in second.findings)) == (False, True)
    assert _settings(s3, target.bucket) == created
    assert said == [f"creating the state bucket {target.bucket} in {REGION}",
                    f"checking the existing state bucket {target.bucket}"]


def _versioning_suspended(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})


def _sse_s3(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


def _public_policy_allowed(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})


def _no_policy(s3: Any, bucket: str) -> None:
    s3.delete_bucket_policy(Bucket=bucket)


def _acls_enabled(s3: Any, bucket: str) -> None:
    s3.put_bucket_ownership_controls(Bucket=bucket,
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})


@pytest.mark.parametrize("weaken, check, detail", [
    (_versioning_suspended, "versioning", "versioning Suspended"),
    (_sse_s3, "encryption", "default encryption AES256 (expected SSE-KMS: aws:kms)"),
    (_public_policy_allowed, "public access block", "off: BlockPublicPolicy"),
    (_no_policy, "TLS-only policy", "no policy statement denies requests without TLS (aws:SecureTransport = false)"),
    (_acls_enabled, "ACLs disabled", "object ownership ObjectWriter (ACLs enabled)"),
], ids=["versioning", "encryption", "public-access-block", "tls-policy", "acls"])
def test_a_weakened_bucket_is_refused_naming_what_is_weaker_and_left_as_it_is(
        shared_aws: LocalAws, client: ClientFactory, weaken: Callable[[Any, str], None], check: str,
        detail: str) -> None:
    target = StateBucket(f"boot-weak-{check.replace(' ', '-').lower()}", REGION, "")
    bootstrap(_aws(shared_aws), target, TAGS, lambda _: None)
    s3 = client("s3")
    weaken(s3, target.bucket)
    before = {k: v for k, v in _settings_lenient(s3, target.bucket).items()}

    with pytest.raises(MlplatError) as refused:
        bootstrap(_aws(shared_aws), target, TAGS, lambda _: None)
    assert refused.value.exit_code == 2
    message = str(refused.value)
    assert message.startswith(f"state bucket {target.bucket!r} exists and is weaker than a state bucket must be; "
                              f"nothing was changed:\n  - {check}: {detail}\n    fix: ")
    assert message.count("\n  - ") == 1  # only what was weakened is named
    assert _settings_lenient(s3, target.bucket) == before


def _settings_lenient(s3: Any, bucket: str) -> dict[str, Any]:
    out: dict[str, Any] = {"versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status")}
    for key, read in (("encryption", s3.get_bucket_encryption), ("block", s3.get_public_access_block),
                      ("policy", s3.get_bucket_policy), ("ownership", s3.get_bucket_ownership_controls)):
        try:
            response = read(Bucket=bucket)
        except s3.exceptions.ClientError as exc:
            out[key] = exc.response["Error"]["Code"]
        else:
            response.pop("ResponseMetadata", None)
            out[key] = response
    return out


def test_a_bucket_in_another_region_is_refused_with_the_key_to_set(shared_aws: LocalAws) -> None:
    Aws("eu-central-1", shared_aws.terraform_env()).client("s3").create_bucket(
        Bucket="boot-elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    with pytest.raises(MlplatError) as refused:
        bootstrap(_aws(shared_aws), StateBucket("boot-elsewhere", REGION, ""), TAGS, lambda _: None)
    assert (refused.value.exit_code, str(refused.value)) == (
        2, "state bucket 'boot-elsewhere' is in eu-central-1, not us-west-2: set state_bucket_region = "
           "\"eu-central-1\" in the blueprint")
