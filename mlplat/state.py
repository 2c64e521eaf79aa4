"""Where a platform's terraform state lives: an S3 bucket named in the blueprint (or, for pipelines that share one
blueprint across accounts, MLPLAT_BACKEND_S3_BUCKET / MLPLAT_BACKEND_S3_REGION, which win), else local files.

Pure data, no jsii and no AWS calls: the stacks (backend block), `outputs` (where to read state) and `bootstrap`
(which bucket to create) all ask this one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlplat.blueprint import Blueprint
from mlplat.settings import Settings


@dataclass(frozen=True)
class StateBucket:
    bucket: str
    region: str
    key_prefix: str

    def key(self, stack: str, platform: str) -> str:
        """`<prefix>/<platform>/<stack>.tfstate`; without a prefix, `<platform>/<stack>.tfstate`."""
        return "/".join(part for part in (self.key_prefix, platform, f"{stack}.tfstate") if part)


def state_bucket(bp: Blueprint, settings: Settings) -> StateBucket | None:
    """The S3 state location, or None for local state files (always local on the embedded AWS)."""
    if settings.local:
        return None
    bucket = settings.backend_s3_bucket or bp.state_bucket
    if not bucket:
        return None
    return StateBucket(bucket=bucket, region=settings.backend_s3_region or bp.state_bucket_region or bp.region,
                       key_prefix=bp.state_key_prefix)
