"""A tunnel to a private EKS endpoint through the cluster access node (modules/access_node.py): an SSM
port-forwarding session (`aws ssm start-session`, document AWS-StartPortForwardingSessionToRemoteHost) from a local
port to the endpoint's port 443. Terraform's Kubernetes and Helm providers, and mlplat's own Kubernetes calls, then
connect to https://127.0.0.1:<port> and verify the endpoint's certificate under its own name (tls_server_name).

The session needs the AWS CLI and its Session Manager plugin on the machine that runs mlplat (`mlplat doctor` checks
both), and ssm:StartSession on the access node for the caller. Nothing listens on the VPC side: the access node has no
inbound rule; the session is opened from the instance's SSM agent outwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from mlplat.errors import MlplatError

DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"


@dataclass(frozen=True)
class Tunnel:
    port: int
    server_name: str  # the endpoint's host name, for TLS verification

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def needs_tunnel(public_access_cidrs: tuple[str, ...], outputs: Mapping[str, object]) -> bool:
    """A private-only endpoint with the access node deployed: reach it through the node. (With public CIDRs, or
    without the node, mlplat connects directly: a VPN or a runner inside the VPC.)"""
    return not public_access_cidrs and bool(outputs.get("access_node_instance_id"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoint_host(endpoint: str) -> str:
    return endpoint.removeprefix("https://").rstrip("/")


def start_session_command(instance_id: str, endpoint: str, port: int, region: str) -> list[str]:
    return ["aws", "ssm", "start-session", "--region", region, "--target", instance_id, "--document-name", DOCUMENT,
            "--parameters", f"host={endpoint_host(endpoint)},portNumber=443,localPortNumber={port}"]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def api_tunnel(outputs: Mapping[str, str], region: str, *, say: Callable[[str], None], port: int | None = None,
               env: Mapping[str, str] | None = None, timeout_seconds: float = 60.0) -> Iterator[Tunnel]:
    """Open the tunnel for the deployed AWS layer's `outputs`; closed (the session ended) when the block ends."""
    instance_id = outputs.get("access_node_instance_id")
    if not instance_id:
        raise MlplatError("the cluster endpoint is private and the platform has no access node: set "
                          "create_cluster_access_node = true and deploy the AWS layer, or list this machine's network "
                          "in cluster_endpoint_public_access_cidrs")
    if shutil.which("aws", path=(env or os.environ).get("PATH")) is None:
        raise MlplatError("the AWS CLI (`aws`) is not on PATH: the tunnel to the private endpoint is an SSM session it "
                          "opens; install the AWS CLI v2 and the Session Manager plugin (`mlplat doctor` checks both)")
    port = port or free_port()
    tunnel = Tunnel(port=port, server_name=endpoint_host(outputs["cluster_endpoint"]))
    command = start_session_command(instance_id, outputs["cluster_endpoint"], port, region)
    say(f"tunnel: opening an SSM session through {instance_id} to {tunnel.server_name}:443 on 127.0.0.1:{port}")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(env) if env is not None else None, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_seconds
            while not _listening(port):
                if proc.poll() is not None:
                    log.seek(0)
                    said = log.read().decode(errors="replace").strip().splitlines()[-5:]
                    raise MlplatError(f"tunnel: `{' '.join(command)}` ended (exit {proc.returncode}) before the port "
                                      f"opened: {' / '.join(said) or 'no output'}; check that the Session Manager "
                                      f"plugin is installed and that you may call ssm:StartSession on {instance_id}")
                if time.monotonic() > deadline:
                    raise MlplatError(f"tunnel: port {port} did not open within {timeout_seconds:.0f} s; is the "
                                      f"access node {instance_id} online in Systems Manager (aws ssm "
                                      f"describe-instance-information)?")
                time.sleep(0.2)
            say(f"tunnel: open ({tunnel.url}, TLS name {tunnel.server_name})")
            yield tunnel
        finally:
            _stop(proc)
            say("tunnel: closed")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and its session-manager-plugin child
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
