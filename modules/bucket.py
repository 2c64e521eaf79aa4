"""An S3 bucket with the platform's baseline: versioned, encrypted, owner-enforced, no public access, TLS only."""

from __future__ import annotations

from cdktn_provider_aws.s3_bucket import S3Bucket
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


class SecureBucket(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str) -> None:
        super().__init__(scope, id)
        # A prefix, not a name: S3 names are global, terraform appends a unique suffix and keeps it in state.
        self.bucket = S3Bucket(self, "bucket", bucket_prefix=prefix[:37])
        S3BucketVersioningA(self, "versioning", bucket=self.bucket.id,
                            versioning_configuration={"status": "Enabled"})
        # SSE-S3 keeps FSx data repository associations and cross-service readers working without key grants.
        S3BucketServerSideEncryptionConfigurationA(self, "encryption", bucket=self.bucket.id, rule=[
            S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="AES256")),
                bucket_key_enabled=True)])
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
