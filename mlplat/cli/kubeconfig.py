"""`mlplat kubeconfig`: add the deployed cluster to a kubeconfig as the context `<platform>`, merged into what the
file holds (mlplat/kube/kubeconfig.py). With --tunnel-port N the context talks to a private endpoint through the
cluster access node: the result says which SSM session to start for it."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from mlplat.blueprint import load
from mlplat.cli.base import Command
from mlplat.cli.status import deployed_aws_outputs, refuse_local
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.kube.kubeconfig import KubeconfigEntry, Tunnel, default_kubeconfig_path, write_kubeconfig
from mlplat.kube.token import EksCluster


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig file to write (default: the first file of $KUBECONFIG, else ~/.kube/config)")
    p.add_argument("--tunnel-port", type=int, default=None, metavar="N",
                   help="reach a private endpoint through the cluster access node: the context talks to "
                        "https://127.0.0.1:N, which an SSM port-forward session carries to the endpoint")


def run(args: argparse.Namespace) -> dict[str, Any]:
    refuse_local(args, "kubeconfig")
    port = args.tunnel_port
    if port is not None and not 1 <= port <= 65535:
        raise MlplatError(f"--tunnel-port: {port} is not a TCP port (1-65535)", exit_code=EXIT_BAD_INPUT)
    bp = load(args.blueprint)
    outputs = deployed_aws_outputs(args, bp)
    tunnel = None
    if port is not None:
        instance = outputs.get("access_node_instance_id")
        if not instance:
            raise MlplatError(f"--tunnel-port needs the cluster access node, and platform {bp.name!r} has none: set "
                              f"create_cluster_access_node = true in the blueprint and deploy",
                              exit_code=EXIT_BAD_INPUT)
        tunnel = Tunnel(port, str(instance))
    entry = KubeconfigEntry(bp.name, EksCluster.from_outputs(outputs, bp.region), tunnel,
                            aws_profile=os.environ.get("AWS_PROFILE") or None)
    path = args.kubeconfig or default_kubeconfig_path(os.environ)
    return write_kubeconfig(path, entry).as_dict()


def render(r: dict[str, Any]) -> str:
    verb = "wrote" if r["changed"] else "already up to date:"
    lines = [f"{verb} context {r['context']} ({r['server']}) in {r['kubeconfig']}"]
    if r["previous_context"] and r["previous_context"] != r["context"]:
        lines.append(f"current context was {r['previous_context']}; now {r['context']} "
                     f"(`kubectl config use-context {r['previous_context']}` switches back)")
    if r["tunnel_command"]:
        lines.append("the context goes through the cluster access node; keep this session running while you use it:")
        lines.append("  " + shlex.join(r["tunnel_command"]))
    return "\n".join(lines)


COMMAND = Command("kubeconfig", "add the deployed cluster to a kubeconfig (merged; a context named after the platform)",
                  run, render, add_arguments)
