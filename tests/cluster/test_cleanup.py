"""The cluster-side phase of a safe destroy (mlplat/kube/cleanup.py) against the fake Kubernetes API: the order of its
steps, its bounded waits and what they report, what it leaves alone; and the EKS client it runs with
(mlplat/kube/client.py)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Iterator

import pytest
from kubernetes import client

from mlplat.errors import MlplatError
from mlplat.kube import fake_api as F
from mlplat.kube.cleanup import (
    APPLICATIONS_STEP,
    LOAD_BALANCERS_STEP,
    NODE_POOLS_STEP,
    VOLUMES_STEP,
    CleanupConfig,
    ClusterCleanupError,
    Progress,
    clean_up_cluster,
)
from mlplat.kube.client import eks_api_client, loopback_api_client

# Waits that succeed end at the first empty poll; the bounds only matter to the tests of what is stuck, which
# shorten the one they test.
FAST = CleanupConfig(platform_namespaces=("mlflow", "monitoring"), poll_interval_seconds=0.01,
                     applications_timeout_seconds=10, load_balancers_timeout_seconds=10, nodes_timeout_seconds=10,
                     volumes_timeout_seconds=10, finalizer_removal_timeout_seconds=10, request_timeout_seconds=5)
SHORT = 0.3


def seed_platform(fake: F.FakeKubeApi) -> None:
    """A small deployed platform, plus objects of a user's that are not the cleanup's to touch."""
    fake.add(F.application("platform-addons"))
    fake.add(F.application("mlflow", tracked_by="platform-addons"))
    fake.add(F.service("argocd-server", "argocd", type="LoadBalancer"))
    fake.add(F.service("argocd-repo-server", "argocd"))
    fake.add(F.ingress("mlflow", "mlflow"))
    fake.add(F.statefulset("postgres", "mlflow"))
    fake.add(F.pvc("data-postgres-0", "mlflow"))
    fake.add(F.statefulset("prometheus", "monitoring", claim_templates=("db",), replicas=2))
    fake.add(F.pvc("db-prometheus-0", "monitoring"))
    fake.add(F.pvc("db-prometheus-1", "monitoring"))
    # Not the platform's: a user's StatefulSet claim, a claim no StatefulSet made, a system node.
    fake.add(F.statefulset("cache", "team-a"))
    fake.add(F.pvc("data-cache-0", "team-a"))
    fake.add(F.pvc("scratch", "mlflow"))
    fake.add(F.node("ip-10-0-0-1", {"eks.amazonaws.com/nodegroup": "system"}))
    gpu = fake.add(F.nodepool("gpu"))
    general = fake.add(F.nodepool("general"))
    fake.add(F.karpenter_node("ip-10-0-1-1", "gpu"))
    fake.add(F.karpenter_node("ip-10-0-2-1", "general"))
    fake.add(F.nodeclaim("gpu-x7k2p", gpu, "ip-10-0-1-1"))
    fake.add(F.nodeclaim("general-q9w3e", general, "ip-10-0-2-1"))


@pytest.fixture
def fake() -> Iterator[F.FakeKubeApi]:
    with F.FakeKubeApi() as server:
        seed_platform(server)
        server.clear_requests()
        yield server


def writes(fake: F.FakeKubeApi) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests if r.method != "GET"]


def test_steps_delete_in_order_and_wait_for_each_before_the_next(fake: F.FakeKubeApi,
                                                                 api: client.ApiClient) -> None:
    result = clean_up_cluster(api, dataclasses.replace(FAST, delete_volumes=True))
    assert writes(fake) == [
        # The app of apps before its child, both in the foreground.
        ("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/platform-addons"),
        ("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/mlflow"),
        ("DELETE", "/api/v1/namespaces/argocd/services/argocd-server"),
        ("DELETE", "/apis/networking.k8s.io/v1/namespaces/mlflow/ingresses/mlflow"),
        ("DELETE", "/apis/karpenter.sh/v1/nodepools/general"),
        ("DELETE", "/apis/karpenter.sh/v1/nodepools/gpu"),
        ("DELETE", "/api/v1/namespaces/mlflow/persistentvolumeclaims/data-postgres-0"),
        ("DELETE", "/api/v1/namespaces/monitoring/persistentvolumeclaims/db-prometheus-0"),
        ("DELETE", "/api/v1/namespaces/monitoring/persistentvolumeclaims/db-prometheus-1"),
    ]
    assert {r.query.get("propagationPolicy") for r in fake.requests if r.resource == "applications"
            and r.method == "DELETE"} == {"Foreground"}
    # Each step starts only after a poll of the previous one found nothing left.
    log = [(r.method, r.resource) for r in fake.requests]
    first_write = {resource: log.index(("DELETE", resource)) for resource in
                   ("services", "nodepools", "persistentvolumeclaims")}
    last_poll = {resource: max(i for i, entry in enumerate(log) if entry == ("GET", resource)
                               and i < first_write[following])
                 for resource, following in (("applications", "services"), ("ingresses", "nodepools"),
                                             ("nodeclaims", "persistentvolumeclaims"))}
    assert last_poll["applications"] > log.index(("DELETE", "applications"))
    assert last_poll["ingresses"] > log.index(("DELETE", "ingresses"))
    assert last_poll["nodeclaims"] > log.index(("DELETE", "nodepools"))
    assert [s.step for s in result.steps] == [APPLICATIONS_STEP, LOAD_BALANCERS_STEP, NODE_POOLS_STEP, VOLUMES_STEP]
    assert result.as_dict()["steps"][2] == {
        "step": "node-pools",
        "found": ["NodePool general", "NodePool gpu", "NodeClaim general-q9w3e", "NodeClaim gpu-x7k2p",
                  "Node ip-10-0-1-1", "Node ip-10-0-2-1"],
        "to_delete": ["NodePool general", "NodePool gpu", "NodeClaim general-q9w3e", "NodeClaim gpu-x7k2p",
                      "Node ip-10-0-1-1", "Node ip-10-0-2-1"],
        "deleted": ["NodePool general", "NodePool gpu", "NodeClaim general-q9w3e", "NodeClaim gpu-x7k2p",
                    "Node ip-10-0-1-1", "Node ip-10-0-2-1"],
        "still_present": [], "kept": [], "finalizers_removed": []}


def test_what_is_not_the_cleanups_to_delete_remains(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    clean_up_cluster(api, dataclasses.replace(FAST, delete_volumes=True))
    assert {resource: fake.names(resource) for resource in ("services", "persistentvolumeclaims", "nodes",
                                                            "statefulsets", "applications", "nodepools",
                                                            "nodeclaims", "ingresses")} == {
        "services": ["argocd/argocd-repo-server", "default/kubernetes"],
        "persistentvolumeclaims": ["mlflow/scratch", "team-a/data-cache-0"],
        "nodes": ["ip-10-0-0-1"],
        "statefulsets": ["mlflow/postgres", "monitoring/prometheus", "team-a/cache"],
        "applications": [], "nodepools": [], "nodeclaims": [], "ingresses": []}


def test_progress_is_reported_at_each_poll_while_nodeclaims_drain(fake: F.FakeKubeApi,
                                                                 api: client.ApiClient) -> None:
    fake.nodeclaim_goes_after("general-q9w3e", 1)
    fake.nodeclaim_goes_after("gpu-x7k2p", 3)
    progress: list[Progress] = []
    clean_up_cluster(api, FAST, on_progress=progress.append)
    assert [(p.poll, dict(p.remaining)) for p in progress if p.step == NODE_POOLS_STEP] == [
        (1, {"nodepools": 0, "nodeclaims": 2, "nodes": 2}),
        (2, {"nodepools": 0, "nodeclaims": 1, "nodes": 1}),
        (3, {"nodepools": 0, "nodeclaims": 1, "nodes": 1}),
        (4, {"nodepools": 0, "nodeclaims": 0, "nodes": 0}),
    ]
    elapsed = [p.elapsed_seconds for p in progress if p.step == NODE_POOLS_STEP]
    assert elapsed == sorted(elapsed)


def test_a_stuck_application_stops_the_cleanup_naming_it(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.application_goes_after("argocd", "mlflow", None)
    with pytest.raises(ClusterCleanupError) as stuck:
        clean_up_cluster(api, dataclasses.replace(FAST, applications_timeout_seconds=SHORT))
    message = str(stuck.value)
    assert "argocd/mlflow" in message and "platform-addons" not in message
    assert "--remove-stuck-finalizers" in message and "argocd-application-controller" in message
    assert stuck.value.result.as_dict() == {"dry_run": False, "steps": [{
        "step": "applications", "found": ["Application argocd/mlflow", "Application argocd/platform-addons"],
        "to_delete": ["Application argocd/mlflow", "Application argocd/platform-addons"],
        "deleted": ["Application argocd/platform-addons"], "still_present": ["Application argocd/mlflow"],
        "kept": [], "finalizers_removed": []}]}
    assert stuck.value.details == {"cluster_cleanup": stuck.value.result.as_dict()}
    # Nothing after the Applications was touched.
    assert [path for _, path in writes(fake)] == [
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/platform-addons",
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/mlflow"]


def test_remove_stuck_finalizers_strips_argo_cds_finalizer_and_goes_on(fake: F.FakeKubeApi,
                                                                       api: client.ApiClient) -> None:
    fake.application_goes_after("argocd", "mlflow", None)
    result = clean_up_cluster(api, dataclasses.replace(FAST, remove_stuck_finalizers=True,
                                                       applications_timeout_seconds=SHORT))
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert [(r.path, r.body) for r in patches] == [(
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/mlflow",
        [{"op": "test", "path": "/metadata/finalizers", "value": ["resources-finalizer.argocd.argoproj.io"]},
         {"op": "replace", "path": "/metadata/finalizers", "value": []}])]
    applications = result.step(APPLICATIONS_STEP)
    assert [str(r) for r in applications.finalizers_removed] == ["Application argocd/mlflow"]
    assert [str(r) for r in applications.still_present] == []
    assert [s.step for s in result.steps] == [APPLICATIONS_STEP, LOAD_BALANCERS_STEP, NODE_POOLS_STEP, VOLUMES_STEP]
    assert fake.names("applications") == [] and fake.names("nodeclaims") == []


def test_dry_run_lists_what_would_go_and_deletes_nothing(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    before = {resource: fake.names(resource) for resource in F.RESOURCE_BY_PLURAL}
    result = clean_up_cluster(api, dataclasses.replace(FAST, dry_run=True, delete_volumes=True))
    assert writes(fake) == []
    assert {resource: fake.names(resource) for resource in F.RESOURCE_BY_PLURAL} == before
    assert {s.step: [str(r) for r in s.to_delete] for s in result.steps} == {
        "applications": ["Application argocd/mlflow", "Application argocd/platform-addons"],
        "load-balancers": ["Service argocd/argocd-server", "Ingress mlflow/mlflow"],
        "node-pools": ["NodePool general", "NodePool gpu", "NodeClaim general-q9w3e", "NodeClaim gpu-x7k2p",
                       "Node ip-10-0-1-1", "Node ip-10-0-2-1"],
        "volumes": ["PersistentVolumeClaim mlflow/data-postgres-0", "PersistentVolumeClaim monitoring/db-prometheus-0",
                    "PersistentVolumeClaim monitoring/db-prometheus-1"]}
    assert all(not s.deleted for s in result.steps) and result.as_dict()["dry_run"] is True


def test_volumes_are_kept_unless_asked_for(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    result = clean_up_cluster(api, FAST)
    volumes = result.step(VOLUMES_STEP)
    assert [str(r) for r in volumes.kept] == ["PersistentVolumeClaim mlflow/data-postgres-0",
                                              "PersistentVolumeClaim monitoring/db-prometheus-0",
                                              "PersistentVolumeClaim monitoring/db-prometheus-1"]
    assert (volumes.deleted, volumes.to_delete) == ((), ())
    assert "EBS" in volumes.note
    assert not [r for r in fake.requests if r.resource == "persistentvolumeclaims" and r.method == "DELETE"]
    assert fake.names("persistentvolumeclaims") == ["mlflow/data-postgres-0", "mlflow/scratch",
                                                    "monitoring/db-prometheus-0", "monitoring/db-prometheus-1",
                                                    "team-a/data-cache-0"]


def test_a_volume_a_running_pod_mounts_is_reported_not_fatal(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.pod("postgres-0", "mlflow", claims=("data-postgres-0",)))
    result = clean_up_cluster(api, dataclasses.replace(FAST, delete_volumes=True, volumes_timeout_seconds=SHORT))
    volumes = result.step(VOLUMES_STEP)
    assert [str(r) for r in volumes.still_present] == ["PersistentVolumeClaim mlflow/data-postgres-0"]
    assert [str(r) for r in volumes.deleted] == ["PersistentVolumeClaim monitoring/db-prometheus-0",
                                                 "PersistentVolumeClaim monitoring/db-prometheus-1"]


def test_claims_of_a_statefulset_argo_cd_deleted_are_still_the_platforms(fake: F.FakeKubeApi,
                                                                        api: client.ApiClient) -> None:
    fake.add(F.tracked(F.statefulset("tempo", "monitoring", claim_templates=("storage",)), "mlflow"))
    fake.add(F.pvc("storage-tempo-0", "monitoring"))
    result = clean_up_cluster(api, dataclasses.replace(FAST, delete_volumes=True))
    assert "monitoring/tempo" not in fake.names("statefulsets")  # Argo CD deleted it in the first step
    assert "PersistentVolumeClaim monitoring/storage-tempo-0" in [str(r) for r in result.step(VOLUMES_STEP).deleted]
    assert "monitoring/storage-tempo-0" not in fake.names("persistentvolumeclaims")


def test_a_stuck_load_balancer_names_its_finalizer(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.finalizer_released_after("services", "argocd-server", F.SERVICE_LB_FINALIZERS[0], None, namespace="argocd")
    with pytest.raises(ClusterCleanupError) as stuck:
        clean_up_cluster(api, dataclasses.replace(FAST, load_balancers_timeout_seconds=SHORT))
    assert "Service argocd/argocd-server (finalizers: service.kubernetes.io/load-balancer-cleanup)" in \
        str(stuck.value)
    assert [s.step for s in stuck.value.result.steps] == [APPLICATIONS_STEP, LOAD_BALANCERS_STEP]
    assert [str(r) for r in stuck.value.result.steps[-1].still_present] == ["Service argocd/argocd-server"]
    assert not [r for r in fake.requests if r.resource == "nodepools" and r.method == "DELETE"]


def test_a_stuck_nodeclaim_is_named_with_how_to_look_into_it(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.nodeclaim_goes_after("gpu-x7k2p", None)
    with pytest.raises(ClusterCleanupError) as stuck:
        clean_up_cluster(api, dataclasses.replace(FAST, nodes_timeout_seconds=SHORT))
    message = str(stuck.value)
    assert "NodeClaim gpu-x7k2p (node ip-10-0-1-1)" in message and "general-q9w3e" not in message
    assert "kubectl get nodeclaims" in message and "logs deployment/karpenter" in message
    assert [str(r) for r in stuck.value.result.step(NODE_POOLS_STEP).still_present] == [
        "NodeClaim gpu-x7k2p", "Node ip-10-0-1-1"]


def test_an_object_that_appears_while_waiting_is_deleted_too(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    # Argo CD is slow to let go of the parent, and meanwhile something re-creates a child Application.
    fake.application_goes_after("argocd", "platform-addons", 2)
    progress: list[Progress] = []

    def recreate(p: Progress) -> None:
        if p.step == APPLICATIONS_STEP and p.poll == 1:
            fake.add(F.application("kueue", tracked_by="platform-addons"))

    clean_up_cluster(api, FAST, on_progress=lambda p: (recreate(p), progress.append(p)))
    assert ("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/kueue") in writes(fake)
    assert fake.names("applications") == []


def test_a_cluster_without_argo_cd_or_karpenter_crds_is_fine() -> None:
    with F.FakeKubeApi(unserved=("applications", "nodepools", "nodeclaims")) as fake, \
            loopback_api_client(fake.url) as api:
        fake.add(F.service("web", "shop", type="LoadBalancer"))
        result = clean_up_cluster(api, FAST)
    assert {s.step: [str(r) for r in s.deleted] for s in result.steps} == {
        "applications": [], "load-balancers": ["Service shop/web"], "node-pools": [], "volumes": []}


@pytest.mark.parametrize(("hook", "status"), [("forbid", 403), ("token", 401)])
def test_an_api_that_refuses_the_caller_asks_for_cluster_admin(fake: F.FakeKubeApi, api: client.ApiClient,
                                                               hook: str, status: int) -> None:
    if hook == "forbid":
        fake.forbid("delete", "applications")
    else:
        fake.require_token("someone-elses")
    with pytest.raises(MlplatError) as refused:
        clean_up_cluster(api, FAST)
    message = str(refused.value)
    assert f"({status} " in message and "cluster admin" in message and "access entry" in message
    assert "admin_principal_arns" in message
    if hook == "forbid":
        assert 'cannot delete resource "applications" in API group "argoproj.io"' in message


def test_an_unreachable_api_says_how_to_reach_it() -> None:
    with F.FakeKubeApi() as fake:
        url = fake.url
    with loopback_api_client(url) as api, pytest.raises(MlplatError) as unreachable:
        clean_up_cluster(api, FAST)
    assert "cannot reach the cluster's API" in str(unreachable.value)
    assert "cluster_endpoint_public_access_cidrs" in str(unreachable.value)


def test_an_interrupt_reports_the_steps_done_and_exits_130(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    def interrupt(p: Progress) -> None:
        if p.step == NODE_POOLS_STEP:
            raise KeyboardInterrupt

    with pytest.raises(ClusterCleanupError) as interrupted:
        clean_up_cluster(api, FAST, on_progress=interrupt)
    assert interrupted.value.exit_code == 130 and "node-pools step" in str(interrupted.value)
    assert [s.step for s in interrupted.value.result.steps] == [APPLICATIONS_STEP, LOAD_BALANCERS_STEP]


def test_config_refuses_a_non_positive_bound() -> None:
    with pytest.raises(MlplatError) as bad:
        dataclasses.replace(FAST, nodes_timeout_seconds=0)
    assert (bad.value.exit_code, "nodes_timeout_seconds" in str(bad.value)) == (2, True)


# ------------------------------------------------------------------------------------------------ the EKS client

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_eks_client_verifies_tls_against_the_clusters_ca_and_sends_the_token() -> None:
    api = eks_api_client("https://ABCD.gr7.us-west-2.eks.amazonaws.com",
                         base64.b64encode(PEM.encode()).decode(), "k8s-aws-v1.token")
    config = api.configuration
    assert (config.host, config.verify_ssl, config.ca_cert_data) == (
        "https://ABCD.gr7.us-west-2.eks.amazonaws.com", True, PEM)
    assert config.auth_settings()["BearerToken"]["value"] == "Bearer k8s-aws-v1.token"


def test_eks_client_refreshes_a_token_once_it_is_old() -> None:
    minted = iter(["second", "third"])
    api = eks_api_client("https://eks.example", base64.b64encode(PEM.encode()).decode(), "first",
                         refresh_token=lambda: next(minted), refresh_after_seconds=0.0)
    assert [api.configuration.auth_settings()["BearerToken"]["value"] for _ in range(2)] == [
        "Bearer second", "Bearer third"]


@pytest.mark.parametrize(("endpoint", "ca", "token", "complaint"), [
    ("http://eks.example", base64.b64encode(PEM.encode()).decode(), "t", "not an https:// URL"),
    ("https://eks.example", "not base64!", "t", "not base64"),
    ("https://eks.example", base64.b64encode(b"hello").decode(), "t", "holds no PEM certificate"),
    ("https://eks.example", base64.b64encode(PEM.encode()).decode(), "", "no bearer token"),
])
def test_eks_client_refuses_bad_inputs(endpoint: str, ca: str, token: str, complaint: str) -> None:
    with pytest.raises(MlplatError) as bad:
        eks_api_client(endpoint, ca, token)
    assert complaint in str(bad.value)


def test_loopback_client_refuses_other_hosts() -> None:
    with pytest.raises(MlplatError) as refused:
        loopback_api_client("http://10.0.0.1:6443")
    assert "loopback" in str(refused.value)
