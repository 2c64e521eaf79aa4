"""The fake Kubernetes API (mlplat/kube/fake_api.py), driven through the official client as the cleanup drives it:
shapes, Status bodies, finalizer and garbage-collector semantics, selectors, watches, resourceVersions, and the
controller models the cleanup's tests rely on."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
from typing import Any, Iterator

import pytest
import websocket
from kubernetes import client, watch
from kubernetes.stream import portforward

from mlplat.kube import fake_api as F
from mlplat.kube.client import loopback_api_client


def raw(response: Any) -> dict[str, Any]:
    """The JSON body of a call made with _preload_content=False."""
    return json.loads(response.data)


def error_body(exc_info: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
    return json.loads(exc_info.value.body)


def test_typed_lists_omit_item_kinds_custom_lists_keep_them(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.service("web", "shop", type="LoadBalancer"))
    fake.add(F.nodepool("gpu"))
    services = raw(client.CoreV1Api(api).list_namespaced_service("shop", _preload_content=False))
    pools = raw(client.CustomObjectsApi(api).list_cluster_custom_object("karpenter.sh", "v1", "nodepools",
                                                                         _preload_content=False))
    assert {k: services[k] for k in ("kind", "apiVersion", "metadata")} == {
        "kind": "ServiceList", "apiVersion": "v1", "metadata": {"resourceVersion": str(fake.resource_version)}}
    assert [sorted(item) for item in services["items"]] == [["metadata", "spec", "status"]]
    assert {k: pools[k] for k in ("kind", "apiVersion")} == {"kind": "NodePoolList", "apiVersion": "karpenter.sh/v1"}
    assert [(item["apiVersion"], item["kind"]) for item in pools["items"]] == [("karpenter.sh/v1", "NodePool")]
    # And the typed client reads the fake's objects into its models.
    typed = client.CoreV1Api(api).list_service_for_all_namespaces()
    assert [(s.metadata.namespace, s.metadata.name, s.spec.type) for s in typed.items] == [
        ("default", "kubernetes", "ClusterIP"), ("shop", "web", "LoadBalancer")]


def test_a_missing_object_is_a_not_found_status(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as core:
        client.CoreV1Api(api).read_namespaced_service("nope", "shop")
    with pytest.raises(client.ApiException) as custom:
        client.CustomObjectsApi(api).get_cluster_custom_object("karpenter.sh", "v1", "nodeclaims", "nope")
    assert (core.value.status, error_body(core)) == (404, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
        "message": 'services "nope" not found', "details": {"name": "nope", "kind": "services"}})
    assert (custom.value.status, error_body(custom)) == (404, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
        "message": 'nodeclaims.karpenter.sh "nope" not found',
        "details": {"name": "nope", "group": "karpenter.sh", "kind": "nodeclaims"}})


def test_an_uninstalled_crd_is_not_found_as_a_resource() -> None:
    with F.FakeKubeApi(unserved=("applications",)) as fake, loopback_api_client(fake.url) as api:
        with pytest.raises(client.ApiException) as missing:
            client.CustomObjectsApi(api).list_cluster_custom_object("argoproj.io", "v1alpha1", "applications")
    assert (missing.value.status, error_body(missing)) == (404, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
        "message": "the server could not find the requested resource", "details": {}})


def test_writes_set_server_metadata_and_raise_the_resource_version(fake: F.FakeKubeApi,
                                                                   api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    before = fake.resource_version
    created = core.create_namespaced_service("default", client.V1Service(
        metadata=client.V1ObjectMeta(name="api"), spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)])))
    patched = core.patch_namespaced_service("api", "default", {"metadata": {"labels": {"tier": "web"}}},
                                            _content_type="application/merge-patch+json")
    unchanged = core.patch_namespaced_service("api", "default", {"metadata": {"labels": {"tier": "web"}}},
                                              _content_type="application/merge-patch+json")
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    assert int(before) < int(created.metadata.resource_version) < int(patched.metadata.resource_version)
    # A patch that changes nothing writes nothing.
    assert unchanged.metadata.resource_version == patched.metadata.resource_version
    assert (patched.metadata.uid, patched.metadata.labels) == (created.metadata.uid, {"tier": "web"})


def test_creating_an_existing_name_or_in_a_missing_namespace_is_refused(fake: F.FakeKubeApi,
                                                                        api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    body = client.V1Service(metadata=client.V1ObjectMeta(name="kubernetes"),
                            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=443)]))
    with pytest.raises(client.ApiException) as exists:
        core.create_namespaced_service("default", body)
    with pytest.raises(client.ApiException) as no_namespace:
        core.create_namespaced_service("nowhere", body)
    assert [(e.value.status, error_body(e)["reason"], error_body(e)["message"]) for e in (exists, no_namespace)] == [
        (409, "AlreadyExists", 'services "kubernetes" already exists'),
        (404, "NotFound", 'namespaces "nowhere" not found')]


def test_delete_with_a_finalizer_marks_the_object_until_the_finalizer_is_patched_away(
        fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    fake.add(F.application("held", finalizers=("example.com/hold",)))
    answer = custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "held")
    still = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "held")
    assert (answer["kind"], answer["metadata"]["finalizers"], bool(answer["metadata"].get("deletionTimestamp"))) == \
        ("Application", ["example.com/hold"], True)
    assert still["metadata"]["deletionTimestamp"] == answer["metadata"]["deletionTimestamp"]
    # A deleting object takes no new finalizers.
    with pytest.raises(client.ApiException) as refused:
        custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "held",
                                              {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}})
    assert (refused.value.status, error_body(refused)["reason"]) == (422, "Invalid")
    last = custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "held",
                                                 {"metadata": {"finalizers": None}})
    assert "finalizers" not in last["metadata"]
    assert fake.get("applications", "held", "argocd") is None


def test_json_patch_with_a_failing_test_is_refused_and_a_passing_one_applies(fake: F.FakeKubeApi,
                                                                            api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    fake.add(F.application("held", finalizers=("example.com/a", "example.com/b")))
    custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "held")

    def strip(expected: list[str]) -> Any:
        return custom.patch_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "argocd", "applications", "held",
            [{"op": "test", "path": "/metadata/finalizers", "value": expected},
             {"op": "replace", "path": "/metadata/finalizers", "value": ["example.com/b"]}],
            _content_type="application/json-patch+json")

    with pytest.raises(client.ApiException) as stale:
        strip(["example.com/a"])
    assert (stale.value.status, error_body(stale)["reason"]) == (422, "Invalid")
    assert strip(["example.com/a", "example.com/b"])["metadata"]["finalizers"] == ["example.com/b"]


def test_delete_without_finalizers_answers_as_each_store_does(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.service("plain", "shop"))
    fake.add(F.ingress("web", "shop", finalizers=()))
    pool = fake.add(F.nodepool("gpu"))
    service = client.CoreV1Api(api).delete_namespaced_service("plain", "shop")
    ingress = client.NetworkingV1Api(api).delete_namespaced_ingress("web", "shop")
    nodepool = client.CustomObjectsApi(api).delete_cluster_custom_object("karpenter.sh", "v1", "nodepools", "gpu")
    # Services return the deleted object; Ingresses and custom resources a Success Status naming it.
    assert (type(service).__name__, service.metadata.name) == ("V1Service", "plain")
    assert ingress["status"] == "Success" and ingress["details"]["name"] == "web"
    assert nodepool == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": "gpu", "group": "karpenter.sh", "kind": "nodepools",
                                    "uid": pool["metadata"]["uid"]}}
    assert fake.names("services") == ["default/kubernetes"]


def test_propagation_policy_sets_the_garbage_collectors_finalizers(fake: F.FakeKubeApi,
                                                                   api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    fake.add(F.application("fg", finalizers=("example.com/hold",)))
    fake.add(F.application("orphaned", finalizers=("example.com/hold",)))
    foreground = custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "fg",
                                                        propagation_policy="Foreground")
    _, status, _ = custom.delete_namespaced_custom_object_with_http_info(
        "argoproj.io", "v1alpha1", "argocd", "applications", "orphaned",
        body=client.V1DeleteOptions(orphan_dependents=False))
    assert foreground["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]
    # The garbage collector drops foregroundDeletion at once: nothing names the Application as owner.
    assert fake.get("applications", "fg", "argocd")["metadata"]["finalizers"] == ["example.com/hold"]
    # 202 only for a pending deletion the caller asked to cascade with orphanDependents=false.
    assert status == 202


def test_the_garbage_collector_deletes_dependents_of_a_deleted_owner(fake: F.FakeKubeApi,
                                                                     api: client.ApiClient) -> None:
    pool = fake.add(F.nodepool("gpu"))
    fake.add({**F.nodeclaim("gpu-a", pool), "metadata": {**F.nodeclaim("gpu-a", pool)["metadata"], "labels": {}}})
    client.CustomObjectsApi(api).delete_cluster_custom_object("karpenter.sh", "v1", "nodepools", "gpu")
    # Found by ownerReference alone (no label): deleting, held by Karpenter's finalizer until its next poll.
    assert fake.get("nodeclaims", "gpu-a")["metadata"].get("deletionTimestamp")


def test_updates_need_the_current_resource_version(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    stored = fake.add(F.application("app"))
    fake.add(F.service("bump", "argocd"))  # another write: the cluster's resourceVersion moves on
    current = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "app")
    stale = {**current, "metadata": {**current["metadata"], "resourceVersion": "1"}}
    unconditional = {**current, "metadata": {k: v for k, v in current["metadata"].items() if k != "resourceVersion"}}
    with pytest.raises(client.ApiException) as conflict:
        custom.replace_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "app", stale)
    with pytest.raises(client.ApiException) as invalid:
        custom.replace_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "app",
                                                unconditional)
    spec_change = {**current, "spec": {**current["spec"], "project": "platform"}}
    replaced = custom.replace_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", "app",
                                                       spec_change)
    assert (conflict.value.status, error_body(conflict)["message"]) == (
        409, 'Operation cannot be fulfilled on applications.argoproj.io "app": the object has been modified; please '
             'apply your changes to the latest version and try again')
    assert (invalid.value.status, error_body(invalid)["reason"]) == (422, "Invalid")
    assert (replaced["metadata"]["generation"], replaced["metadata"]["uid"]) == (2, stored["metadata"]["uid"])


def test_label_and_field_selectors(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    for name, labels in [("a", {"app": "a", "env": "prod", "tier": "web"}), ("b", {"app": "b", "env": "stage"}),
                         ("c", {"app": "c"})]:
        fake.add(F.pod(name, "shop", labels=labels, node_name=f"node-{name}"))
    core = client.CoreV1Api(api)

    def names(**kwargs: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod("shop", **kwargs).items]

    assert {selector: names(label_selector=selector) for selector in (
        "app=a", "app==b", "app!=a", "tier", "!tier", "env in (prod, stage)", "env notin (prod)", "app=a,env=prod",
        "app in (a,b),!tier")} == {
        "app=a": ["a"], "app==b": ["b"], "app!=a": ["b", "c"], "tier": ["a"], "!tier": ["b", "c"],
        "env in (prod, stage)": ["a", "b"], "env notin (prod)": ["b", "c"], "app=a,env=prod": ["a"],
        "app in (a,b),!tier": ["b"]}
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="spec.nodeName!=node-a") == ["b", "c"]
    with pytest.raises(client.ApiException) as unsupported:
        core.list_namespaced_pod("shop", field_selector="spec.foo=bar")
    assert (unsupported.value.status, error_body(unsupported)["message"]) == (
        400, "field label not supported: spec.foo")


def test_watch_streams_changes_from_a_resource_version_until_its_timeout(fake: F.FakeKubeApi,
                                                                        api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    fake.add(F.service("before", "shop"))
    since = str(fake.resource_version)

    def changes() -> None:
        time.sleep(0.2)
        fake.add(F.service("web", "shop", finalizers=("example.com/hold",)))
        core.patch_namespaced_service("web", "shop", {"metadata": {"labels": {"v": "2"}}},
                                      _content_type="application/merge-patch+json")
        core.delete_namespaced_service("web", "shop")
        core.patch_namespaced_service("web", "shop", {"metadata": {"finalizers": None}},
                                      _content_type="application/merge-patch+json")

    writer = threading.Thread(target=changes)
    writer.start()
    started = time.monotonic()
    events = [(e["type"], e["object"].metadata.name, e["object"].metadata.resource_version)
              for e in watch.Watch().stream(core.list_namespaced_service, "shop", resource_version=since,
                                            timeout_seconds=1)]
    elapsed = time.monotonic() - started
    writer.join()
    assert [(kind, name) for kind, name, _ in events] == [
        ("ADDED", "web"), ("MODIFIED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    versions = [int(rv) for _, _, rv in events]
    assert versions == sorted(versions) and versions[0] > int(since)
    assert 0.9 < elapsed < 3


def test_watch_from_a_compacted_resource_version_is_expired(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.service("old", "shop"))
    old = str(fake.resource_version - 1)
    fake.compact()
    response = client.CoreV1Api(api).list_namespaced_service("shop", watch=True, resource_version=old,
                                                              timeout_seconds=1, _preload_content=False)
    lines = [json.loads(line) for line in response.data.splitlines() if line]
    assert lines == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
        "message": f"too old resource version: {old} ({fake.resource_version})"}}]


def test_karpenter_lets_a_nodeclaim_and_its_node_go_after_the_polls_it_was_given(fake: F.FakeKubeApi,
                                                                               api: client.ApiClient) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    pool = fake.add(F.nodepool("gpu"))
    fake.add(F.karpenter_node("ip-1", "gpu"))
    fake.add(F.nodeclaim("gpu-a", pool, "ip-1"))
    fake.nodeclaim_goes_after("gpu-a", 2)
    custom.delete_cluster_custom_object("karpenter.sh", "v1", "nodepools", "gpu")
    seen = []
    for _ in range(4):
        claims = custom.list_cluster_custom_object("karpenter.sh", "v1", "nodeclaims")["items"]
        nodes = core.list_node(label_selector="karpenter.sh/nodepool").items
        seen.append(([c["metadata"]["name"] for c in claims], [n.metadata.name for n in nodes]))
    assert seen == [(["gpu-a"], ["ip-1"]), (["gpu-a"], ["ip-1"]), ([], []), ([], [])]


def test_argo_cd_deletes_what_an_application_tracks_or_never_finishes_when_stuck(
        fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    fake.add(F.application("web"))
    fake.add(F.application("stuck"))
    fake.add(F.tracked(F.service("web", "shop", type="LoadBalancer"), "web"))
    fake.application_goes_after("argocd", "web", 1)
    fake.application_goes_after("argocd", "stuck", None)
    for name in ("web", "stuck"):
        custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name)
    seen = [[a["metadata"]["name"] for a in
             custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")["items"]]
            for _ in range(5)]
    assert seen == [["stuck", "web"], ["stuck"], ["stuck"], ["stuck"], ["stuck"]]
    # Argo CD deleted the Service it tracked; the load balancer controller lets it go at the next poll.
    assert fake.get("services", "web", "shop")["metadata"].get("deletionTimestamp")
    assert [s.metadata.name for s in client.CoreV1Api(api).list_namespaced_service("shop").items] == []


def test_pvc_protection_holds_a_claim_a_pod_mounts(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    fake.add(F.pvc("mounted", "db"))
    fake.add(F.pvc("free", "db"))
    fake.add(F.pod("db-0", "db", claims=("mounted",)))
    for name in ("mounted", "free"):
        core.delete_namespaced_persistent_volume_claim(name, "db")
    assert fake.names("persistentvolumeclaims") == ["db/mounted"]
    assert fake.get("persistentvolumeclaims", "mounted", "db")["metadata"]["finalizers"] == [F.PVC_PROTECTION]


def test_every_request_is_recorded(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.clear_requests()
    core = client.CoreV1Api(api)
    core.list_node(label_selector="karpenter.sh/nodepool")
    with pytest.raises(client.ApiException):
        core.delete_namespaced_service("nope", "shop", propagation_policy="Background")
    assert [(r.method, r.path, dict(r.query), r.verb, r.resource) for r in fake.requests] == [
        ("GET", "/api/v1/nodes", {"labelSelector": "karpenter.sh/nodepool"}, "list", "nodes"),
        ("DELETE", "/api/v1/namespaces/shop/services/nope", {"propagationPolicy": "Background"}, "delete",
         "services")]


def test_rbac_denials_and_a_wrong_token(fake: F.FakeKubeApi) -> None:
    fake.forbid("list", "nodes")
    fake.require_token("right")
    with loopback_api_client(fake.url, token="right") as admin, loopback_api_client(fake.url, token="wrong") as other:
        with pytest.raises(client.ApiException) as forbidden:
            client.CoreV1Api(admin).list_node()
        with pytest.raises(client.ApiException) as unauthorized:
            client.CoreV1Api(other).list_namespace()
        allowed = client.CoreV1Api(admin).list_namespace()
    assert (forbidden.value.status, error_body(forbidden)["message"]) == (
        403, 'nodes is forbidden: User "kubernetes-admin" cannot list resource "nodes" in API group "" at the '
             'cluster scope')
    assert (unauthorized.value.status, error_body(unauthorized)["reason"]) == (401, "Unauthorized")
    assert [n.metadata.name for n in allowed.items] == ["default", "kube-node-lease", "kube-public", "kube-system"]


# ---------------------------------------------------------------------------------------------------------- secrets

def test_secrets_merge_string_data_into_data_and_keep_their_type(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.namespace("shop"))
    core = client.CoreV1Api(api)
    core.create_namespaced_secret("shop", {"metadata": {"name": "db"}, "stringData": {"user": "admin"},
                                           "data": {"host": base64.b64encode(b"db.local").decode()}})
    core.patch_namespaced_secret("db", "shop", {"stringData": {"user": "root"}},
                                 _content_type="application/merge-patch+json")
    stored = raw(core.read_namespaced_secret("db", "shop", _preload_content=False))
    assert {k: stored[k] for k in ("type", "data")} == {
        "type": "Opaque", "data": {"host": base64.b64encode(b"db.local").decode(),
                                   "user": base64.b64encode(b"root").decode()}}
    assert "stringData" not in stored
    with pytest.raises(client.ApiException) as retyped:
        core.patch_namespaced_secret("db", "shop", {"type": "kubernetes.io/tls"},
                                     _content_type="application/merge-patch+json")
    with pytest.raises(client.ApiException) as not_base64:
        core.create_namespaced_secret("shop", {"metadata": {"name": "bad"}, "data": {"key": "not base64!"}})
    deleted = raw(core.delete_namespaced_secret("db", "shop", _preload_content=False))
    assert (retyped.value.status, error_body(retyped)["message"]) == (
        422, 'Secret "db" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable')
    assert (not_base64.value.status, error_body(not_base64)["reason"]) == (400, "BadRequest")
    assert {k: deleted[k] for k in ("kind", "status")} == {"kind": "Status", "status": "Success"}


def test_helm_release_records_are_selected_by_labels_and_type(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.helm_release("web", "shop", chart="web", version="1.0.0"))
    fake.add(F.helm_release("web", "shop", chart="web", version="1.1.0", revision=2))
    fake.add(F.helm_release("db", "shop", chart="postgres", version="15.0.0"))
    fake.add(F.secret("web", "shop", {"token": "x"}, labels={"name": "web"}))
    core = client.CoreV1Api(api)
    by_labels = core.list_namespaced_secret("shop", label_selector="owner=helm,name=web")
    by_type = core.list_namespaced_secret("shop", field_selector=f"type={F.HELM_RELEASE_TYPE}")
    assert [s.metadata.name for s in by_labels.items] == ["sh.helm.release.v1.web.v1", "sh.helm.release.v1.web.v2"]
    assert [s.metadata.name for s in by_type.items] == ["sh.helm.release.v1.db.v1", "sh.helm.release.v1.web.v1",
                                                        "sh.helm.release.v1.web.v2"]
    # Helm's payload: base64 text of gzipped JSON, carried by the API as base64 once more.
    payload = base64.b64decode(base64.b64decode(by_labels.items[1].data["release"]))
    assert json.loads(gzip.decompress(payload))["chart"]["metadata"] == {
        "apiVersion": "v2", "name": "web", "version": "1.1.0", "appVersion": ""}


# -------------------------------------------------------------------------------------------------- port-forward

class EchoServer:
    """Stands in for a container port: echoes what it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.sock.close()


