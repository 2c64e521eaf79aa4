"""`mlplat destroy`: take the platform down completely, in three phases, after checking that nothing will stop it
half-way (mlplat/destroy_checks.py) and, unless --auto-approve, that the user typed the platform's name.

1. Cluster: through the Kubernetes API (mlplat/kube/cleanup.py), what the cluster made outside terraform's state:
   Argo CD Applications, LoadBalancer Services and Ingresses (their AWS load balancers), Karpenter NodePools (waiting
   until every NodeClaim and its instance is gone), platform volumes only with --delete-volumes. On a real account
   with a deployed cluster; through the access node's tunnel when the endpoint is private.
2. Terraform: destroy the Kubernetes layer, then the AWS layer; just before the AWS layer, the network's pieces that
   carry the platform's tags but are not in terraform's state (an interrupted create's, mlplat/sweep.py orphans_of)
   are removed, since they would fail the VPC's deletion.
3. Sweep (mlplat/sweep.py): anything left in the account that carries the platform's tags or the cluster's ownership
   tags (instances, interfaces, load balancers, target groups, security groups, volumes, log groups, placement
   groups), listed, deleted with the confirmation already given (or --auto-approve), then verified gone.

`--dry-run` shows all three and changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from mlplat import destroy_checks, plans
from mlplat.cli.base import Command, confirm_name, summary_line
from mlplat.errors import MlplatError
from mlplat.workflow import Session, kubernetes_access, session

PLAN_FILE = "mlplat-destroy.tfplan"


def refuse(blockers: list[destroy_checks.Blocker], when: str) -> None:
    if blockers:
        lines = "\n".join(f"  - {b}" for b in blockers)
        raise MlplatError(f"destroy refused {when}, because it would stop half-way:\n{lines}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    with session(args.blueprint, local=args.local, provider_mirror=args.provider_mirror, quiet=False) as s:
        tf = s.terraform()
        aws = s.aws()
        tf.init(s.aws_stack)
        aws_state = tf.state(s.aws_stack)
        refuse(destroy_checks.protected_databases(aws_state) + destroy_checks.buckets_with_data(aws_state, aws),
               "before changing anything")
        result: dict[str, Any] = {"local": s.settings.local, "dry_run": args.dry_run}
        planned = []
        for stack in reversed(s.applicable_stacks):
            tf.init(stack)
            with kubernetes_access(s, tf) if stack != s.aws_stack and aws_state else contextlib.nullcontext():
                planned.append((stack, tf.plan(stack, destroy=True, out=PLAN_FILE)))
        plans.print_changes([p for _, p in planned])  # stderr, with --json too
        if args.dry_run:
            result["cluster"] = _cluster_phase(s, tf, args, dry_run=True)
            result["stacks"] = {stack.name: plan.as_dict() for stack, plan in planned}
            sweep = _sweep_plan(s, aws, exclude=_managed_ids(aws_state, aws))
            result["sweep"] = {"found": sweep.ids_by_kind(), "note": "besides what terraform destroys"}
            return result
        managed = _managed_ids(aws_state, aws)
        leftovers = _sweep_plan(s, aws, exclude=managed)
        if any(p.total for _, p in planned) or not leftovers.is_empty:
            for line in leftovers.lines() if not leftovers.is_empty else []:
                s.progress.say(f"sweep: {line}")
            confirm_name(s.blueprint.name, f"destroy platform {s.blueprint.name!r} and everything it holds",
                         args.auto_approve)
        result["cluster"] = _cluster_phase(s, tf, args, dry_run=False)
        stacks: dict[str, dict[str, Any]] = {}
        for stack, plan in planned:
            if stack == s.aws_stack:
                # Karpenter's nodes are gone once the cluster phase drained them; anything still running in the
                # subnets would fail the VPC's deletion after the cluster is already gone.
                refuse(destroy_checks.stray_instances(aws_state, aws), f"before destroying {stack.name}")
                result["orphans"] = _sweep_orphans(s, aws, leftovers, managed)
            stacks[stack.name] = plan.as_dict()
            if plan.total:
                with kubernetes_access(s, tf) if stack != s.aws_stack else contextlib.nullcontext():
                    tf.apply(stack, plan_file=PLAN_FILE)
        result["stacks"] = stacks
        result["sweep"] = _sweep(s, aws)
        if s.emulator is not None:
            left = {kind: n for kind, n in s.emulator.inventory().items() if n}
            result["emulator_resources_left"] = left
        return result


def _cluster_phase(s: Session, tf: Any, args: argparse.Namespace, *, dry_run: bool) -> dict[str, Any]:
    """Phase 1, on a real account whose cluster is deployed; the embedded AWS has no cluster behind it."""
    if s.settings.local:
        return {"skipped": "no Kubernetes cluster behind the embedded AWS"}
    outputs = _aws_outputs(s, tf)
    if not outputs.get("cluster_endpoint"):
        return {"skipped": "no cluster deployed"}
    from mlplat.kube.cleanup import CleanupConfig, clean_up_cluster
    from mlplat.kube.client import eks_api_client
    from mlplat.kube.token import eks_token, sts_client_for

    config = CleanupConfig(platform_namespaces=_platform_namespaces(s), dry_run=dry_run,
                           delete_volumes=args.delete_volumes, remove_stuck_finalizers=args.remove_stuck_finalizers)
    sts = sts_client_for(s.blueprint.region)
    with kubernetes_access(s, tf) as tunnel:
        api = eks_api_client(outputs["cluster_endpoint"], outputs["cluster_certificate_authority_data"],
                             eks_token(outputs["cluster_name"], sts).token,
                             refresh_token=lambda: eks_token(outputs["cluster_name"], sts).token,
                             via=getattr(tunnel, "url", None))
        done = clean_up_cluster(api, config, on_progress=lambda p: s.progress.say(
            f"cluster: {p.step}: {p.remaining} left ({p.elapsed_seconds:.0f} s)"))
    return done.as_dict()


def _aws_outputs(s: Session, tf: Any) -> dict[str, Any]:
    try:
        return tf.output(s.aws_stack)
    except MlplatError:
        return {}


def _platform_namespaces(s: Session) -> tuple[str, ...]:
    from mlplat.catalog import REGISTRY

    return tuple(sorted({addon.namespace for addon in REGISTRY if addon.enabled(s.blueprint)}))


def _managed_ids(state: dict[str, Any], aws: Any) -> set[str]:
    """What terraform destroys itself, or what goes with it, so the listing before the destroy leaves it out: every
    id the state holds (its resources', and those they refer to, such as the security group EKS made for the
    cluster), and the volumes and interfaces of its instances."""
    resources = list(destroy_checks.state_resources(state))
    ids: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            ids.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for _, _, values in resources:
        collect(values)
    instances = [values["id"] for _, rtype, values in resources if rtype == "aws_instance" and "id" in values]
    if instances:
        ec2 = aws.client("ec2")
        for volume in ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": instances}])["Volumes"]:
            ids.add(volume["VolumeId"])
        for eni in ec2.describe_network_interfaces(
                Filters=[{"Name": "attachment.instance-id", "Values": instances}])["NetworkInterfaces"]:
            ids.add(eni["NetworkInterfaceId"])
    return ids


def _sweep_plan(s: Session, aws: Any, exclude: set[str] = frozenset()) -> Any:
    from mlplat.sweep import SweepPlan, plan_sweep

    found = plan_sweep(aws.session(), s.blueprint.name, {"Platform": s.blueprint.name, "ManagedBy": "mlplat"})
    return SweepPlan(found.cluster_name, found.region, found.platform_tags,
                     tuple(r for r in found.resources if r.id not in exclude))


def _sweep_orphans(s: Session, aws: Any, leftovers: Any, managed: set[str]) -> dict[str, Any]:
    """Before terraform's phase: what an interrupted create left in the network outside the state (listed with the
    confirmation above). Left in the VPC, it would fail the VPC's deletion after the cluster is already gone."""
    from mlplat.sweep import execute_sweep, orphans_of

    orphans = orphans_of(leftovers, managed)
    if orphans.is_empty:
        return {"removed": {}}
    s.progress.say(f"removing {len(orphans.resources)} resource(s) an interrupted apply left outside terraform's "
                   "state, before the network they are in is destroyed")
    done = execute_sweep(aws.session(), orphans, s.progress.say)
    done.raise_if_left(f"destroy stopped before destroying {s.aws_stack.name}: what is outside terraform's state "
                       "would fail the VPC's deletion")
    return {"removed": orphans.ids_by_kind()}


