"""`cdktn synth` works from a clone as the README says: `make` puts a Node release the cdktn CLI supports, the CLI
itself and the project's Python into .tools/bin (versions pinned in pyproject.toml), and cdktf.json runs main.py."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib

from tests.support.paths import ROOT

TOOLS = ROOT / ".tools" / "bin"


def tools_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{TOOLS}:{os.environ['PATH']}", "CHECKPOINT_DISABLE": "1", **extra}
    if env.get("TF_CLI_CONFIG_FILE") and not os.path.exists(env["TF_CLI_CONFIG_FILE"]):
        env.pop("TF_CLI_CONFIG_FILE")  # a dangling one only makes cdktn print warnings
    return env


def test_make_installs_the_pinned_node_and_cdktn_cli():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mlplat"]["npm"]
    assert (TOOLS / "cdktn").exists(), "no .tools/bin/cdktn: run `make run` or `make test` (they install it)"
    node = subprocess.run([str(TOOLS / "node"), "--version"], capture_output=True, text=True, timeout=60)
    assert node.stdout.strip() == f"v{pins['node']}"
    cli = subprocess.run([str(TOOLS / "cdktn"), "--version"], capture_output=True, text=True, timeout=120,
                         env=tools_env())
    assert cli.stdout.strip().startswith(pins["cdktn-cli"]), cli.stdout + cli.stderr


def test_cdktn_synth_writes_both_stacks(tmp_path):
    env = tools_env(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", MLPLAT_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.run(["cdktn", "synth", "--output", str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Generated Terraform code for the stacks: mlplat-aws, mlplat-kubernetes" in proc.stdout
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == ["mlplat-aws", "mlplat-kubernetes"]
