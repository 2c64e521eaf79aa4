"""`mlplat preflight`: ask the account, before a deploy, what would make it fail half-way (quotas, instance offerings
in the pools' zones, the EKS version, names taken, the Spot role, permissions, ...). Read-only. Exit 2 when a
finding blocks; `mlplat deploy` runs it first unless --skip-preflight."""

from __future__ import annotations

import argparse
from typing import Any

from mlplat import preflight
from mlplat.cli.base import Command
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.workflow import Session, session


class PreflightBlocked(MlplatError):
    exit_code = EXIT_BAD_INPUT


def check(s: Session) -> preflight.Report:
    """Run preflight in a session (synthesized stacks, an account); raise PreflightBlocked on a blocking finding."""
    stack = preflight.load_stack(s.aws_stack / "cdk.tf.json")
    report = preflight.Preflight(s.blueprint, s.aws(), stack, say=s.progress.say).run()
    if report.blocking:
        error = PreflightBlocked("preflight found what would make the deploy fail; nothing was changed:\n"
                                 + preflight.render(preflight.Report(report.blocking)))
        error.details = {"preflight": report.as_dict()}
        raise error
    return report


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
        report = check(s)
    return {"preflight": report.as_dict()}


def render(r: dict[str, Any]) -> str:
    findings = tuple(preflight.Finding(**f) for f in r["preflight"]["findings"])
    return preflight.render(preflight.Report(findings))


COMMAND = Command("preflight", "check the account before a deploy: quotas, offerings, versions, names, permissions",
                  run, render)