def forward_url(fake: F.FakeKubeApi, ns: str, pod: str, query: str) -> str:
    return f"{fake.url.replace('http://', 'ws://')}/api/v1/namespaces/{ns}/pods/{pod}/portforward?{query}"


def test_port_forward_speaks_the_v4_channel_protocol(fake: F.FakeKubeApi, echo: EchoServer) -> None:
    fake.add(F.pod("web-0", "shop", node_name="n1"))
    fake.serve_pod_port("shop", "web-0", 8080, echo.address)
    ws = websocket.create_connection(forward_url(fake, "shop", "web-0", "ports=8080"),
                                     subprotocols=["v5.channel.k8s.io", "v4.channel.k8s.io"])
    try:
        # The first v4 protocol both support; each channel opens with its port, little-endian.
        opened = [ws.recv_data()[1] for _ in range(2)]
        ws.send_binary(b"\x00hello")
        echoed = ws.recv_data()[1]
    finally:
        ws.close()
    assert ws.getsubprotocol() == "v4.channel.k8s.io"
    assert (opened, echoed) == ([b"\x00\x90\x1f", b"\x01\x90\x1f"], b"\x00hello")


def test_port_forward_through_the_official_client_relays_both_ways(fake: F.FakeKubeApi, api: client.ApiClient,
                                                                   echo: EchoServer) -> None:
    fake.add(F.pod("web-0", "shop", node_name="n1"))
    fake.serve_pod_port("shop", "web-0", 8080, echo.address)
    forward = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, "web-0", "shop",
                          ports="8080")
    sock = forward.socket(8080)
    sock.sendall(b"x" * 200_000)  # more than one frame's worth
    received = b""
    while len(received) < 200_000:
        received += sock.recv(65536)
    forward.close()
    assert received == b"x" * 200_000
    assert [(r.path, r.verb, r.subresource) for r in fake.requests if r.subresource] == [
        ("/api/v1/namespaces/shop/pods/web-0/portforward", "create", "portforward")]


