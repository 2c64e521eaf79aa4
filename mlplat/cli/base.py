"""The shape of a CLI command."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, Callable

from mlplat.errors import EXIT_BAD_INPUT, MlplatError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], dict[str, Any]]
    render: Callable[[dict[str, Any]], str]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    uses_terraform: bool = True
    # Talks to AWS with boto3 only (bootstrap, preflight): takes --local, not --provider-mirror.
    uses_aws: bool = False


def confirm(question: str, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise MlplatError(f"{question} needs confirmation and stdin is not a terminal: pass --auto-approve",
                          exit_code=EXIT_BAD_INPUT)
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise MlplatError("cancelled; nothing was changed", exit_code=EXIT_BAD_INPUT)


def confirm_name(name: str, action: str, auto_approve: bool) -> None:
    """Irreversible actions ask for the platform's name, not a y (as terraform asks for "yes")."""
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise MlplatError(f"{action} needs confirmation and stdin is not a terminal: pass --auto-approve",
                          exit_code=EXIT_BAD_INPUT)
    answer = input(f"{action}? Type the platform's name ({name}) to confirm: ").strip()
    if answer != name:
        raise MlplatError(f"cancelled: {answer!r} is not {name!r}; nothing was changed", exit_code=EXIT_BAD_INPUT)


def summary_line(stacks: dict[str, dict[str, int]]) -> str:
    return "\n".join(f"  {name}: +{s['add']} ~{s['change']} -{s['remove']}" for name, s in stacks.items())
