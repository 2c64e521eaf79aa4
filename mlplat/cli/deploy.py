"""`mlplat deploy`: plan and apply every stack in dependency order (AWS layer, then Kubernetes layer), showing each
change before asking; or apply exactly a plan saved by `mlplat plan --out FILE` (`--plan FILE`)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from mlplat import plans
from mlplat.checks import check_kubernetes_stack
from mlplat.cli.base import Command, confirm, summary_line
from mlplat.cli.plan import NOT_APPLIED_LOCALLY, WAITS_FOR_AWS
from mlplat.cli.preflight import check as preflight_check
from mlplat.errors import MlplatError
from mlplat.runner import Terraform
from mlplat.workflow import kubernetes_access, session

PLAN_FILE = "mlplat.tfplan"


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
        if s.settings.local:
            # Fail before touching anything if the layer that cannot be applied here is broken.
            checks = check_kubernetes_stack(s.kubernetes_stack / "cdk.tf.json")
            if checks.problems:
                raise MlplatError("offline checks of the Kubernetes layer failed:\n" + "\n".join(checks.problems))
        report = None if args.skip_preflight else preflight_check(s)
        tf = s.terraform()
        stacks: dict[str, dict[str, Any]] = {}
        outputs: dict[str, Any] = {}
        saved: dict[str, bytes] = {}
        if args.plan is not None:
            _, saved = plans.open_bundle(args.plan, platform=s.blueprint.name, blueprint=args.blueprint,
                                         local=s.settings.local)
        for stack in s.applicable_stacks:
            tf.init(stack)
            if args.plan is not None and f"{stack.name}.tfplan" not in saved:
                stacks[stack.name] = {"skipped": WAITS_FOR_AWS}
                continue
            with kubernetes_access(s, tf) if stack != s.aws_stack else contextlib.nullcontext():
                stacks[stack.name] = _deploy_stack(args, tf, stack, saved.get(f"{stack.name}.tfplan"))
            outputs[stack.name] = tf.output(stack)
        result: dict[str, Any] = {"stacks": stacks, "outputs": outputs, "local": s.settings.local,
                                  "preflight": report.as_dict() if report else "skipped"}
        if s.settings.local:
            result["kubernetes"] = {"stack": s.kubernetes_stack.name, "applied": False, "reason": NOT_APPLIED_LOCALLY,
                                    "checks": checks.as_dict()}
        return result


def _deploy_stack(args: argparse.Namespace, tf: Terraform, stack: Path, saved_plan: bytes | None) -> dict[str, Any]:
    if saved_plan is not None:
        (stack / PLAN_FILE).write_bytes(saved_plan)
        tf.apply(stack, plan_file=PLAN_FILE)  # terraform refuses a stale plan; nothing else is applied
        return {"applied": "saved plan"}
    planned = tf.plan(stack, out=PLAN_FILE)
    if planned.total:
        plans.print_changes([planned])  # stderr, with --json too
        confirm(plans.question(planned), args.auto_approve)
        tf.apply(stack, plan_file=PLAN_FILE)
    return planned.as_dict()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--auto-approve", action="store_true", help="apply without asking")
    p.add_argument("--skip-preflight", action="store_true",
                   help="do not run `mlplat preflight` first (it asks AWS about quotas, offerings, names, ...)")
    p.add_argument("--plan", type=Path, metavar="FILE",
                   help="apply exactly this plan (from `mlplat plan --out FILE`); refused if it is stale")


def render(r: dict[str, Any]) -> str:
    lines = ["deployed" + (" to the embedded local AWS" if r["local"] else "") + ":"]
    for name, stack in r["stacks"].items():
        if "add" in stack:
            lines.append(summary_line({name: stack}))
        else:
            lines.append(f"  {name}: {stack.get('applied') or stack.get('skipped')}")
    if "kubernetes" in r:
        lines.append(f"  {r['kubernetes']['stack']}: {r['kubernetes']['reason']}")
    return "\n".join(lines)


COMMAND = Command("deploy", "create or update the platform", run, render, add_arguments)
