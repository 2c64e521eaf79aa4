"""`mlplat open grafana|argocd|mlflow|airflow|opensearch|opensearch-dashboards`: a local URL for an add-on's web UI, forwarded to its pod through
the cluster's API (mlplat/kube/open.py), with the UI's admin username, and its password only with --show-password
(read from Secrets Manager then, and shown only in the result).

The result is printed as soon as the local port listens; the forward then keeps the process alive (a non-daemon
thread, which the interpreter waits for when `main` returns) until Ctrl-C or SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from typing import Any, Callable

from mlplat.blueprint import load
from mlplat.cli.base import Command
from mlplat.cli.status import deployed_aws_outputs, refuse_local
from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.kube.open import WEB_UIS, Credential, LocalForward, parse_credential
from mlplat.kube.token import ApiClientFactory, EksCluster, connect_to_eks
from mlplat.tunnel import api_tunnel, needs_tunnel

# secret name, region -> the credential in it
CredentialReader = Callable[[str, str], Credential]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ui", choices=sorted(WEB_UIS), help="the web UI to open")
    p.add_argument("--port", type=int, default=None,
                   help="local port (default: the UI's usual port, or a free one when that is taken; 0: a free one)")
    p.add_argument("--show-password", action="store_true",
                   help="read the admin password from Secrets Manager and show it in the result")


def read_from_secrets_manager(secret_name: str, region: str) -> Credential:
    from mlplat.aws import Aws, call

    client = Aws(region=region).client("secretsmanager")
    answer = call(f"reading the secret {secret_name}", client.get_secret_value, SecretId=secret_name)
    return parse_credential(answer.get("SecretString") or "", secret_name)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start(args: argparse.Namespace, *, connect: ApiClientFactory = connect_to_eks,
          read_credential: CredentialReader = read_from_secrets_manager,
          on_event: Callable[[str], None] = say) -> tuple[dict[str, Any], LocalForward]:
    """Resolve the UI's pod, read the password when asked, and listen: the result and the running forward."""
    from mlplat.catalog import by_name
    from mlplat.catalog.secrets import secret_output, secret_uses
    from mlplat.kube.open import resolve_target

    refuse_local(args, "open")
    port = args.port
    if port is not None and not 0 <= port <= 65535:
        raise MlplatError(f"--port: {port} is not a TCP port (1-65535, or 0 for a free one)", exit_code=EXIT_BAD_INPUT)
    ui = WEB_UIS[args.ui]
    bp = load(args.blueprint)
    addon = by_name()[ui.addon]
    if not addon.enabled(bp):
        raise MlplatError(f"{ui.name} is not part of platform {bp.name!r}: {ui.enabled_by} in the blueprint turns it "
                          f"on", exit_code=EXIT_BAD_INPUT)
    use = next(u for u in secret_uses(bp) if u.purpose == ui.credential)
    outputs = deployed_aws_outputs(args, bp)
    secret_name = outputs.get(secret_output(use))
    username, password = use.username, None
    if args.show_password:
        if not secret_name:
            raise MlplatError(f"the AWS layer has no output {secret_output(use)}: deploy the platform again to create "
                              f"{ui.name}'s admin secret")
        credential = read_credential(str(secret_name), str(outputs.get("region") or bp.region))
        username, password = credential.username, credential.password
    cluster = EksCluster.from_outputs(outputs, bp.region)
    # A private endpoint is reached through the access node; the tunnel lives as long as the forward.
    tunnels = contextlib.ExitStack()
    if needs_tunnel(bp.cluster_endpoint_public_access_cidrs, outputs):
        tunnel = tunnels.enter_context(api_tunnel(outputs, bp.region, say=on_event))
        cluster = dataclasses.replace(cluster, via=tunnel.url)
    try:
        api_client = connect(cluster)
        target = resolve_target(api_client, ui, addon.namespace)
        forward = LocalForward(api_client, target, listen_port=ui.local_port if port is None else port,
                               exact_port=port is not None, on_event=on_event)
        forward.start()
    except BaseException:
        tunnels.close()
        raise
    forward.tunnels = tunnels  # type: ignore[attr-defined]  # closed after the forward stops
    result: dict[str, Any] = {"ui": ui.name, "url": f"{ui.scheme}://127.0.0.1:{forward.port}/",
                              "username": username, "secret_name": secret_name, "forwarding_to": target.as_dict()}
    if password is not None:
        result["password"] = password
    if ui.note:
        result["note"] = ui.note
    return result, forward


def run(args: argparse.Namespace) -> dict[str, Any]:
    result, forward = start(args)
    if threading.current_thread() is threading.main_thread():
        def stop(signum: int, frame: Any) -> None:
            say(f"stopping the forward to {result['ui']}")
            forward.stop()
            tunnels = getattr(forward, "tunnels", None)  # set by start() when it opened a tunnel
            if tunnels is not None:
                tunnels.close()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
    return result


def render(r: dict[str, Any]) -> str:
    target = r["forwarding_to"]
    lines = [f"{r['ui']}: {r['url']}",
             f"  username: {r['username']}"]
    if "password" in r:
        lines.append(f"  password: {r['password']}")
    elif r.get("secret_name"):
        lines.append(f"  password: in Secrets Manager, {r['secret_name']} (--show-password shows it)")
    lines.append(f"  forwarding to pod {target['namespace']}/{target['pod']} port {target['pod_port']} (Service "
                 f"{target['service']}:{target['service_port']}); Ctrl-C stops")
    if r.get("note"):
        lines.append(f"  note: {r['note']}")
    return "\n".join(lines)


COMMAND = Command("open", "forward a local port to an add-on's web UI (grafana, argocd, mlflow, airflow, opensearch, "
                  "opensearch-dashboards) and "
                  "print its URL and username", run, render, add_arguments)
