"""`mlplat pipeline ACTION FILE`: ML pipelines from recipes (mlplat/pipelines).

  render    print every step's Kubernetes objects, as they would be submitted (YAML; --json: a list)
  validate  read the pipeline and its recipes, render them and check each step against the blueprint: operator,
            queue and what it covers, the pool its pods land on, claims; no cluster needed
  run       validate, then run the steps in order on the deployed platform's cluster: submit, wait, stream the
            pods' logs, delete the step's objects always (also on SIGINT/SIGTERM); exit 1 when a step fails or
            times out, 130 when interrupted
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Any

import yaml

from mlplat.blueprint import load
from mlplat.cli.base import Command
from mlplat.errors import BlueprintError
from mlplat.kube.token import ApiClientFactory, connect_to_eks
from mlplat.pipelines.pipeline import Pipeline, check, load as load_pipeline

ACTIONS = ("render", "validate", "run")


def _checked(args: argparse.Namespace) -> tuple[Any, Pipeline]:
    bp = load(args.blueprint)
    pipeline = load_pipeline(args.file, bp)
    if args.action != "render":
        problems = check(bp, pipeline)
        if problems:
            raise BlueprintError(problems)
    return bp, pipeline


def _summary(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [{"name": s.spec.name, "template": s.spec.template, "kind": s.rendered.workload["kind"],
             "object": s.rendered.workload["metadata"]["name"], "pool": s.rendered.pool, "queue": s.rendered.queue,
             "pending_timeout_seconds": s.spec.pending_timeout, "timeout_seconds": s.spec.timeout}
            for s in pipeline.steps]


def run(args: argparse.Namespace, *, connect: ApiClientFactory = connect_to_eks) -> dict[str, Any]:
    """`connect` makes the cluster's ApiClient from an EksCluster (tests hand in the fake API's)."""
    bp, pipeline = _checked(args)
    result: dict[str, Any] = {"action": args.action, "file": str(args.file), "pipeline": pipeline.name,
                              "namespace": pipeline.namespace, "warnings": pipeline.warnings}
    if args.action == "render":
        return {**result, "objects": pipeline.objects}
    if args.action == "validate":
        return {**result, "steps": _summary(pipeline)}
    from mlplat.cli.status import deployed_aws_outputs, refuse_local
    from mlplat.kube.token import EksCluster
    from mlplat.pipelines.run import Runner, say_to_stderr
    from mlplat.tunnel import api_tunnel, needs_tunnel

    refuse_local(args, "pipeline run")
    for warning in pipeline.warnings:
        say_to_stderr(f"warning: {warning}")
    outputs = deployed_aws_outputs(args, bp)
    cluster = EksCluster.from_outputs(outputs, bp.region)
    with (api_tunnel(outputs, bp.region, say=say_to_stderr)
          if needs_tunnel(bp.cluster_endpoint_public_access_cidrs, outputs) else contextlib.nullcontext()) as tunnel:
        api_client = connect(dataclasses.replace(cluster, via=tunnel.url) if tunnel else cluster)
        try:
            # Logs go to stdout for people; with --json, stdout carries only the result, so they go to stderr.
            logs = None if args.no_logs else (sys.stderr if args.json else sys.stdout)
            outcome = Runner(api_client, say=say_to_stderr, poll_seconds=args.poll_seconds, logs=logs).run(pipeline)
        finally:
            api_client.close()
    return {**result, **outcome}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=ACTIONS, help="render, validate or run")
    p.add_argument("file", type=Path, metavar="PIPELINE.yaml", help="the pipeline file (its recipes are read "
                                                                    "relative to it)")
    p.add_argument("--poll-seconds", type=float, default=10.0, help="run: how often to check each step (default 10)")
    p.add_argument("--no-logs", action="store_true", help="run: do not stream the pods' logs")


def render(r: dict[str, Any]) -> str:
    warnings = [f"warning: {w}" for w in r["warnings"]]
    if r["action"] == "render":
        return "\n".join([*(f"# {w}" for w in warnings),
                          yaml.safe_dump_all(r["objects"], sort_keys=False, width=120).rstrip()])
    if r["action"] == "validate":
        lines = [f"{r['file']}: pipeline {r['pipeline']} in {r['namespace']}: valid, {len(r['steps'])} step(s)"]
        lines += [f"  {s['name']}: {s['template']} -> {s['kind']} {s['object']} on pool {s['pool']}"
                  + (f", queue {s['queue']}" if s["queue"] else ", not queued (enable_kueue is off)")
                  for s in r["steps"]]
        return "\n".join(lines + warnings)
    lines = [f"pipeline {r['pipeline']}: {r['status']}"]
    for s in r["steps"]:
        took = f" in {s['seconds']:.0f} s" if s["seconds"] is not None else ""
        waited = f" (pending {s['pending_seconds']:.0f} s)" if s["pending_seconds"] is not None else ""
        cleaned = {True: "", False: "; NOT deleted", None: ""}[s["cleaned_up"]]
        lines.append(f"  {s['name']}: {s['status']}{took}{waited}"
                     + (f": {s['message']}" if s["message"] and s["status"] != "succeeded" else "") + cleaned)
    return "\n".join(lines)


COMMAND = Command("pipeline", "render, validate and run ML pipelines of recipe-driven steps (MLOps on EKS's "
                  "recipe format)", lambda args: run(args), render, add_arguments, uses_terraform=False,
                  uses_aws=True)

