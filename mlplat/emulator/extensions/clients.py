"""Telling the AWS provider's requests from other clients', for the few answers tailored to it."""

from __future__ import annotations

from collections.abc import Mapping


def from_terraform_provider(headers: Mapping[str, str]) -> bool:
    """True for requests the terraform AWS provider sends (its User-Agent names it)."""
    return "terraform-provider-aws/" in headers.get("User-Agent", "")
