"""`mlplat outputs`: the deployed stacks' outputs (cluster endpoint, role ARNs, file systems, secrets ...).

Where the state is a local file (the embedded AWS, or a real account without an S3 backend) it is read directly:
no synthesis, no emulator, no terraform. State in S3 is read through terraform.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mlplat.blueprint import load
from mlplat.cli.base import Command
from mlplat.errors import MlplatError
from mlplat.runner import platform_outputs
from mlplat.settings import AWS_STACK_SUFFIX, KUBERNETES_STACK_SUFFIX
from mlplat.workflow import session, state_file


def _from_state(path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise MlplatError(f"cannot read the state file {path} ({exc})") from None
    if not state.get("resources"):
        return None  # destroyed (or never applied): the file remains, empty
    return platform_outputs(state.get("outputs", {}))


def run(args: argparse.Namespace) -> dict[str, Any]:
    bp = load(args.blueprint)
    # --local applies the AWS layer alone (no cluster behind the emulator).
    suffixes = (AWS_STACK_SUFFIX,) if args.local else (AWS_STACK_SUFFIX, KUBERNETES_STACK_SUFFIX)
    stacks = [f"{bp.name}-{suffix}" for suffix in suffixes]
    files = {stack: state_file(bp, stack, local=args.local) for stack in stacks}
    if all(path is not None for path in files.values()):
        outputs = {stack: values for stack, path in files.items() if (values := _from_state(path)) is not None}
    else:
        with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
            tf = s.terraform()
            outputs = {}
            for stack in s.applicable_stacks:
                tf.init(stack)
                if tf.state_resources(stack):
                    outputs[stack.name] = tf.output(stack)
    if not outputs:
        where = " on the embedded AWS" if args.local else ""
        raise MlplatError(f"platform {bp.name!r} is not deployed{where}: no stack has resources; run mlplat deploy"
                          + (" --local" if args.local else ""))
    return {"outputs": outputs}


def render(r: dict[str, Any]) -> str:
    lines = []
    for stack, values in r["outputs"].items():
        lines.append(f"{stack}:")
        width = max((len(k) for k in values), default=0)
        for key, value in sorted(values.items()):
            shown = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"  {key.ljust(width)}  {shown}")
    return "\n".join(lines)


COMMAND = Command("outputs", "print the deployed stacks' outputs", run, render)
