"""`mlplat doctor`: check what the other commands need on this machine, and say exactly what to fix.

terraform and its version; Node.js for the cdktn runtime (and for the `cdktn` CLI, which needs a newer one); the
terraform providers each stack needs, from the configured mirror or the registry; the embedded AWS; AWS credentials
and the `aws` CLI (real accounts only); where the settings came from.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mlplat import versions
from mlplat.cli.base import Command
from mlplat.errors import EXIT_FAILED, MlplatError
from mlplat.runner import find_binary
from mlplat.settings import CONFIG_FILE, Settings
from mlplat.workflow import NODE_MIN_MAJOR

REGISTRY = "https://registry.terraform.io/.well-known/terraform.json"
# The cdktn CLI (npm cdktn-cli 0.24) declares engines.node >= 22.19.
CDKTN_CLI_NODE = (22, 19)
# Providers per stack, as the stacks require them (mlplat/versions.py).
PROVIDERS = {"aws": ("hashicorp/aws", versions.AWS_PROVIDER_CONSTRAINT),
             "kubernetes": ("hashicorp/helm", versions.HELM_PROVIDER_CONSTRAINT)}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # a failed optional check is reported, not fatal

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix, "required": self.required}


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"v?(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    return found[1] if found else None


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def check_terraform(env: Mapping[str, str] | None = None) -> Check:
    """The binary every other command runs (runner.find_binary: TERRAFORM_BINARY, else terraform), and its version."""
    try:
        binary = find_binary(os.environ if env is None else env)
    except MlplatError as exc:
        return Check("terraform", False, str(exc).split(":", 1)[0],
                     "install terraform >= 1.11 (https://developer.hashicorp.com/terraform/install), or OpenTofu "
                     ">= 1.11 and set TERRAFORM_BINARY=tofu")
    found = _version([binary, "version"])
    ok = found is not None and _as_tuple(found)[:2] >= (1, 11)
    return Check("terraform", ok, f"{binary} {found}",
                 "" if ok else "terraform >= 1.11 is needed (ephemeral resources and write-only attributes)")


def check_node() -> list[Check]:
    out = []
    local = Path(".tools/bin/node")
    for label, binary, need, required, why in (
            ("node (cdktn runtime)", shutil.which("node"), (NODE_MIN_MAJOR, 0), True, "synthesis runs jsii on it"),
            ("node (cdktn CLI)", str(local) if local.exists() else shutil.which("node"), CDKTN_CLI_NODE, False,
             "`cdktn synth` / `cdktn deploy` need it; `make run` installs Node 22 and cdktn-cli into .tools/")):
        if binary is None:
            out.append(Check(label, False, "not found", f"install Node.js >= {need[0]}.{need[1]} ({why})", required))
            continue
        found = _version([binary, "--version"])
        ok = found is not None and _as_tuple(found)[:2] >= need
        out.append(Check(label, ok, f"{binary} {found}", "" if ok else f"needs Node.js >= {need[0]}.{need[1]}: {why}",
                         required))
    return out


def check_providers(settings: Settings) -> list[Check]:
    mirror = settings.provider_mirror
    out = []
    if mirror is not None:
        for stack, (source, constraint) in PROVIDERS.items():
            path = mirror / "registry.terraform.io" / source
            found = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
            ok = bool(found)
            needed_for = ("the AWS layer (also with --local)" if stack == "aws"
                          else "the Kubernetes layer (real accounts only)")
            out.append(Check(f"provider {source}", ok, f"in mirror {mirror}: {', '.join(found) or 'none'}",
                             "" if ok else f"add {source} {constraint} to the mirror (terraform providers mirror "
                                           f"{mirror}); needed for {needed_for}", required=stack == "aws"))
        return out
    try:
        with urllib.request.urlopen(REGISTRY, timeout=5) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        ok, reason = False, str(getattr(exc, "reason", exc))
    else:
        reason = "reachable"
    out.append(Check("providers", ok, f"no mirror configured; registry.terraform.io {reason}",
                     "" if ok else f"no way to install providers: set MLPLAT_PROVIDER_MIRROR (or provider_mirror in "
                                   f"{CONFIG_FILE}) to a `terraform providers mirror` directory, or allow access to "
                                   f"registry.terraform.io"))
    return out


def check_emulator() -> Check:
    try:
        from mlplat.emulator import LocalAws  # noqa: F401
        import moto  # noqa: F401
    except ImportError as exc:
        return Check("embedded AWS", False, str(exc), "reinstall the project: make run (or pip install -e .)")
    return Check("embedded AWS", True, f"moto {moto.__version__} (for --local)")


def check_credentials() -> list[Check]:
    from mlplat.aws import Aws, call
    from mlplat.errors import MlplatError

    out = []
    try:
        identity = call("asking AWS who you are", Aws(region="us-east-1").client("sts").get_caller_identity)
        out.append(Check("AWS credentials", True, f"{identity['Arn']} (account {identity['Account']})",
                         required=False))
    except MlplatError as exc:
        out.append(Check("AWS credentials", False, str(exc), "only --local works without them", required=False))
    aws_cli = shutil.which("aws")
    out.append(Check("aws CLI", aws_cli is not None, aws_cli or "not found",
                     "" if aws_cli else "the Kubernetes layer authenticates with `aws eks get-token`: install AWS CLI "
                                        "v2 for real accounts", required=False))
    plugin = shutil.which("session-manager-plugin")
    out.append(Check("Session Manager plugin", plugin is not None, plugin or "not found",
                     "" if plugin else "the tunnel to a private cluster endpoint through the cluster access node is "
                                       "an SSM session: install the Session Manager plugin for the AWS CLI",
                     required=False))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings.from_env()
    if args.provider_mirror is not None:
        settings = settings.with_(provider_mirror=args.provider_mirror)
    checks = [check_terraform(), *check_node(), *check_providers(settings), check_emulator()]
    if not args.local:
        checks += check_credentials()
    failed = [c for c in checks if not c.ok and c.required]
    return {"checks": [c.as_dict() for c in checks], "provider_mirror": str(settings.provider_mirror or ""),
            "exit_code": EXIT_FAILED if failed else 0}


def render(r: dict[str, Any]) -> str:
    lines = []
    for c in r["checks"]:
        mark = "ok  " if c["ok"] else ("FAIL" if c["required"] else "warn")
        lines.append(f"{mark} {c['name']}: {c['detail']}")
        if c["fix"] and not c["ok"]:
            lines.append(f"     fix: {c['fix']}")
    lines.append("everything needed is here" if not r["exit_code"] else "fix the FAIL lines above")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", action="store_true", default=argparse.SUPPRESS,
                   help="check only what --local needs (no AWS credentials, no aws CLI)")
    p.add_argument("--provider-mirror", type=Path, default=argparse.SUPPRESS, help="check this provider mirror")


COMMAND = Command("doctor", "check this machine for what mlplat needs, and say what to fix", run, render,
                  add_arguments, uses_terraform=False)
