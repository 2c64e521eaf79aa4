"""`mlplat synth`: write the stacks to cdktf.out (what `cdktn synth` does) and run the offline checks."""

from __future__ import annotations

import argparse
from typing import Any

from mlplat.checks import check_kubernetes_stack
from mlplat.cli.base import Command
from mlplat.errors import MlplatError
from mlplat.workflow import session


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
        checks = check_kubernetes_stack(s.kubernetes_stack / "cdk.tf.json")
        if checks.problems:
            raise MlplatError("offline checks of the Kubernetes layer failed:\n" + "\n".join(checks.problems))
        return {"stacks": {name: str(path) for name, path in s.stack_dirs.items()},
                "kubernetes_checks": checks.as_dict()}


def render(r: dict[str, Any]) -> str:
    k = r["kubernetes_checks"]
    return "\n".join([*(f"{name}: {path}" for name, path in r["stacks"].items()),
                      f"offline checks: {k['releases']} releases, {k['objects']} objects ok",
                      *(f"note: {n}" for n in k["notes"])])


COMMAND = Command("synth", "synthesize the stacks and run the offline checks", run, render)
