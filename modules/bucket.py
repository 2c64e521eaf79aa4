"""An S3 bucket with the platform's baseline: versioned (old versions expire), encrypted, owner-enforced, no public
access, TLS only. Destroying it fails while it holds objects, unless the blueprint opts in to emptying it."""

from __future__ import annotations

from cdktn_provider_aws.s3_bucket import S3Bucket
from cdktn_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktn_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktn_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktn_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktn_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktn_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from constructs import Construct

from modules.common import policy


NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7


class SecureBucket(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str, force_destroy: bool = False) -> None:
        super().__init__(scope, id)
        # A prefix, not a name: S3 names are global, terraform appends a unique suffix and keeps it in state.
        # force_destroy: terraform deletes every object and version before the bucket (the blueprint's opt-in).
        self.bucket = S3Bucket(self, "bucket", bucket_prefix=prefix[:37], force_destroy=force_destroy)
        S3BucketVersioningA(self, "versioning", bucket=self.bucket.id,
                            versioning_configuration={"status": "Enabled"})
        # SSE-S3 keeps FSx data repository associations and cross-service readers working without key grants.
        S3BucketServerSideEncryptionConfigurationA(self, "encryption", bucket=self.bucket.id, rule=[
            S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="AES256")),
                bucket_key_enabled=True)])
        # Versioning keeps overwritten and deleted objects: bound them, and abandoned multipart uploads. (Typed
        # structs: jsii drops the multi-word keys of plain dicts nested in lists, which would leave a rule with no
        # action.)
        S3BucketLifecycleConfiguration(self, "lifecycle", bucket=self.bucket.id, rule=[S3BucketLifecycleConfigurationRule(
            id="expire-old-versions", status="Enabled", filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            noncurrent_version_expiration=[S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                noncurrent_days=NONCURRENT_VERSION_DAYS)],
            abort_incomplete_multipart_upload=[S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                days_after_initiation=INCOMPLETE_UPLOAD_DAYS)],
        )])
        block = S3BucketPublicAccessBlock(self, "public-access", bucket=self.bucket.id, block_public_acls=True,
                                          block_public_policy=True, ignore_public_acls=True,
                                          restrict_public_buckets=True)
        S3BucketOwnershipControls(self, "ownership", bucket=self.bucket.id,
                                  rule={"object_ownership": "BucketOwnerEnforced"})
        S3BucketPolicy(self, "tls-only", bucket=self.bucket.id, depends_on=[block], policy=policy(
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [self.bucket.arn, f"{self.bucket.arn}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))

    @property
    def name(self) -> str:
        return self.bucket.bucket

    @property
    def arn(self) -> str:
        return self.bucket.arn
