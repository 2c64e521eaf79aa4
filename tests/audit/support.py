"""Helpers for the audit regression tests: synthesized resources by type, policies as dicts, plans on the emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.synth import Synth
from tests.support.terraform import cli_config


def resources(s: Synth, rtype: str, stack: str = "aws") -> dict[str, dict[str, Any]]:
    """Resources of a type keyed by their construct path below the stack (e.g. 'eks/cluster'), metadata removed."""
    out = {}
    for item in s.resources(stack, rtype).values():
        path = item["//"]["metadata"]["path"].split("/", 1)[1]
        out[path] = {k: v for k, v in item.items() if k != "//"}
    return out


def one(s: Synth, rtype: str, path: str, stack: str = "aws") -> dict[str, Any]:
    found = resources(s, rtype, stack)
    assert path in found, f"no {rtype} at {path}; have {sorted(found)}"
    return found[path]


def address(s: Synth, rtype: str, path: str, stack: str = "aws", block: str = "resource") -> str:
    """The terraform address (`<type>.<logical id>`, `data.<type>.<logical id>`) of the item at `path`."""
    for logical_id, item in getattr(s, stack).get(block, {}).get(rtype, {}).items():
        if item["//"]["metadata"]["path"].split("/", 1)[1] == path:
            return f"{'data.' if block == 'data' else ''}{rtype}.{logical_id}"
    raise AssertionError(f"no {block} {rtype} at {path}")


def ref(s: Synth, rtype: str, path: str, attribute: str, stack: str = "aws", block: str = "resource") -> str:
    """The terraform reference `${<address>.<attribute>}` of the item at `path`."""
    return f"${{{address(s, rtype, path, stack, block)}.{attribute}}}"


def statements(document: str) -> list[dict[str, Any]]:
    return json.loads(document)["Statement"]


def plan_on_emulator(s: Synth, work: Path) -> subprocess.CompletedProcess:
    """`terraform plan` of the synthesized AWS layer against a fresh emulator (no apply): what AWS would be asked."""
    from mlplat.emulator import LocalAws

    stack = work / "stack"
    shutil.copytree(s.outdir / "stacks" / f"{s.blueprint.name}-aws", stack)
    rc = cli_config(work)
    aws = LocalAws(work / "emulator", region=s.blueprint.region)
    aws.start()
    try:
        env = {**os.environ, **aws.terraform_env(), "TF_IN_AUTOMATION": "1",
               **({"TF_CLI_CONFIG_FILE": str(rc)} if rc else {})}
        subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=stack, env=env,
                       capture_output=True, text=True, check=True, timeout=300)
        return subprocess.run(["terraform", "plan", "-input=false", "-no-color", "-refresh=false", "-json"],
                              cwd=stack, env=env, capture_output=True, text=True, timeout=600)
    finally:
        aws.stop()


def planned_changes(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """address -> action of every planned change in a `terraform plan -json` run."""
    out = {}
    for line in proc.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("type") == "planned_change":
            change = msg["change"]
            out[change["resource"]["addr"]] = change["action"]
    return out


def plan_errors(proc: subprocess.CompletedProcess) -> list[str]:
    errors = []
    for line in proc.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("type") == "diagnostic" and msg["diagnostic"]["severity"] == "error":
            errors.append(f"{msg['diagnostic']['summary']}: {msg['diagnostic'].get('detail', '')}")
    return errors
