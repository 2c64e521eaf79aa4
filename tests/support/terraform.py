"""Run the real terraform on synthesized stacks, with providers from where the CLI takes them: the mirror named by
MLPLAT_PROVIDER_MIRROR or .mlplat/config.toml (which `make` writes), else the Terraform registry."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlplat.runner import Progress, Terraform, write_cli_config
from mlplat.settings import CONFIG_FILE, read_config
from tests.support.paths import ROOT

PLUGIN_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "mlplat-test-plugin-cache"


def mirror() -> Path | None:
    """The provider mirror the CLI would use from the repository root, or None for the registry."""
    value = os.environ.get("MLPLAT_PROVIDER_MIRROR") or read_config(ROOT / CONFIG_FILE).get("provider_mirror")
    if not value:
        return None
    if not (Path(value) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        raise AssertionError(f"the provider mirror {value} holds no hashicorp/aws provider: fix MLPLAT_PROVIDER_MIRROR "
                             f"or provider_mirror in {CONFIG_FILE} (`mlplat doctor` checks it)")
    return Path(value)


def mirror_env() -> dict[str, str]:
    """Environment for a CLI subprocess running outside the repository (where .mlplat/config.toml is not found)."""
    found = mirror()
    return {"MLPLAT_PROVIDER_MIRROR": str(found)} if found else {}


def cli_config(directory: Path) -> Path | None:
    """A terraform CLI config installing providers from the mirror (None: terraform's defaults, the registry)."""
    found = mirror()
    return None if found is None else write_cli_config(directory, found)


def terraform(work_dir: Path, env: dict[str, str] | None = None) -> Terraform:
    if not shutil.which(os.environ.get("TERRAFORM_BINARY", "terraform")):
        raise AssertionError("terraform is not on PATH: install terraform >= 1.11 (or set TERRAFORM_BINARY)")
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {}), "TF_PLUGIN_CACHE_DIR": str(PLUGIN_CACHE)}
    return Terraform(env=full_env, mirror=mirror(), work_dir=work_dir, progress=Progress(quiet=True))
