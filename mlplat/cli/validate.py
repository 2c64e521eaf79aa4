"""`mlplat validate`: check the blueprint (and workload manifests against it, with --workload), synthesize, run the
offline checks, and `terraform validate` the AWS layer (unless --blueprint-only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlplat.blueprint import load
from mlplat.checks import check_kubernetes_stack
from mlplat.cli.base import Command
from mlplat.errors import BlueprintError, MlplatError
from mlplat.workload_check import load_workloads, problems
from mlplat.workflow import session


def run(args: argparse.Namespace) -> dict[str, Any]:
    bp = load(args.blueprint)
    result: dict[str, Any] = {"blueprint": str(args.blueprint), "name": bp.name, "enabled_pools":
                              [p.name for p in bp.enabled_pools], "warnings": bp.warnings()}
    if args.workload:
        workloads = [w for path in args.workload for w in load_workloads(path)]
        found = problems(bp, workloads)
        if found:
            raise BlueprintError(found)
        result["workloads"] = [{"file": str(w.path), "line": w.line, "kind": w.obj["kind"],
                                "name": w.obj.get("metadata", {}).get("name")} for w in workloads if w.runs_pods]
    if args.blueprint_only:
        return result
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False,
                 warn=False) as s:
        checks = check_kubernetes_stack(s.kubernetes_stack / "cdk.tf.json")
        if checks.problems:
            raise MlplatError("offline checks of the Kubernetes layer failed:\n" + "\n".join(checks.problems))
        tf = s.terraform()
        tf.env["TF_DATA_DIR"] = str(s.work_dir / ".validate-data")  # keep validate's init out of the stack's
        tf.init(s.aws_stack, backend=False)
        tf.validate(s.aws_stack)
        result.update({"kubernetes_checks": checks.as_dict(), "terraform_validate": {s.aws_stack.name: "valid"}})
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--blueprint-only", action="store_true", help="only parse and check the blueprint")
    p.add_argument("--workload", action="append", type=Path, metavar="FILE", default=[],
                   help="also check these workload manifests against the blueprint: operators installed, queue and "
                        "runtime present, every pod on an enabled pool (repeatable)")


def render(r: dict[str, Any]) -> str:
    lines = [f"{r['blueprint']}: valid (platform {r['name']}, pools: {', '.join(r['enabled_pools'])})",
             *r["warnings"]]
    lines += [f"{w['file']}:{w['line']}: {w['kind']}/{w['name']}: runs on this platform" for w in r.get("workloads", [])]
    if "kubernetes_checks" in r:
        k = r["kubernetes_checks"]
        lines.append(f"kubernetes layer: {k['releases']} releases, {k['objects']} objects, "
                     f"{k['core_objects_validated']} core objects schema-checked")
        lines += [f"note: {n}" for n in k["notes"]]
        lines += [f"{stack}: terraform validate ok" for stack in r["terraform_validate"]]
    return "\n".join(lines)


COMMAND = Command("validate", "check a blueprint and the stacks it synthesizes", run, render, add_arguments)
