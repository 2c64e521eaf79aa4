"""`mlplat destroy`: destroy every stack in reverse dependency order, after checking that nothing will stop it half-way
(mlplat/destroy_checks.py) and, unless --auto-approve, that the user typed the platform's name."""

from __future__ import annotations

import argparse
from typing import Any

from mlplat import destroy_checks, plans
from mlplat.cli.base import Command, confirm_name, summary_line
from mlplat.errors import MlplatError
from mlplat.workflow import session

PLAN_FILE = "mlplat-destroy.tfplan"


def refuse(blockers: list[destroy_checks.Blocker], when: str) -> None:
    if blockers:
        lines = "\n".join(f"  - {b}" for b in blockers)
        raise MlplatError(f"destroy refused {when}, because it would stop half-way:\n{lines}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
        tf = s.terraform()
        aws = s.aws()
        tf.init(s.aws_stack)
        aws_state = tf.state(s.aws_stack)
        refuse(destroy_checks.protected_databases(aws_state) + destroy_checks.buckets_with_data(aws_state, aws),
               "before changing anything")
        planned = []
        for stack in reversed(s.applicable_stacks):
            tf.init(stack)
            planned.append((stack, tf.plan(stack, destroy=True, out=PLAN_FILE)))
        plans.print_changes([p for _, p in planned])  # stderr, with --json too
        if any(p.total for _, p in planned):
            confirm_name(s.blueprint.name, f"destroy platform {s.blueprint.name!r} and everything it holds",
                         args.auto_approve)
        stacks: dict[str, dict[str, Any]] = {}
        for stack, plan in planned:
            if stack == s.aws_stack:
                # Karpenter's nodes are gone once the Kubernetes layer is (its NodePools drained them); anything
                # still running in the subnets would fail the VPC's deletion after the cluster is already gone.
                refuse(destroy_checks.stray_instances(aws_state, aws), f"before destroying {stack.name}")
            stacks[stack.name] = plan.as_dict()
            if plan.total:
                tf.apply(stack, plan_file=PLAN_FILE)
        result: dict[str, Any] = {"stacks": stacks, "local": s.settings.local}
        if s.emulator is not None:
            left = {kind: n for kind, n in s.emulator.inventory().items() if n}
            result["emulator_resources_left"] = left
        return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--auto-approve", action="store_true", help="destroy without asking for the platform's name")


def render(r: dict[str, Any]) -> str:
    lines = ["destroyed:", summary_line(r["stacks"])]
    if "emulator_resources_left" in r:
        left = r["emulator_resources_left"]
        lines.append("embedded AWS: " + ("no resources left" if not left else f"resources left: {left}"))
    return "\n".join(lines)


COMMAND = Command("destroy", "destroy the platform", run, render, add_arguments)
