"""`mlplat plan`: what deploy would change, per stack."""

from __future__ import annotations

import argparse
from typing import Any

from mlplat.checks import check_kubernetes_stack
from mlplat.cli.base import Command, summary_line
from mlplat.errors import MlplatError
from mlplat.workflow import session

NOT_APPLIED_LOCALLY = ("not planned or applied: --local has no Kubernetes cluster behind the embedded AWS; the layer "
                       "was synthesized and checked offline")


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=args.json) as s:
        tf = s.terraform()
        stacks = {}
        for stack in s.applicable_stacks:
            tf.init(stack)
            stacks[stack.name] = tf.plan(stack).as_dict()
        result: dict[str, Any] = {"stacks": stacks, "changes": sum(sum(v.values()) for v in stacks.values())}
        if s.settings.local:
            checks = check_kubernetes_stack(s.kubernetes_stack / "cdk.tf.json")
            if checks.problems:
                raise MlplatError("offline checks of the Kubernetes layer failed:\n" + "\n".join(checks.problems))
            result["kubernetes"] = {"stack": s.kubernetes_stack.name, "applied": False, "reason": NOT_APPLIED_LOCALLY,
                                    "checks": checks.as_dict()}
        if args.detailed_exitcode and result["changes"]:
            result["exit_code"] = 2
        return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes (like terraform)")


def render(r: dict[str, Any]) -> str:
    lines = ["plan:", summary_line(r["stacks"]), f"{r['changes']} changes"]
    if "kubernetes" in r:
        lines.append(f"  {r['kubernetes']['stack']}: {r['kubernetes']['reason']}")
    return "\n".join(lines)


COMMAND = Command("plan", "show what deploy would change", run, render, add_arguments)
