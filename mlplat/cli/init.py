"""`mlplat init`: write a starter blueprint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlplat.blueprint import parse_text
from mlplat.cli.base import Command
from mlplat.errors import EXIT_BAD_INPUT, MlplatError

STARTER = Path(__file__).resolve().parents[2] / "blueprint.tfvars"


def run(args: argparse.Namespace) -> dict[str, Any]:
    target: Path = args.blueprint
    if target.exists() and not args.force:
        raise MlplatError(f"{target} already exists; pass --force to overwrite it", exit_code=EXIT_BAD_INPUT)
    text = STARTER.read_text().replace('name               = "mlplat"', f'name               = "{args.name}"')
    parse_text(text, str(target))  # the starter must be valid for the name given
    target.write_text(text)
    return {"blueprint": str(target), "name": args.name}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default="mlplat", help="platform name (EKS cluster name, resource prefix)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


COMMAND = Command("init", "write a starter blueprint", run,
                  lambda r: f"wrote {r['blueprint']} (platform {r['name']}); next: mlplat validate --blueprint "
                            f"{r['blueprint']}", add_arguments, uses_terraform=False)
