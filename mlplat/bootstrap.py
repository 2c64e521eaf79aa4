"""The terraform state bucket: created with every protection on, or an existing one checked and refused if weaker.

What a state bucket needs (terraform's S3 backend documentation and AWS's S3 security best practices):
- versioning, so an overwritten or deleted state can be recovered (and the S3 lock file, `use_lockfile`, relies on
  conditional writes that every bucket supports; no DynamoDB table);
- default encryption with KMS (SSE-KMS; the AWS-managed aws/s3 key unless the bucket names its own), S3 Bucket Keys on;
- all four public access blocks;
- a policy that denies any request not made over TLS (aws:SecureTransport = false);
- ACLs disabled (object ownership BucketOwnerEnforced), so no object can be shared around the policy.

A bucket that exists is never changed: a state bucket may be shared by a team, and loosening or tightening it is
their call. Bootstrap says what is weaker and how to fix it, and stops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from mlplat.aws import Aws, call
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.state import StateBucket

TLS_ONLY_SID = "DenyInsecureTransport"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class BootstrapResult:
    bucket: str
    region: str
    created: bool
    findings: tuple[Finding, ...]


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def tls_only_policy(bucket: str, region: str) -> dict[str, Any]:
    arn = f"arn:{partition(region)}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": TLS_ONLY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _read(fn: Callable[..., Any], missing: tuple[str, ...], **kwargs: Any) -> Any:
    """A Get* call whose "not configured" error means None (each S3 setting has its own error code for that)."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        if _error_code(exc) in missing:
            return None
        raise


def check_bucket(s3: Any, bucket: str) -> tuple[Finding, ...]:
    """Each protection a state bucket needs, as found on `bucket`."""
    findings = []
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    findings.append(Finding("versioning", status == "Enabled", f"versioning {status}",
                            f"aws s3api put-bucket-versioning --bucket {bucket} "
                            f"--versioning-configuration Status=Enabled"))

    encryption = _read(s3.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket)
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    kms = any(a in ("aws:kms", "aws:kms:dsse") for a in algorithms)
    findings.append(Finding("encryption", kms, f"default encryption {', '.join(map(str, algorithms)) or 'none'}"
                            + ("" if kms else " (expected SSE-KMS: aws:kms)"),
                            f"aws s3api put-bucket-encryption --bucket {bucket} --server-side-encryption-configuration "
                            "'{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\"},"
                            "\"BucketKeyEnabled\":true}]}'"))

    block = _read(s3.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket)
    settings = (block or {}).get("PublicAccessBlockConfiguration", {})
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [n for n in names if not settings.get(n)]
    findings.append(Finding("public access block", not off,
                            "all four public access blocks on" if not off else f"off: {', '.join(off)}",
                            f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
                            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"))

    policy_text = _read(s3.get_bucket_policy, ("NoSuchBucketPolicy",), Bucket=bucket)
    tls_only = policy_text is not None and _denies_insecure_transport(json.loads(policy_text["Policy"]))
    findings.append(Finding("TLS-only policy", tls_only,
                            "a policy statement denies requests without TLS" if tls_only
                            else "no policy statement denies requests without TLS (aws:SecureTransport = false)",
                            f"add a statement that denies s3:* on {bucket} and {bucket}/* to Principal \"*\" when "
                            f"aws:SecureTransport is false (see `mlplat bootstrap --json`, tls_only_policy)"))

    ownership = _read(s3.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), Bucket=bucket)
    owner_rules = [r.get("ObjectOwnership") for r in (ownership or {}).get("OwnershipControls", {}).get("Rules", [])]
    enforced = owner_rules == ["BucketOwnerEnforced"]
    findings.append(Finding("ACLs disabled", enforced,
                            "object ownership BucketOwnerEnforced" if enforced
                            else f"object ownership {', '.join(map(str, owner_rules)) or 'not set'} (ACLs enabled)",
                            f"aws s3api put-bucket-ownership-controls --bucket {bucket} --ownership-controls "
                            "Rules=[{ObjectOwnership=BucketOwnerEnforced}]"))
    return tuple(findings)


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    statements = policy.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        condition = st.get("Condition", {}).get("Bool", {})
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (st.get("Effect") == "Deny" and st.get("Principal") in ("*", {"AWS": "*"})
                and str(condition.get("aws:SecureTransport", "")).lower() == "false"
                and any(a in ("s3:*", "*") for a in actions)):
            return True
    return False


def _bucket_region(s3: Any, bucket: str) -> str | None:
    """The bucket's region, or None if no bucket has this name. A name another account owns is an error."""
    try:
        head = s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise MlplatError(f"state bucket {bucket!r} exists but this identity may not read it (403): another "
                              f"account may own the name (bucket names are global); choose another state_bucket, or "
                              f"grant s3:ListBucket on it", exit_code=EXIT_BAD_INPUT) from None
        raise
    return head.get("BucketRegion") or head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")


def bootstrap(aws: Aws, target: StateBucket, tags: dict[str, str], say: Callable[[str], None]) -> BootstrapResult:
    """Create the state bucket with every protection, or check the one that exists. Idempotent."""
    s3 = aws.client("s3") if target.region == aws.region else Aws(target.region, aws.local_env).client("s3")
    bucket = target.bucket
    try:
        region = _bucket_region(s3, bucket)
        created = region is None
        if created:
            say(f"creating the state bucket {bucket} in {target.region}")
            _create(s3, target, tags)
        elif region != target.region:
            raise MlplatError(f"state bucket {bucket!r} is in {region}, not {target.region}: set state_bucket_region "
                              f"= \"{region}\" in the blueprint", exit_code=EXIT_BAD_INPUT)
        else:
            say(f"checking the existing state bucket {bucket}")
        findings = check_bucket(s3, bucket)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise MlplatError(f"state bucket {bucket}: AWS answered {err.get('Code')}: {err.get('Message')}") from None
    weaker = [f for f in findings if not f.ok]
    if weaker:
        lines = "\n".join(f"  - {f.check}: {f.detail}\n    fix: {f.fix}" for f in weaker)
        verb = "was created but reads back" if created else "exists and is"
        raise MlplatError(f"state bucket {bucket!r} {verb} weaker than a state bucket must be; nothing was "
                          f"changed:\n{lines}", exit_code=EXIT_BAD_INPUT)
    return BootstrapResult(bucket=bucket, region=target.region, created=created, findings=findings)


def _create(s3: Any, target: StateBucket, tags: dict[str, str]) -> None:
    bucket = target.bucket
    kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
    if target.region != "us-east-1":  # us-east-1 refuses its own name as a location constraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
    call(f"creating the state bucket {bucket}", s3.create_bucket, **kwargs)
    # Public access is blocked first: nothing below may open a window.
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_ownership_controls(Bucket=bucket,
                                     OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket, target.region)))
    if tags:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
