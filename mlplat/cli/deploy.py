"""`mlplat deploy`: plan and apply every stack in dependency order (AWS layer, then Kubernetes layer)."""

from __future__ import annotations

import argparse
from typing import Any

from mlplat.checks import check_kubernetes_stack
from mlplat.cli.base import Command, confirm, summary_line
from mlplat.cli.plan import NOT_APPLIED_LOCALLY
from mlplat.errors import MlplatError
from mlplat.workflow import session

PLAN_FILE = "mlplat.tfplan"


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=args.json) as s:
        if s.settings.local:
            # Fail before touching anything if the layer that cannot be applied here is broken.
            checks = check_kubernetes_stack(s.kubernetes_stack / "cdk.tf.json")
            if checks.problems:
                raise MlplatError("offline checks of the Kubernetes layer failed:\n" + "\n".join(checks.problems))
        tf = s.terraform()
        stacks: dict[str, dict[str, int]] = {}
        outputs: dict[str, Any] = {}
        for stack in s.applicable_stacks:
            tf.init(stack)
            planned = tf.plan(stack, out=PLAN_FILE)
            stacks[stack.name] = planned.as_dict()
            if planned.total:
                confirm(f"apply {planned.total} changes to {stack.name}?", args.auto_approve)
                tf.apply(stack, plan_file=PLAN_FILE)
            outputs[stack.name] = tf.output(stack)
        result: dict[str, Any] = {"stacks": stacks, "outputs": outputs, "local": s.settings.local}
        if s.settings.local:
            result["kubernetes"] = {"stack": s.kubernetes_stack.name, "applied": False, "reason": NOT_APPLIED_LOCALLY,
                                    "checks": checks.as_dict()}
        return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--auto-approve", action="store_true", help="apply without asking")


def render(r: dict[str, Any]) -> str:
    lines = ["deployed" + (" to the embedded local AWS" if r["local"] else "") + ":", summary_line(r["stacks"])]
    if "kubernetes" in r:
        lines.append(f"  {r['kubernetes']['stack']}: {r['kubernetes']['reason']}")
    return "\n".join(lines)


COMMAND = Command("deploy", "create or update the platform", run, render, add_arguments)
