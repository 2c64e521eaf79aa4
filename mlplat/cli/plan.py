"""`mlplat plan`: what deploy would change, resource by resource, per stack (`--out FILE` saves it for `deploy
--plan FILE`)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from mlplat import plans
from mlplat.checks import check_kubernetes_stack
from mlplat.cli.base import Command
from mlplat.errors import EXIT_CHANGES, MlplatError
from mlplat.workflow import kubernetes_access, session

NOT_APPLIED_LOCALLY = ("not planned or applied: --local has no Kubernetes cluster behind the embedded AWS; the layer "
                       "was synthesized and checked offline")
# A Kubernetes-layer plan reads the AWS layer's outputs; while those are about to change it would plan against stale
# values, so it waits for the AWS layer to be applied.
WAITS_FOR_AWS = "not planned: it reads the AWS layer's outputs, which the AWS layer's changes may change; plan it again "\
                "after they are applied"


def plan_stacks(s: Any) -> tuple[list[plans.Plan], dict[str, str]]:
    """Each applicable stack of session `s` planned in order (a Kubernetes layer waits while the AWS layer has
    changes); also what `mlplat status --drift` compares."""
    tf = s.terraform()
    planned: list[plans.Plan] = []
    deferred: dict[str, str] = {}
    for stack in s.applicable_stacks:
        if planned and planned[0].total and stack != s.aws_stack:
            deferred[stack.name] = WAITS_FOR_AWS
            continue
        tf.init(stack)
        with kubernetes_access(s, tf) if stack != s.aws_stack else contextlib.nullcontext():
            planned.append(tf.plan(stack))
    return planned, deferred


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
        planned, deferred = plan_stacks(s)
        result: dict[str, Any] = {"stacks": {p.stack: p.as_dict() for p in planned},
                                  "changes": sum(p.total for p in planned)}
        if deferred:
            result["deferred"] = deferred
        if s.settings.local:
            checks = check_kubernetes_stack(s.kubernetes_stack / "cdk.tf.json")
            if checks.problems:
                raise MlplatError("offline checks of the Kubernetes layer failed:\n" + "\n".join(checks.problems))
            result["kubernetes"] = {"stack": s.kubernetes_stack.name, "applied": False, "reason": NOT_APPLIED_LOCALLY,
                                    "checks": checks.as_dict()}
        if args.out is not None:
            plans.save_bundle(args.out, planned, platform=s.blueprint.name, blueprint=args.blueprint,
                              local=s.settings.local)
            result["saved"] = str(args.out)
        if args.detailed_exitcode and result["changes"]:
            result["exit_code"] = EXIT_CHANGES
        plans.print_changes(planned)  # stderr, with --json too
        return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detailed-exitcode", action="store_true",
                   help=f"exit {EXIT_CHANGES} when there are changes (0: none; 1: failed; 2: bad input)")
    p.add_argument("--out", type=Path, metavar="FILE", help="save the plan, for `mlplat deploy --plan FILE`")


def render(r: dict[str, Any]) -> str:
    total = r["changes"]
    lines = [f"{total} change{'s' if total != 1 else ''} planned" if total else "no changes planned"]
    lines += [f"  {stack}: {why}" for stack, why in r.get("deferred", {}).items()]
    if "kubernetes" in r:
        lines.append(f"  {r['kubernetes']['stack']}: {r['kubernetes']['reason']}")
    if "saved" in r:
        lines.append(f"saved to {r['saved']}; apply exactly this plan with: mlplat deploy --plan {r['saved']}")
    return "\n".join(lines)


COMMAND = Command("plan", "show what deploy would change, resource by resource", run, render, add_arguments)
