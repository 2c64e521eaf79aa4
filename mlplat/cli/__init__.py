"""`mlplat`: the command line platform pipelines call. One command per module, registered in COMMANDS; the one
error type, MlplatError, is caught only here.

Exit codes: 0 success; 1 an operation failed (terraform, AWS, a check); 2 bad input (blueprint, arguments, a missing
confirmation); 3 changes present (`plan --detailed-exitcode`); 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from mlplat.cli import (bootstrap, cost, deploy, destroy, doctor, init, kubeconfig, outputs, pipeline, plan, preflight,
                        status, synth, validate)
from mlplat.cli import open as open_ui  # not `open`: that would shadow the builtin
from mlplat.cli.base import Command
from mlplat.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, MlplatError

COMMANDS: list[Command] = [init.COMMAND, validate.COMMAND, cost.COMMAND, bootstrap.COMMAND, preflight.COMMAND,
                           synth.COMMAND, plan.COMMAND, deploy.COMMAND,
                           destroy.COMMAND, outputs.COMMAND, status.COMMAND, kubeconfig.COMMAND, open_ui.COMMAND,
                           pipeline.COMMAND, doctor.COMMAND]

EPILOG = """\
examples:
  mlplat validate --blueprint prod.tfvars
  mlplat plan --local --out review.plan        # save the plan for review
  mlplat deploy --local --plan review.plan     # apply exactly that plan
  mlplat destroy --blueprint prod.tfvars       # asks for the platform's name
  mlplat pipeline run examples/pipelines/llm-sft-gpu/pipeline.yaml

environment:
  MLPLAT_BLUEPRINT           default blueprint file (blueprint.tfvars)
  MLPLAT_PROVIDER_MIRROR     terraform provider mirror directory (or .mlplat/config.toml, see `mlplat doctor`)
  MLPLAT_BACKEND_S3_BUCKET   keep terraform state in this S3 bucket
  MLPLAT_BACKEND_S3_REGION   that bucket's region, if not the blueprint's
  MLPLAT_STATE_DIR           local terraform state directory
  TERRAFORM_BINARY           terraform or tofu binary to run
  GOGC                       Go garbage collection for terraform and its providers (mlplat's default: 400)
  NO_COLOR                   no colour in change lists

exit codes: 0 ok, 1 an operation failed, 2 bad input, 3 changes present (plan --detailed-exitcode), 130 interrupted
"""


class ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print usage and exit; main() decides instead
        raise ArgumentError(f"{self.prog}: {message}")


def version() -> str:
    try:
        return metadata.version("mlplat")
    except metadata.PackageNotFoundError:
        return "unknown"


def _common(p: argparse.ArgumentParser, command: Command | None, top: bool) -> None:
    """Options every command takes; the top-level parser takes them too, so `mlplat --local plan` works."""
    default = argparse.SUPPRESS if not top else None
    p.add_argument("--blueprint", type=Path, default=default if not top else
                   Path(os.environ.get("MLPLAT_BLUEPRINT", "blueprint.tfvars")),
                   help="blueprint file (default: blueprint.tfvars or $MLPLAT_BLUEPRINT)")
    p.add_argument("--json", action="store_true", default=default if not top else False,
                   help="print one JSON document on stdout; progress on stderr")
    if top or (command is not None and (command.uses_terraform or command.uses_aws)):
        p.add_argument("--local", action="store_true", default=default if not top else False,
                       help="run against the embedded local AWS (moto on loopback) instead of a real account")
    if top or (command is not None and command.uses_terraform):
        p.add_argument("--provider-mirror", type=Path, default=default,
                       help="terraform provider filesystem mirror ($MLPLAT_PROVIDER_MIRROR, .mlplat/config.toml)")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="mlplat", description="Stand up and run an ML platform on Amazon EKS.", epilog=EPILOG,
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"mlplat {version()}")
    _common(top, None, top=True)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        _common(p, command, top=False)
        command.add_arguments(p)
        p.set_defaults(_command=command)
    return top


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    argv = list(sys.argv[1:] if argv is None else argv)
    top = parser()
    try:
        args = top.parse_args(argv)
    except ArgumentError as exc:
        if "--json" in argv:
            print(json.dumps({"ok": False, "command": None, "error": str(exc)}, indent=2))
        print(f"error: {exc}\n(see mlplat --help)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help and --version print and exit 0
        return int(exc.code or 0)
    if getattr(args, "_command", None) is None:
        top.print_help()
        return 0
    command: Command = args._command
    try:
        result = command.run(args)
    except MlplatError as exc:
        if args.json:
            print(json.dumps({"ok": False, "command": command.name, "error": str(exc),
                              **getattr(exc, "details", {})}, indent=2))
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted before anything was started; nothing changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        if args.json:
            print(json.dumps({"ok": True, "command": command.name, **result}, indent=2, default=str))
        else:
            print(command.render(result))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head`): the result is not wanted, and that is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(result.get("exit_code", 0))
