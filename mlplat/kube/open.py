"""Reaching an add-on's web UI from this machine: the Service behind it, a pod that serves it, and a local port
forwarded to that pod through the Kubernetes API (pods/portforward, as `kubectl port-forward svc/NAME` does).

Where each UI lives follows from the charts' naming and the platform's values (mlplat/catalog, helm-values/):
- grafana: kube-prometheus-stack's Grafana subchart, Service `<release>-grafana`, port `http-web` (the port name
  kube-prometheus-stack gives its Grafana Service);
- argocd: the argo-cd chart with `fullnameOverride: argocd` (helm-values/argo-cd.yaml), Service `argocd-server`, port
  `https` (argocd-server answers TLS with its own self-signed certificate);
- mlflow: the community mlflow chart, Service `<release>` = `mlflow`, port `http`;
- opensearch: Service `<clusterName>-<nodeGroup>` = `opensearch-cluster-master`, port `http`, TLS from the platform's
  private CA (catalog/observability.py);
- opensearch-dashboards: the opensearch-dashboards chart, Service `<release>` = `opensearch-dashboards`, port `http`.
The admin credentials are the platform's generated secrets (modules/secrets.py), one Secrets Manager secret per UI;
the password is read from there only when asked for, and never printed anywhere but the command's own result.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mlplat.errors import EXIT_BAD_INPUT, MlplatError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# The kubernetes package (about a second to import) is imported where it is used: the CLI reads WEB_UIS for its
# argument choices at every start.

LOOPBACK = "127.0.0.1"
ACCEPT_POLL_SECONDS = 0.2
RELAY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class WebUi:
    name: str
    addon: str  # the catalog add-on whose release serves it (its namespace is the UI's)
    service: str
    service_port: str  # the Service port's name
    scheme: str
    credential: str  # the purpose of its generated admin secret (mlplat/catalog/secrets.py)
    local_port: int  # the local port it gets unless told otherwise (or that one is taken)
    enabled_by: str  # what turns it on in a blueprint
    note: str = ""


WEB_UIS: dict[str, WebUi] = {ui.name: ui for ui in (
    WebUi("grafana", "kube-prometheus-stack", "kube-prometheus-stack-grafana", "http-web", "http", "grafana-admin",
          3000, "enable_ai_ml_observability_stack = true"),
    WebUi("argocd", "argo-cd", "argocd-server", "https", "https", "argocd-admin", 8080, "enable_argocd = true",
          note="Argo CD presents its own self-signed certificate: the browser warns about it"),
    WebUi("mlflow", "mlflow", "mlflow", "http", "http", "mlflow-admin", 5000, "enable_mlflow = true"),
    WebUi("airflow", "airflow", "airflow-api-server", "api-server", "http", "airflow-admin", 8081,
          "enable_airflow = true"),
    WebUi("opensearch", "opensearch", "opensearch-cluster-master", "http", "https", "opensearch-admin", 9200,
          "enable_ai_ml_observability_stack = true with the opensearch logs backend",
          note="OpenSearch's certificate comes from the platform's private CA: the browser warns about it"),
    WebUi("opensearch-dashboards", "opensearch-dashboards", "opensearch-dashboards", "http", "http",
          "opensearch-admin", 5601, "enable_ai_ml_observability_stack = true with the opensearch logs backend",
          note="sign in with the OpenSearch admin credential; the log indices' pattern is Discover's default"),
)}


@dataclass(frozen=True)
class ForwardTarget:
    namespace: str
    service: str
    service_port: int
    pod: str
    pod_port: int

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "service": self.service, "service_port": self.service_port,
                "pod": self.pod, "pod_port": self.pod_port}


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)


def resolve_target(api_client: ApiClient, ui: WebUi, namespace: str) -> ForwardTarget:
    """The Service's port, a running and (preferably) ready pod its selector picks, and that pod's container port
    (a named targetPort looked up in the pod), as kubectl port-forward resolves a Service."""
    from kubernetes.client import CoreV1Api

    from mlplat.kube.status import ClusterApiError, api_call

    core = CoreV1Api(api_client)
    where = f"{namespace}/{ui.service}"
    try:
        service = api_call(f"reading {ui.name}'s Service {where}", core.read_namespaced_service, ui.service,
                           namespace)
    except ClusterApiError as exc:
        if exc.status == 404:
            raise MlplatError(f"{ui.name}'s Service {where} does not exist: its add-on {ui.addon} is not installed "
                              f"(yet); `mlplat status` shows the add-ons' releases") from None
        raise
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    port = next((p for p in ports if p.get("name") == ui.service_port), None)
    if port is None:
        names = ", ".join(str(p.get("name") or p.get("port")) for p in ports) or "none"
        raise MlplatError(f"{ui.name}'s Service {where} has no port named {ui.service_port!r} (it has: {names}); "
                          f"were its chart values changed (the blueprint's addon_values)?")
    selector = spec.get("selector") or {}
    if not selector:
        raise MlplatError(f"{ui.name}'s Service {where} selects no pods (no selector): nothing to forward to")
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    pods = api_call(f"listing {ui.name}'s pods in {namespace}", core.list_namespaced_pod, namespace,
                    label_selector=label_selector).get("items") or []
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
               and not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not running:
        raise MlplatError(f"no running pod behind {ui.name}'s Service {where} ({len(pods)} pod(s) match its selector; "
                          f"`kubectl -n {namespace} get pods -l {label_selector}` shows them)")
    chosen = min(running, key=lambda p: (not _ready(p), p["metadata"]["name"]))
    target = port.get("targetPort", port.get("port"))
    pod_port = _container_port(chosen, target) if isinstance(target, str) else int(target)
    if pod_port is None:
        raise MlplatError(f"pod {namespace}/{chosen['metadata']['name']} has no container port named {target!r}, "
                          f"which {ui.name}'s Service {where} targets")
    return ForwardTarget(namespace, ui.service, int(port["port"]), chosen["metadata"]["name"], pod_port)


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _container_port(pod: Mapping[str, Any], name: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    return None


def parse_credential(secret_string: str, secret_name: str) -> Credential:
    """The generated secret's JSON `{"username", "password"}`; the message of a malformed one shows none of it."""
    try:
        data = json.loads(secret_string)
        return Credential(str(data["username"]), str(data["password"]))
    except (ValueError, TypeError, KeyError):
        raise MlplatError(f"the secret {secret_name} does not hold the JSON object {{username, password}} the "
                          f"platform writes; was it changed by hand?") from None


