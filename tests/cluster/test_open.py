"""`mlplat open` (mlplat/cli/open.py, mlplat/kube/open.py) against the fake Kubernetes API: the UI's Service, a ready
pod behind it and its container port; a local port forwarded to that pod through pods/portforward (the fake speaks
the WebSocket port-forward protocol and relays into a local server standing in for the pod); the username always, the
password only with --show-password and then only in the result."""

from __future__ import annotations

import base64
import http.client
import http.server
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client

from mlplat.cli import open as open_cli
from mlplat.errors import MlplatError
from mlplat.kube import fake_api as F
from mlplat.kube.client import eks_api_client
from mlplat.kube.open import WEB_UIS, Credential, ForwardTarget, LocalForward, parse_credential, resolve_target
from tests.cluster.test_status import aws_outputs, cli_args, deploy_state, fake_connect, write_blueprint

GRAFANA_LABELS = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"}
ARGOCD_LABELS = {"app.kubernetes.io/name": "argocd-server"}
SECRET_NAMES = {"secret_name_grafana_admin": "demo/grafana-admin-20261130", "secret_name_argocd_admin":
                "demo/argocd-admin-20261130", "secret_name_opensearch_admin": "demo/opensearch-admin-20261130"}
PASSWORD = "Kq7vT2mXb9RwZ4nL8pYc3HsJ6dFg1AeU"


class PodServer:
    """A local HTTP server in the place of the pod's container: answers `<name> <path>`."""

    def __init__(self, name: str) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = f"{name} {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ui_service(name: str, ns: str, selector: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": "ClusterIP", "selector": selector, "ports": ports}}


def seed_grafana(fake: F.FakeKubeApi) -> None:
    fake.add(ui_service("kube-prometheus-stack-grafana", "monitoring", GRAFANA_LABELS,
                        [{"name": "http-web", "port": 80, "targetPort": 3000, "protocol": "TCP"}]))
    # Only grafana-b is running and ready; the others must not be chosen.
    fake.add(F.pod("grafana-a", "monitoring", node_name="n1", labels=GRAFANA_LABELS, ready=False))
    fake.add(F.pod("grafana-b", "monitoring", node_name="n1", labels=GRAFANA_LABELS, ready=True))
    fake.add(F.pod("grafana-c", "monitoring", labels=GRAFANA_LABELS, phase="Pending"))
    leaving = F.pod("grafana-0", "monitoring", node_name="n1", labels=GRAFANA_LABELS, ready=True)
    leaving["metadata"].update(deletionTimestamp="2026-11-30T10:00:00Z", finalizers=["example.com/hold"])
    fake.add(leaving)


@pytest.fixture
def fake() -> Iterator[F.FakeKubeApi]:
    with F.FakeKubeApi() as server:
        seed_grafana(server)
        yield server


@pytest.fixture
def grafana_pod(fake: F.FakeKubeApi) -> Iterator[PodServer]:
    pod = PodServer("grafana")
    fake.serve_pod_port("monitoring", "grafana-b", 3000, pod.address)
    yield pod
    pod.close()


@pytest.fixture
def blueprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs(**SECRET_NAMES)})
    return write_blueprint(tmp_path, "enable_ai_ml_observability_stack = true\nenable_argocd = true\n")


def open_args(blueprint: Path, ui: str = "grafana", port: int | None = 0, show_password: bool = False) -> Any:
    return cli_args(blueprint, ui=ui, port=port, show_password=show_password)


def never_read(secret_name: str, region: str) -> Credential:
    raise AssertionError(f"the password in {secret_name} was read without --show-password")


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------- the target

def test_the_target_is_a_running_ready_pod_behind_the_service_and_its_port(fake: F.FakeKubeApi,
                                                                         api: client.ApiClient) -> None:
    assert resolve_target(api, WEB_UIS["grafana"], "monitoring") == ForwardTarget(
        "monitoring", "kube-prometheus-stack-grafana", 80, "grafana-b", 3000)
    pods = [r for r in fake.requests if r.resource == "pods"]
    assert [(r.path, r.query.get("labelSelector")) for r in pods] == [(
        "/api/v1/namespaces/monitoring/pods",
        "app.kubernetes.io/instance=kube-prometheus-stack,app.kubernetes.io/name=grafana")]


