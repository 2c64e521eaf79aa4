"""`mlplat`: the command line platform pipelines call. One command per module, registered in COMMANDS; the one
error type, MlplatError, is caught only here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mlplat.cli import deploy, destroy, init, outputs, plan, synth, validate
from mlplat.cli.base import Command
from mlplat.errors import EXIT_BAD_INPUT, MlplatError

COMMANDS: list[Command] = [init.COMMAND, validate.COMMAND, synth.COMMAND, plan.COMMAND, deploy.COMMAND,
                           destroy.COMMAND, outputs.COMMAND]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mlplat", description="Stand up and run an ML platform on Amazon EKS.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.add_argument("--blueprint", type=Path, default=Path(os.environ.get("MLPLAT_BLUEPRINT", "blueprint.tfvars")),
                       help="blueprint file (default: blueprint.tfvars or $MLPLAT_BLUEPRINT)")
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout; progress on stderr")
        if command.uses_terraform:
            p.add_argument("--local", action="store_true",
                           help="run against the embedded local AWS (moto on loopback) instead of a real account")
            mirror = os.environ.get("MLPLAT_PROVIDER_MIRROR")
            p.add_argument("--provider-mirror", type=Path, default=Path(mirror) if mirror else None,
                           help="terraform provider filesystem mirror for air-gapped use ($MLPLAT_PROVIDER_MIRROR)")
        command.add_arguments(p)
        p.set_defaults(_command=command)
    return top


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage
        return EXIT_BAD_INPUT if exc.code else 0
    command: Command = args._command
    try:
        result = command.run(args)
    except MlplatError as exc:
        if args.json:
            print(json.dumps({"ok": False, "command": command.name, "error": str(exc)}, indent=2))
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps({"ok": True, "command": command.name, **result}, indent=2, default=str))
    else:
        print(command.render(result))
    return int(result.get("exit_code", 0))
