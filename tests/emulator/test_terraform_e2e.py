"""The real terraform and AWS provider 5.100.0 and the emulator: the provider's `endpoints` block has a key for every
service the stacks point at the emulator.

(The emulator's own apply / re-plan / destroy round trip of a hand-written configuration lived here. The platform's
round trips in tests/foundation/test_e2e_local.py cover it through the real stacks: EKS with add-ons, access entries
and Pod Identity, EFS, FSx with its data repository association, Aurora, Secrets Manager, a re-plan with no changes
from a restarted emulator, and a destroy that leaves nothing.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlplat.emulator import PROVIDER_ENDPOINT_SERVICES, provider_settings

from tests.support.terraform import cli_config as support_cli_config


FIXTURES = Path(__file__).parent / "tf"
def terraform_binary() -> str:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.fail("terraform is not on PATH: install terraform 1.11 (these tests run the real binary)")
    return terraform


def cli_config(directory: Path) -> Path:
    """A terraform CLI config with the providers' source the CLI uses (its mirror, or else the registry)."""
    config = support_cli_config(directory)
    if config is None:
        config = directory / "terraform.rc"
        config.write_text("")
    return config


def run_terraform(workdir: Path, env: dict[str, str], *arguments: str) -> str:
    """terraform's standard output; a test failure with the output's tail if it exits non-zero."""
    result = subprocess.run(
        [terraform_binary(), *arguments], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        pytest.fail(
            f"terraform {' '.join(arguments)} exited {result.returncode}:\n{(result.stdout + result.stderr)[-6000:]}"
        )
    return result.stdout


def batch_mode(cli_config_file: Path) -> dict[str, str]:
    """No prompts, no colors, no update check; providers from the mirror."""
    return {
        "TF_CLI_CONFIG_FILE": str(cli_config_file),
        "TF_INPUT": "0",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "NO_COLOR": "1",
    }


@pytest.mark.e2e
def test_endpoint_services_are_keys_of_the_provider_endpoints_block(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "versions.tf", tmp_path)
    env = {**os.environ, **batch_mode(cli_config(tmp_path))}
    run_terraform(tmp_path, env, "init", "-no-color")
    schema = json.loads(run_terraform(tmp_path, env, "providers", "schema", "-json"))
    provider = schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]["provider"]["block"]
    endpoint_keys = set(provider["block_types"]["endpoints"]["block"]["attributes"])
    assert set(PROVIDER_ENDPOINT_SERVICES) <= endpoint_keys
    assert set(provider_settings("http://127.0.0.1:1")) - {"endpoints"} <= set(provider["attributes"])