def test_a_named_target_port_is_looked_up_in_the_pod(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(ui_service("argocd-server", "argocd", ARGOCD_LABELS,
                        [{"name": "http", "port": 80, "targetPort": "server"},
                         {"name": "https", "port": 443, "targetPort": "server"}]))
    fake.add(F.pod("argocd-server-7d9f", "argocd", node_name="n1", labels=ARGOCD_LABELS, ready=True,
                   ports={"metrics": 8083, "server": 8080}))
    assert resolve_target(api, WEB_UIS["argocd"], "argocd") == ForwardTarget(
        "argocd", "argocd-server", 443, "argocd-server-7d9f", 8080)


def test_what_stands_in_the_way_is_named(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(ui_service("mlflow", "mlflow", {"app.kubernetes.io/name": "mlflow"},
                        [{"name": "web", "port": 80, "targetPort": 5000}]))
    fake.add(ui_service("opensearch-cluster-master", "logging", {"app.kubernetes.io/name": "opensearch"},
                        [{"name": "http", "port": 9200, "targetPort": 9200}]))
    fake.add(F.pod("opensearch-cluster-master-0", "logging", labels={"app.kubernetes.io/name": "opensearch"},
                   phase="Pending"))
    fake.add(ui_service("argocd-server", "argocd", ARGOCD_LABELS, [{"name": "https", "port": 443,
                                                                    "targetPort": "server"}]))
    fake.add(F.pod("argocd-server-7d9f", "argocd", node_name="n1", labels=ARGOCD_LABELS, ready=True))
    failures = []
    for ui, namespace in (("argocd", "nowhere"), ("mlflow", "mlflow"), ("opensearch", "logging"),
                          ("argocd", "argocd")):
        with pytest.raises(MlplatError) as failed:
            resolve_target(api, WEB_UIS[ui], namespace)
        failures.append(str(failed.value))
    assert failures == [
        "argocd's Service nowhere/argocd-server does not exist: its add-on argo-cd is not installed (yet); "
        "`mlplat status` shows the add-ons' releases",
        "mlflow's Service mlflow/mlflow has no port named 'http' (it has: web); were its chart values changed (the "
        "blueprint's addon_values)?",
        "no running pod behind opensearch's Service logging/opensearch-cluster-master (1 pod(s) match its selector; "
        "`kubectl -n logging get pods -l app.kubernetes.io/name=opensearch` shows them)",
        "pod argocd/argocd-server-7d9f has no container port named 'server', which argocd's Service "
        "argocd/argocd-server targets"]


# --------------------------------------------------------------------------------------------------- the forward

def test_open_forwards_a_local_port_to_the_pod_and_reads_no_password_unasked(
        blueprint: Path, fake: F.FakeKubeApi, grafana_pod: PodServer) -> None:
    events: list[str] = []
    result, forward = open_cli.start(open_args(blueprint), connect=fake_connect(fake), read_credential=never_read,
                                     on_event=events.append)
    try:
        assert [get(result["url"] + f"d/{n}") for n in ("gpu", "nodes")] == ["grafana /d/gpu", "grafana /d/nodes"]
    finally:
        forward.stop()
        forward.wait(10)
    assert result == {"ui": "grafana", "url": f"http://127.0.0.1:{forward.port}/", "username": "admin",
                      "secret_name": "demo/grafana-admin-20261130",
                      "forwarding_to": {"namespace": "monitoring", "service": "kube-prometheus-stack-grafana",
                                        "service_port": 80, "pod": "grafana-b", "pod_port": 3000}}
    assert events == []
    # One port-forward stream per connection, to the chosen pod's port.
    forwards = [r for r in fake.requests if r.path.endswith("/portforward")]
    assert [(r.path, r.query, r.verb) for r in forwards] == [
        ("/api/v1/namespaces/monitoring/pods/grafana-b/portforward", {"ports": "3000"}, "create")] * 2
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", forward.port), timeout=2).close()  # stopped: nothing listens
    assert open_cli.render(result) == (
        f"grafana: http://127.0.0.1:{forward.port}/\n"
        "  username: admin\n"
        "  password: in Secrets Manager, demo/grafana-admin-20261130 (--show-password shows it)\n"
        "  forwarding to pod monitoring/grafana-b port 3000 (Service kube-prometheus-stack-grafana:80); Ctrl-C stops")


def test_show_password_reads_the_secret_and_shows_it_only_in_the_result(
        blueprint: Path, fake: F.FakeKubeApi, capsys: pytest.CaptureFixture[str]) -> None:
    reads: list[tuple[str, str]] = []

    def read(secret_name: str, region: str) -> Credential:
        reads.append((secret_name, region))
        return Credential("admin", PASSWORD)

    events: list[str] = []
    # No server behind the pod's port: the failed forward's report must not carry the password either.
    result, forward = open_cli.start(open_args(blueprint, show_password=True), connect=fake_connect(fake),
                                     read_credential=read, on_event=events.append)
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            get(result["url"])
        wait_for(lambda: events)
    finally:
        forward.stop()
        forward.wait(10)
    assert reads == [("demo/grafana-admin-20261130", "us-west-2")]
    assert (result["username"], result["password"]) == ("admin", PASSWORD)
    assert "  password: " + PASSWORD in open_cli.render(result)
    assert len(events) == 1 and events[0].startswith(
        "pod monitoring/grafana-b port 3000: error forwarding port 3000 to pod grafana-b_monitoring, uid ")
    captured = capsys.readouterr()
    assert PASSWORD not in "".join(events) + captured.out + captured.err
    assert PASSWORD not in repr(Credential("admin", PASSWORD))


def test_a_ui_the_platform_lacks_or_a_taken_port_is_refused(blueprint: Path, fake: F.FakeKubeApi) -> None:
    with pytest.raises(MlplatError) as not_enabled:
        open_cli.start(open_args(blueprint, ui="mlflow"), connect=fake_connect(fake), read_credential=never_read)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MlplatError) as busy:
            open_cli.start(open_args(blueprint, port=port), connect=fake_connect(fake), read_credential=never_read)
    assert [(e.value.exit_code, str(e.value)) for e in (not_enabled, busy)] == [
        (2, "mlflow is not part of platform 'demo': enable_mlflow = true in the blueprint turns it on"),
        (2, f"cannot listen on 127.0.0.1:{port} (Address already in use); pass another --port (0 picks a free one)")]


def test_the_usual_port_falls_back_to_a_free_one_when_taken(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    target = ForwardTarget("monitoring", "kube-prometheus-stack-grafana", 80, "grafana-b", 3000)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        usual = taken.getsockname()[1]
        forward = LocalForward(api, target, listen_port=usual, exact_port=False, on_event=lambda m: None)
        forward.start()
        try:
            assert forward.port not in (usual, 0)
        finally:
            forward.stop()
            forward.wait(10)


def test_the_clusters_ca_reaches_the_websocket_transport_for_the_forwards_lifetime() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    api = eks_api_client("https://ABCDEF.gr7.us-west-2.eks.amazonaws.com", base64.b64encode(pem.encode()).decode(),
                         "k8s-aws-v1.token")
    target = ForwardTarget("monitoring", "kube-prometheus-stack-grafana", 80, "grafana-b", 3000)
    forward = LocalForward(api, target, listen_port=0, exact_port=True, on_event=lambda m: None)
    forward.start()
    bundle = Path(api.configuration.ssl_ca_cert)
    try:
        assert bundle.read_text() == pem
    finally:
        forward.stop()
        forward.wait(10)
    assert not bundle.exists()


def test_a_malformed_secret_is_reported_without_its_content() -> None:
    with pytest.raises(MlplatError) as malformed:
        parse_credential('{"user": "admin", "pass": "' + PASSWORD + '"}', "demo/grafana-admin-20261130")
    assert str(malformed.value) == ("the secret demo/grafana-admin-20261130 does not hold the JSON object {username, "
                                    "password} the platform writes; was it changed by hand?")
    assert parse_credential(f'{{"username": "admin", "password": "{PASSWORD}"}}', "x") == Credential("admin", PASSWORD)


def test_open_is_refused_with_local(blueprint: Path) -> None:
    args = open_args(blueprint)
    args.local = True
    with pytest.raises(MlplatError) as local:
        open_cli.start(args, connect=lambda cluster: pytest.fail("no cluster"), read_credential=never_read)
    assert (local.value.exit_code, str(local.value)) == (
        2, "mlplat open talks to the cluster, and with --local there is none: the embedded AWS applies only the AWS "
           "layer")


def test_run_leaves_the_forward_running_until_ctrl_c(blueprint: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    class Forward:
        stopped = 0

        def stop(self) -> None:
            self.stopped += 1

    forward = Forward()
    result = {"ui": "grafana", "url": "http://127.0.0.1:3000/"}
    monkeypatch.setattr(open_cli, "start", lambda args: (result, forward))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert open_cli.run(open_args(blueprint)) is result  # returns at once: main prints while it serves
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert forward.stopped == 2
    assert capsys.readouterr().err == "stopping the forward to grafana\n" * 2


def test_the_password_is_read_from_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    for variable, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="demo/grafana-admin-20261130", SecretString=f'{{"username": "admin", "password": "{PASSWORD}"}}')
        credential = open_cli.read_from_secrets_manager("demo/grafana-admin-20261130", "eu-west-1")
        with pytest.raises(MlplatError) as missing:
            open_cli.read_from_secrets_manager("demo/grafana-admin-20261130", "us-west-2")  # another region
    assert credential == Credential("admin", PASSWORD)
    assert str(missing.value).startswith("reading the secret demo/grafana-admin-20261130: AWS answered "
                                         "ResourceNotFoundException")
    assert PASSWORD not in str(missing.value)
