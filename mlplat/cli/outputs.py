"""`mlplat outputs`: the deployed stacks' outputs (cluster endpoint, role ARNs, file systems, secrets ...)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mlplat.cli.base import Command
from mlplat.workflow import session

MAX_WIDTH = 72


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=args.json) as s:
        tf = s.terraform()
        outputs = {}
        for stack in s.applicable_stacks:
            tf.init(stack)
            outputs[stack.name] = tf.output(stack)
        return {"outputs": outputs}


def render(r: dict[str, Any]) -> str:
    lines = []
    for stack, values in r["outputs"].items():
        lines.append(f"{stack}:")
        width = max((len(k) for k in values), default=0)
        for key, value in sorted(values.items()):
            shown = value if isinstance(value, str) else json.dumps(value)
            if len(shown) > MAX_WIDTH:  # certificates and the like: the full value is in --json
                shown = shown[: MAX_WIDTH - 1] + "…"
            lines.append(f"  {key.ljust(width)}  {shown}")
    return "\n".join(lines)


COMMAND = Command("outputs", "print the deployed stacks' outputs", run, render)
