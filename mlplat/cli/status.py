"""`mlplat status`: what is deployed. Per stack: deployed or not, and its outputs (read as `mlplat outputs` reads
them). Per add-on the blueprint enables: its Helm release's state and chart version against the pin. Per node pool:
its nodes and their allocatable accelerators. The last two through the cluster's API (mlplat/kube/status.py).

`--drift` also plans every stack as `mlplat plan` does (a synthesis and terraform, so it takes minutes) and reports
what differs between the blueprint and what is deployed, changed by hand or by another tool; it exits 3 when
anything does, as `plan --detailed-exitcode`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from dataclasses import dataclass
from typing import Any

from mlplat.blueprint import Blueprint, load
from mlplat.cli.base import Command
from mlplat.cli.outputs import _from_state
from mlplat.errors import EXIT_BAD_INPUT, EXIT_CHANGES, MlplatError
from mlplat.kube.token import ApiClientFactory, EksCluster, connect_to_eks
from mlplat.settings import AWS_STACK_SUFFIX, KUBERNETES_STACK_SUFFIX
from mlplat.tunnel import api_tunnel, needs_tunnel
from mlplat.workflow import session, state_file

DRIFT_NOTE = ("not checked: `mlplat status --drift` (or `mlplat plan --detailed-exitcode`) compares the blueprint "
              "with what is deployed")
NO_CLUSTER_LOCALLY = ("--local applies only the AWS layer: no cluster stands behind the embedded AWS, so there are "
                      "no add-ons or nodes to read")


@dataclass(frozen=True)
class StackState:
    name: str
    deployed: bool
    outputs: dict[str, Any]
    applied: bool = True  # False: --local never applies this stack

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"deployed": self.deployed, "outputs": self.outputs}
        if not self.applied:
            out["note"] = "not applied with --local"
        return out


def read_stacks(args: argparse.Namespace, bp: Blueprint, *, aws_only: bool = False) -> list[StackState]:
    """Both stacks (or the AWS layer alone), AWS layer first: deployed (the state has resources) and their outputs,
    read as `mlplat outputs` reads them (local state files directly; state in S3 through terraform)."""
    local = bool(getattr(args, "local", False))
    names = [f"{bp.name}-{AWS_STACK_SUFFIX}", f"{bp.name}-{KUBERNETES_STACK_SUFFIX}"][:1 if aws_only else 2]
    applied = names[:1] if local else names
    files = {stack: state_file(bp, stack, local=local) for stack in applied}
    values: dict[str, dict[str, Any] | None] = {}
    if all(path is not None for path in files.values()):
        values = {stack: _from_state(path) for stack, path in files.items()}
    else:
        with session(args.blueprint, local=local, provider_mirror=getattr(args, "provider_mirror", None),
                     quiet=False, warn=False) as s:
            tf = s.terraform()
            for stack in s.applicable_stacks:
                if stack.name not in applied:
                    continue
                tf.init(stack)
                values[stack.name] = tf.output(stack) if tf.state_resources(stack) else None
    return [StackState(name, values.get(name) is not None, values.get(name) or {}, name in applied)
            for name in names]


def deployed_aws_outputs(args: argparse.Namespace, bp: Blueprint) -> dict[str, Any]:
    """The AWS layer's outputs (cluster endpoint, CA, secrets' names, ...), or an error when it is not deployed."""
    aws = read_stacks(args, bp, aws_only=True)[0]
    if not aws.deployed:
        raise MlplatError(f"platform {bp.name!r} is not deployed: the {aws.name} stack has no resources; run mlplat "
                          f"deploy")
    return aws.outputs


def refuse_local(args: argparse.Namespace, command: str) -> None:
    if getattr(args, "local", False):
        raise MlplatError(f"mlplat {command} talks to the cluster, and with --local there is none: the embedded AWS "
                          f"applies only the AWS layer", exit_code=EXIT_BAD_INPUT)


def expected_addons(bp: Blueprint) -> list[Any]:
    """The enabled add-ons in install order, each as the blueprint pins it and as it is delivered."""
    from mlplat import versions
    from mlplat.addons import install_order
    from mlplat.catalog import REGISTRY
    from mlplat.catalog.modules import ARGOCD_APPLICATIONS, helm_bootstrap
    from mlplat.kube.status import ARGOCD, HELM, ExpectedAddon

    order = install_order(REGISTRY, bp)
    argocd_mode = bp.addons_delivery == "argocd"
    by_helm = helm_bootstrap(order) if argocd_mode else frozenset(a.name for a in order)
    addons = [ExpectedAddon(a.name, a.namespace, a.chart_name, a.chart_version,
                            HELM if a.name in by_helm else ARGOCD, chart_source=a.chart is not None) for a in order]
    if argocd_mode:
        # The parent Application's own release, installed with Helm after the bootstrap.
        addons.append(ExpectedAddon(ARGOCD_APPLICATIONS.name, ARGOCD_APPLICATIONS.namespace,
                                    ARGOCD_APPLICATIONS.chart_name, versions.MANIFESTS_CHART_VERSION, HELM,
                                    chart_source=False))
    return addons


def run(args: argparse.Namespace, *, connect: ApiClientFactory = connect_to_eks) -> dict[str, Any]:
    """`connect` makes the cluster's ApiClient from an EksCluster (tests hand in the fake API's)."""
    bp = load(args.blueprint)
    stacks = read_stacks(args, bp)
    result: dict[str, Any] = {"platform": bp.name, "stacks": {s.name: s.as_dict() for s in stacks}}
    aws = stacks[0]
    if getattr(args, "local", False):
        result["cluster"] = {"queried": False, "reason": NO_CLUSTER_LOCALLY}
    elif not aws.deployed:
        result["cluster"] = {"queried": False, "reason": f"the {aws.name} stack is not deployed: there is no cluster"}
    else:
        from mlplat.kube.status import cluster_status

        cluster = EksCluster.from_outputs(aws.outputs, bp.region)
        with (api_tunnel(aws.outputs, bp.region, say=lambda m: print(m, file=sys.stderr))
              if needs_tunnel(bp.cluster_endpoint_public_access_cidrs, aws.outputs) else contextlib.nullcontext()) as tunnel:
            api_client = connect(dataclasses.replace(cluster, via=tunnel.url) if tunnel else cluster)
            try:
                state = cluster_status(api_client, expected_addons(bp), [p.name for p in bp.enabled_pools])
            except MlplatError as exc:
                exc.details = {"stacks": result["stacks"]}  # what could be read still reaches a --json reader
                raise
            finally:
                api_client.close()
        result["cluster"] = {"queried": True, "endpoint": cluster.endpoint, **state.as_dict()}
    if getattr(args, "drift", False):
        result["drift"] = drift(args)
        if result["drift"]["changes"]:
            result["exit_code"] = EXIT_CHANGES
    else:
        result["drift"] = DRIFT_NOTE
    return result


def drift(args: argparse.Namespace) -> dict[str, Any]:
    """What a plan of each deployed stack would change: the resources that drifted from the blueprint."""
    from mlplat.cli.plan import plan_stacks

    with session(args.blueprint, local=getattr(args, "local", False),
                 provider_mirror=getattr(args, "provider_mirror", None), quiet=False) as s:
        planned, deferred = plan_stacks(s)
    stacks: dict[str, Any] = {
        p.stack: {"changes": p.total, "resources": [f"{c.action} {c.address}" for c in p.changes]} for p in planned}
    stacks.update({name: {"not_checked": why} for name, why in deferred.items()})
    return {"checked": True, "changes": sum(p.total for p in planned), "stacks": stacks}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--drift", action="store_true",
                   help=f"also plan every stack and report what differs from the blueprint (minutes: a synthesis and "
                        f"terraform); exit {EXIT_CHANGES} when something does")


def render(r: dict[str, Any]) -> str:
    lines = [f"platform {r['platform']}", "stacks:"]
    width = max(len(name) for name in r["stacks"])
    for name, stack in r["stacks"].items():
        state = "deployed" if stack["deployed"] else "not deployed"
        if stack.get("note"):
            state += f" ({stack['note']})"
        lines.append(f"  {name.ljust(width)}  {state}")
        for key, value in sorted(stack["outputs"].items()):
            shown = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"    {key}: {shown if len(shown) <= 100 else shown[:97] + '...'}")
    cluster = r["cluster"]
    if not cluster["queried"]:
        lines.append(f"cluster: not queried: {cluster['reason']}")
    else:
        lines.append(f"add-ons (cluster {cluster['endpoint']}):")
        width = max((len(n) for n in cluster["addons"]), default=0)
        for name, addon in cluster["addons"].items():
            version = addon["deployed_version"] or "-"
            pin = "" if addon["matches_pin"] in (True, None) else f" (pin {addon['pinned_version']})"
            mark = "ok" if addon["healthy"] else "!!"
            line = f"  {mark} {name.ljust(width)}  {addon['namespace']}  {addon['state']}  {version}{pin}"
            lines.append(line + (f": {addon['message']}" if addon["message"] else ""))
        lines.append("node pools:")
        for name, pool in cluster["node_pools"].items():
            lines.append(f"  {name}: " + _pool_line(pool))
        if cluster["other_nodes"]:
            ready = sum(1 for n in cluster["other_nodes"].values() if n["ready"])
            lines.append(f"  other nodes (system node group): {len(cluster['other_nodes'])} ({ready} ready)")
    lines += _drift_lines(r["drift"])
    return "\n".join(lines)


def _drift_lines(d: Any) -> list[str]:
    if isinstance(d, str):
        return [f"drift: {d}"]
    if not d["changes"]:
        return ["drift: none (every stack matches the blueprint)"]
    lines = [f"drift: {d['changes']} resource(s) differ from the blueprint (`mlplat deploy` puts them back):"]
    for name, stack in d["stacks"].items():
        if "not_checked" in stack:
            lines.append(f"  {name}: {stack['not_checked']}")
        for resource in stack.get("resources", []):
            lines.append(f"  {name}: {resource}")
    return lines


def _pool_line(pool: dict[str, Any]) -> str:
    if not pool["in_cluster"] and not pool["nodes"]:
        return "no NodePool in the cluster"
    parts = [f"{len(pool['nodes'])} node(s), {pool['ready_nodes']} ready"]
    if pool["launching"]:
        parts.append(f"{len(pool['launching'])} launching ({', '.join(pool['launching'])})")
    parts += [f"{resource}: {count}" for resource, count in sorted(pool["accelerators"].items())]
    return "; ".join(parts)


COMMAND = Command("status", "what is deployed: stacks, add-on releases against their pins, node pools and "
                  "accelerators; --drift: what differs from the blueprint", run, render, add_arguments)
