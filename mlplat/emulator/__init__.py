"""The embedded local AWS behind `--local`: moto on loopback, extended where the AWS provider needs more."""

from mlplat.emulator.server import PROVIDER_ENDPOINT_SERVICES, LocalAws, provider_settings

__all__ = ["PROVIDER_ENDPOINT_SERVICES", "LocalAws", "provider_settings"]