def test_port_forward_reports_a_refused_pod_port_on_the_error_channel_and_closes(fake: F.FakeKubeApi,
                                                                                 api: client.ApiClient) -> None:
    pod = fake.add(F.pod("web-0", "shop", node_name="n1"))
    forward = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, "web-0", "shop",
                          ports="8080")
    assert forward.socket(8080).recv(10) == b""  # closed once the error arrived
    deadline = time.monotonic() + 5
    while forward.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (forward.error(8080), forward.connected) == (
        f"error forwarding port 8080 to pod web-0_shop, uid {pod['metadata']['uid']}: failed to connect to "
        f"localhost:8080 inside the pod's network namespace: connection refused", False)


def test_port_forward_refusals_before_the_upgrade(fake: F.FakeKubeApi) -> None:
    fake.add(F.pod("pending-0", "shop", phase="Pending"))
    fake.add(F.pod("web-0", "shop", node_name="n1"))
    fake.forbid("create", "pods/portforward", "locked")
    fake.add(F.pod("web-0", "locked", node_name="n1"))
    answers = []
    for ns, pod, query in (("shop", "gone-0", "ports=80"), ("shop", "pending-0", "ports=80"),
                           ("shop", "web-0", "ports=http"), ("shop", "web-0", "ports=0"),
                           ("locked", "web-0", "ports=80")):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(forward_url(fake, ns, pod, query))
        body = refused.value.resp_body or b""
        answers.append((refused.value.status_code, json.loads(body)["message"] if body.startswith(b"{")
                        else body.decode().strip()))
    assert answers == [
        (404, 'pods "gone-0" not found'),
        (400, "pod pending-0 does not have a host assigned"),
        (400, 'strconv.ParseInt: parsing "http": invalid syntax'),
        (400, 'port "0" must be > 0'),
        (403, 'pods "web-0" is forbidden: User "kubernetes-admin" cannot create resource "pods/portforward" in API '
              'group "" in the namespace "locked"')]
