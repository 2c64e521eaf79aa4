"""DeleteBucket on a bucket that still holds objects, versions or delete markers fails as in S3.

moto refuses it already (BucketNotEmpty, 409, with the bucket's name); this makes the message S3's, including the
hint S3 adds for versioned buckets (versioning enabled or suspended), since `mlplat destroy` and its tests rely on that
refusal. S3's plain message has no final full stop; the versioned one does.
"""

from __future__ import annotations

from moto.s3 import exceptions as s3_exceptions
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses

NOT_EMPTY = "The bucket you tried to delete is not empty"
NOT_EMPTY_VERSIONED = f"{NOT_EMPTY}. You must delete all versions in the bucket."


class BucketNotEmpty(s3_exceptions.S3ClientError):
    code = "BucketNotEmpty"

    def __init__(self, bucket_name: str) -> None:
        bucket = _lookup(bucket_name)
        versioned = bucket is not None and bucket.versioning_status in ("Enabled", "Suspended")
        super().__init__(NOT_EMPTY_VERSIONED if versioned else NOT_EMPTY)
        self.bucket_name = bucket_name


def _lookup(bucket_name: str) -> s3_models.FakeBucket | None:
    for account in s3_models.s3_backends.values():
        for backend in account.values():
            if bucket_name in backend.buckets:
                return backend.buckets[bucket_name]
    return None


def install() -> None:
    s3_responses.BucketNotEmpty = BucketNotEmpty  # type: ignore[misc]
