"""The real terraform and AWS provider 5.100.0 against the emulator: apply, a clean re-plan from a new emulator
instance (state restored from disk), destroy, and nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlplat.emulator import PROVIDER_ENDPOINT_SERVICES, LocalAws, provider_settings

from tests.support.terraform import cli_config as support_cli_config

from .support import REGION

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


def terraform_env(aws: LocalAws, cli_config_file: Path) -> dict[str, str]:
    return {**os.environ, **aws.terraform_env(), **batch_mode(cli_config_file)}


def batch_mode(cli_config_file: Path) -> dict[str, str]:
    """No prompts, no colors, no update check; providers from the mirror."""
    return {
        "TF_CLI_CONFIG_FILE": str(cli_config_file),
        "TF_INPUT": "0",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "NO_COLOR": "1",
    }


def write_provider(workdir: Path, aws: LocalAws) -> None:
    (workdir / "provider.tf.json").write_text(
        json.dumps({"provider": {"aws": {**provider_settings(aws.endpoint), "region": aws.region}}})
    )


@pytest.mark.e2e
def test_apply_replan_destroy_leaves_nothing(tmp_path: Path) -> None:
    workdir = tmp_path / "tf"
    shutil.copytree(FIXTURES, workdir)
    rc = cli_config(tmp_path)
    state_dir = tmp_path / "emulator"

    with LocalAws(state_dir, region=REGION) as aws:
        write_provider(workdir, aws)
        env = terraform_env(aws, rc)
        run_terraform(workdir, env, "init", "-no-color")
        run_terraform(workdir, env, "apply", "-auto-approve", "-no-color")
        deployed = aws.inventory()
    assert {
        kind: deployed[kind]
        for kind in ("eks_clusters", "eks_addons", "eks_access_entries", "eks_pod_identity_associations")
    } == {
        "eks_clusters": 1,
        "eks_addons": 3,
        "eks_access_entries": 2,
        "eks_pod_identity_associations": 2,  # karpenter's, and the one the vpc-cni add-on owns
    }
    assert (
        deployed["fsx_file_systems"],
        deployed["fsx_data_repository_associations"],
        deployed["secretsmanager_secrets"],
    ) == (2, 1, 1)

    # As `plan` and `destroy` would in a new process: a new emulator that knows only what the first one saved.
    with LocalAws(state_dir, region=REGION) as aws:
        write_provider(workdir, aws)
        env = terraform_env(aws, rc)
        run_terraform(workdir, env, "plan", "-detailed-exitcode", "-no-color")  # exit code 2 means changes: a failure
        run_terraform(workdir, env, "destroy", "-auto-approve", "-no-color")
        left_behind = {kind: count for kind, count in aws.inventory().items() if count}
    assert left_behind == {}


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
