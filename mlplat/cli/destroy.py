"""`mlplat destroy`: destroy every stack in reverse dependency order."""

from __future__ import annotations

import argparse
from typing import Any

from mlplat.cli.base import Command, confirm, summary_line
from mlplat.workflow import session

PLAN_FILE = "mlplat-destroy.tfplan"


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=args.json) as s:
        tf = s.terraform()
        stacks: dict[str, dict[str, int]] = {}
        for stack in reversed(s.applicable_stacks):
            tf.init(stack)
            planned = tf.plan(stack, destroy=True, out=PLAN_FILE)
            stacks[stack.name] = planned.as_dict()
            if planned.total:
                confirm(f"destroy {planned.remove} resources of {stack.name}?", args.auto_approve)
                tf.apply(stack, plan_file=PLAN_FILE)
        result: dict[str, Any] = {"stacks": stacks, "local": s.settings.local}
        if s.emulator is not None:
            left = {kind: n for kind, n in s.emulator.inventory().items() if n}
            result["emulator_resources_left"] = left
        return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--auto-approve", action="store_true", help="destroy without asking")


def render(r: dict[str, Any]) -> str:
    lines = ["destroyed:", summary_line(r["stacks"])]
    if "emulator_resources_left" in r:
        left = r["emulator_resources_left"]
        lines.append("embedded AWS: " + ("no resources left" if not left else f"resources left: {left}"))
    return "\n".join(lines)


COMMAND = Command("destroy", "destroy the platform", run, render, add_arguments)
