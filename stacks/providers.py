"""Provider and backend configuration shared by the stacks."""

from __future__ import annotations

from cdktn import LocalBackend, S3Backend, TerraformStack
from cdktn_provider_aws.provider import AwsProvider, AwsProviderDefaultTags

from mlplat import versions
from mlplat.blueprint import Blueprint
from mlplat.settings import Settings
from mlplat.state import state_bucket


def aws_provider(stack: TerraformStack, bp: Blueprint, settings: Settings) -> AwsProvider:
    tags = {"Platform": bp.name, "ManagedBy": "mlplat", **bp.tags}
    kwargs: dict = {"region": bp.region, "default_tags": [AwsProviderDefaultTags(tags=tags)]}
    if settings.aws_endpoint_url:
        from mlplat.emulator import provider_settings

        kwargs.update(provider_settings(settings.aws_endpoint_url))
    provider = AwsProvider(stack, "aws", **kwargs)
    # The bindings pin the 6.x release they were generated from; admit 5.100.x too (see mlplat/versions.py).
    stack.add_override("terraform.required_providers.aws.version", versions.AWS_PROVIDER_CONSTRAINT)
    return provider


def configure_backend(stack: TerraformStack, bp: Blueprint, settings: Settings) -> None:
    stack.add_override("terraform.required_version", versions.TERRAFORM_REQUIRED_VERSION)
    remote = state_bucket(bp, settings)
    if remote is not None:
        # A team's state bucket often lives in one region for all its platforms: its region is its own setting.
        S3Backend(stack, bucket=remote.bucket, key=remote.key(stack.node.id, bp.name), region=remote.region,
                  encrypt=True, use_lockfile=True)
    else:
        state_dir = (settings.state_dir or settings.outdir.parent / ".mlplat-state").resolve()
        LocalBackend(stack, path=str(state_dir / f"{stack.node.id}.tfstate"))
