"""Run the real terraform on synthesized stacks, installing providers only from the configured mirror."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlplat.runner import Progress, Terraform

PLUGIN_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "mlplat-test-plugin-cache"


def mirror() -> Path:
    value = os.environ.get("MLPLAT_PROVIDER_MIRROR")
    if not value:
        raise AssertionError("MLPLAT_PROVIDER_MIRROR is not set: these tests install the AWS provider from a terraform "
                             "filesystem mirror (the Makefile points it at /opt/tf-plugins when present)")
    if not (Path(value) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        raise AssertionError(f"MLPLAT_PROVIDER_MIRROR={value} holds no hashicorp/aws provider")
    return Path(value)


def terraform(work_dir: Path, env: dict[str, str] | None = None) -> Terraform:
    if not shutil.which(os.environ.get("TERRAFORM_BINARY", "terraform")):
        raise AssertionError("terraform is not on PATH: install terraform >= 1.11 (or set TERRAFORM_BINARY)")
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {}), "TF_PLUGIN_CACHE_DIR": str(PLUGIN_CACHE)}
    return Terraform(env=full_env, mirror=mirror(), work_dir=work_dir, progress=Progress(quiet=True))