class LocalForward:
    """127.0.0.1:<port> forwarded to the target pod's port: one port-forward stream per accepted connection. Runs in a
    non-daemon thread until `stop()`."""

    def __init__(self, api_client: ApiClient, target: ForwardTarget, *, listen_port: int, exact_port: bool,
                 on_event: Callable[[str], None]) -> None:
        from kubernetes.client import CoreV1Api

        self.api_client = api_client
        self.target = target
        self.listen_port = listen_port
        self.exact_port = exact_port  # False: fall back to any free port when listen_port is taken
        self.on_event = on_event
        self.connections = 0
        self._core = CoreV1Api(api_client)
        # kubernetes.stream swaps the ApiClient's call_api for the duration of a call: one at a time.
        self._open_lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._ca_dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def port(self) -> int:
        """The local port it listens (or listened) on."""
        if self._port is None:
            raise RuntimeError("the forward is not started")
        return self._port

    def start(self) -> None:
        self._listener = self._bind()
        self._port = int(self._listener.getsockname()[1])
        self._trust_cluster_ca_for_websockets()
        self._thread = threading.Thread(target=self._accept, name=f"mlplat-open-{self.target.service}")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _bind(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((LOOPBACK, self.listen_port))
        except OSError as exc:
            if self.exact_port:
                listener.close()
                raise MlplatError(f"cannot listen on {LOOPBACK}:{self.listen_port} ({exc.strerror}); pass another "
                                  f"--port (0 picks a free one)", exit_code=EXIT_BAD_INPUT) from None
            listener.bind((LOOPBACK, 0))
        listener.listen(16)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        return listener

    def _trust_cluster_ca_for_websockets(self) -> None:
        # The client's WebSocket transport reads the CA from a file (ssl_ca_cert) and ignores ca_cert_data, which
        # is how an EKS client carries the cluster's CA: without the file, TLS to the endpoint would fail.
        config = self.api_client.configuration
        if getattr(config, "ca_cert_data", None) and not config.ssl_ca_cert:
            self._ca_dir = tempfile.TemporaryDirectory(prefix="mlplat-open-")
            bundle = Path(self._ca_dir.name) / "cluster-ca.pem"
            data = config.ca_cert_data
            bundle.write_bytes(data if isinstance(data, bytes) else data.encode())
            config.ssl_ca_cert = str(bundle)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            while not self._stopping.is_set():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                self.connections += 1
                threading.Thread(target=self._relay, args=(client,), daemon=True,
                                 name=f"mlplat-open-relay-{self.connections}").start()
        finally:
            self._listener.close()
            if self._ca_dir is not None:
                self._ca_dir.cleanup()

    def _relay(self, client: socket.socket) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import portforward

        t = self.target
        try:
            with self._open_lock:
                stream = portforward(self._core.connect_get_namespaced_pod_portforward, t.pod, t.namespace,
                                     ports=str(t.pod_port))
        except ApiException as exc:
            self.on_event(f"port-forward to pod {t.namespace}/{t.pod} port {t.pod_port} failed: {exc.reason}; "
                          f"a newer pod may have replaced it: run mlplat open again")
            client.close()
            return
        remote = stream.socket(t.pod_port)
        back = threading.Thread(target=_pump, args=(remote, client), daemon=True)
        back.start()
        _pump(client, remote)
        back.join(timeout=30)
        error = stream.error(t.pod_port)
        if error:
            self.on_event(f"pod {t.namespace}/{t.pod} port {t.pod_port}: {error}")
        stream.close()
        client.close()


def _pump(source: Any, sink: Any) -> None:
    """Copy until either side ends, then end both (the port-forward protocol has no half-close)."""
    try:
        while True:
            data = source.recv(RELAY_CHUNK)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