def _sweep(s: Session, aws: Any) -> dict[str, Any]:
    """Phase 3: what terraform never knew about. Confirmed with the destroy itself (the platform's name was typed,
    or --auto-approve), as the listing above it said."""
    from mlplat.sweep import execute_sweep

    found = _sweep_plan(s, aws)
    for line in found.lines():
        s.progress.say(f"sweep: {line}")
    if found.is_empty:
        return {"found": {}, "removed": {}, "left": []}
    done = execute_sweep(aws.session(), found, s.progress.say)
    removed: dict[str, list[str]] = {}
    for r in done.removed:
        removed.setdefault(str(r.kind), []).append(r.id)
    summary = {"found": found.ids_by_kind(), "removed": {k: sorted(v) for k, v in removed.items()},
               "left": [str(left) for left in done.left]}
    done.raise_if_left()
    return summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--auto-approve", action="store_true", help="destroy without asking for the platform's name")
    p.add_argument("--dry-run", action="store_true",
                   help="show the three phases (cluster clean-up, terraform, sweep) and change nothing")
    p.add_argument("--delete-volumes", action="store_true",
                   help="also delete the platform's StatefulSet volumes (Prometheus, logs): their data is lost")
    p.add_argument("--remove-stuck-finalizers", action="store_true",
                   help="strip Argo CD's finalizer from Applications still there after the wait (what they manage "
                        "is left to the later phases)")


def render(r: dict[str, Any]) -> str:
    lines = ["destroy (dry run: nothing changed):" if r.get("dry_run") else "destroyed:"]
    cluster = r.get("cluster", {})
    if "skipped" in cluster:
        lines.append(f"  cluster phase: skipped ({cluster['skipped']})")
    elif cluster:
        for step in cluster.get("steps", []):
            lines.append(f"  cluster {step.get('step')}: deleted {len(step.get('deleted', []))}, kept "
                         f"{len(step.get('kept', []))}" + (" (would delete "
                         f"{len(step.get('to_delete', []))})" if r.get("dry_run") else ""))
    orphans = sum(len(v) for v in r.get("orphans", {}).get("removed", {}).values())
    if orphans:
        lines.append(f"  before terraform: {orphans} resource(s) an interrupted apply left in the network, removed")
    lines.append(summary_line(r["stacks"]))
    sweep = r.get("sweep", {})
    found = sum(len(v) for v in sweep.get("found", {}).values())
    lines.append(f"  sweep: {found} resource(s) the platform's controllers left"
                 + ("" if r.get("dry_run") else f", {sum(len(v) for v in sweep.get('removed', {}).values())} removed"))
    if "emulator_resources_left" in r:
        left = r["emulator_resources_left"]
        lines.append("embedded AWS: " + ("no resources left" if not left else f"resources left: {left}"))
    return "\n".join(lines)


COMMAND = Command("destroy", "destroy the platform: cluster clean-up, terraform, then a sweep of what is left",
                  run, render, add_arguments)
