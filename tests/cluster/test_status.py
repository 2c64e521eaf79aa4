"""`mlplat status` (mlplat/cli/status.py, mlplat/kube/status.py) against the fake Kubernetes API: Helm releases read
from Helm's own records and compared with the pins, Argo CD Applications in 'argocd' mode, node pools with their
nodes, accelerators and NodeClaims still launching, the stacks' state, and the JSON document."""

from __future__ import annotations

import argparse
import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from mlplat.cli import status as status_cli
from mlplat.errors import MlplatError
from mlplat.kube import fake_api as F
from mlplat.kube.client import loopback_api_client
from mlplat.kube.status import ARGOCD, HELM, ExpectedAddon, cluster_status, decode_release
from mlplat.kube.token import EksCluster

CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
ENDPOINT = "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com"


# ------------------------------------------------------------------------------------ shared with the other CLI tests

def write_blueprint(directory: Path, extra: str = "", name: str = "demo") -> Path:
    path = directory / f"{name}.tfvars"
    path.write_text(f'name = "{name}"\nregion = "us-west-2"\n{extra}')
    return path


def aws_outputs(name: str = "demo", **extra: str) -> dict[str, str]:
    return {"region": "us-west-2", "cluster_name": name, "cluster_endpoint": ENDPOINT,
            "cluster_certificate_authority_data": CA_DATA, "cluster_version": "1.36", **extra}


def deploy_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stacks: dict[str, dict[str, str] | None]) -> Path:
    """Local state files as terraform leaves them: a stack with resources and outputs, or (None) an emptied one."""
    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("MLPLAT_STATE_DIR", str(state_dir))
    monkeypatch.delenv("MLPLAT_BACKEND_S3_BUCKET", raising=False)
    for stack, outputs in stacks.items():
        resources = [] if outputs is None else [{"mode": "managed", "type": "aws_eks_cluster", "name": "this"}]
        state = {"version": 4, "resources": resources,
                 "outputs": {k: {"value": v, "type": "string"} for k, v in (outputs or {}).items()}}
        (state_dir / f"{stack}.tfstate").write_text(json.dumps(state))
    return state_dir


def cli_args(blueprint: Path, **extra: Any) -> argparse.Namespace:
    return argparse.Namespace(blueprint=blueprint, json=True, local=False, provider_mirror=None, **extra)


def fake_connect(fake: F.FakeKubeApi, seen: list[EksCluster] | None = None) -> Any:
    def connect(cluster: EksCluster) -> client.ApiClient:
        if seen is not None:
            seen.append(cluster)
        return loopback_api_client(fake.url)
    return connect


# ------------------------------------------------------------------------------------------------------- fixtures

def expected(name: str, version: str, namespace: str = "kube-system", chart: str | None = None,
             delivery: str = HELM) -> ExpectedAddon:
    return ExpectedAddon(name, namespace, chart or name, version, delivery, chart_source=chart is None)


def table(status: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {name: (a["state"], a["deployed_version"], a["matches_pin"], a["revision"], a["healthy"])
            for name, a in status["addons"].items()}


# ---------------------------------------------------------------------------------------------------- add-ons

def test_releases_are_read_from_helms_records_and_compared_with_the_pins(fake: F.FakeKubeApi,
                                                                          api: client.ApiClient) -> None:
    fake.add(F.helm_release("karpenter", "kube-system", chart="karpenter", version="1.13.0", status="superseded"))
    fake.add(F.helm_release("karpenter", "kube-system", chart="karpenter", version="1.14.1", revision=2))
    fake.add(F.helm_release("karpenter-crd", "kube-system", chart="karpenter-crd", version="1.14.1", status="failed",
                            description='Upgrade "karpenter-crd" failed: context deadline exceeded'))
    fake.add(F.helm_release("nvidia-device-plugin", "kube-system", chart="nvidia-device-plugin", version="0.19.0",
                            status="pending-upgrade", revision=3, description="Preparing upgrade"))
    fake.add(F.helm_release("storage-classes", "kube-system", chart="mlplat-manifests", version="0.0.9"))
    # In another namespace than the add-on's: not its release.
    fake.add(F.helm_release("shared-volumes", "default", chart="mlplat-manifests", version="0.1.0"))
    # Noise a label selector must keep out: a user's Secret that happens to carry name=karpenter.
    fake.add(F.secret("karpenter-settings", "kube-system", {"release": "not helm"},
                      labels={"name": "karpenter", "owner": "team-a"}))
    # ... and one with Helm's labels but not its type, numbered above the real revisions.
    fake.add(F.secret("karpenter-copy", "kube-system", {"release": "not helm"},
                      labels={"name": "karpenter", "owner": "helm", "version": "9"}))

    status = cluster_status(api, [expected("karpenter-crd", "1.14.1"), expected("karpenter", "1.14.1"),
                                  expected("nvidia-device-plugin", "0.20.0"),
                                  expected("storage-classes", "0.1.0", chart="mlplat-manifests"),
                                  expected("shared-volumes", "0.1.0", chart="mlplat-manifests")], []).as_dict()

    assert table(status) == {
        "karpenter-crd": ("failed", "1.14.1", True, 1, False),
        "karpenter": ("deployed", "1.14.1", True, 2, True),  # the highest revision is the release
        "nvidia-device-plugin": ("pending-upgrade", "0.19.0", False, 3, False),
        "storage-classes": ("deployed", "0.0.9", False, 1, False),
        "shared-volumes": ("not-installed", None, None, None, False),
    }
    assert {name: a["message"] for name, a in status["addons"].items()} == {
        "karpenter-crd": 'the last Helm operation failed: Upgrade "karpenter-crd" failed: context deadline exceeded',
        "karpenter": "",
        "nvidia-device-plugin": "a Helm operation is under way, or was cut off (Preparing upgrade); if nothing is "
                                "running, `helm -n kube-system history nvidia-device-plugin` shows the revisions, and "
                                "`helm rollback` ends the pending one",
        "storage-classes": "chart mlplat-manifests 0.0.9 is running, the blueprint pins 0.1.0: mlplat deploy brings "
                           "it to the pin",
        "shared-volumes": "no Helm release: the Kubernetes layer has not installed it (mlplat deploy)",
    }
    assert status["healthy"] is False
    # One query per release, by Helm's labels, in the add-on's namespace.
    assert sorted((r.path, r.query.get("labelSelector")) for r in fake.requests if r.resource == "secrets") == [
        ("/api/v1/namespaces/kube-system/secrets", f"owner=helm,name={name}")
        for name in sorted(["karpenter-crd", "karpenter", "nvidia-device-plugin", "storage-classes",
                            "shared-volumes"])]


def test_all_releases_deployed_at_their_pins_is_healthy(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add(F.helm_release("karpenter", "kube-system", chart="karpenter", version="1.14.1"))
    status = cluster_status(api, [expected("karpenter", "1.14.1")], [])
    assert (status.healthy, status.as_dict()["addons"]["karpenter"]["updated"] is not None) == (True, True)


def test_helm_payloads_decode_with_and_without_gzip_and_a_broken_one_is_reported(fake: F.FakeKubeApi,
                                                                                 api: client.ApiClient) -> None:
    release = {"name": "kueue", "version": 1, "info": {"status": "deployed"},
               "chart": {"metadata": {"name": "kueue", "version": "0.19.2"}}}
    # Helm's text is base64 (of gzip, or of the JSON itself for releases stored before compression); the API
    # carries it as base64 once more.
    for payload in (gzip.compress(json.dumps(release).encode()), json.dumps(release).encode()):
        twice = base64.b64encode(base64.b64encode(payload)).decode()
        assert decode_release(twice) == release
    broken = F.helm_release("kueue", "kueue-system", chart="kueue", version="0.19.2")
    broken["data"]["release"] = base64.b64encode(b"H4sI-not-gzip").decode()
    fake.add(broken)
    addon = cluster_status(api, [expected("kueue", "0.19.2", "kueue-system")], []).as_dict()["addons"]["kueue"]
    assert (addon["state"], addon["message"]) == (
        "unreadable", "Helm's record sh.helm.release.v1.kueue.v1 cannot be decoded (not base64)")


def test_argocd_delivered_addons_are_read_from_their_applications(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    synced = F.application("nvidia-device-plugin")
    synced["status"] = {"sync": {"status": "Synced", "revision": "0.20.0"}, "health": {"status": "Healthy"},
                        "operationState": {"finishedAt": "2026-11-30T10:00:00Z"}}
    degraded = F.application("storage-classes")
    degraded["status"] = {"sync": {"status": "OutOfSync", "revision": "3f2a9c1"},
                          "health": {"status": "Degraded", "message": "StorageClass gp3 is invalid"}}
    fake.add(synced)
    fake.add(degraded)
    fake.add(F.helm_release("argo-cd", "argocd", chart="argo-cd", version="10.1.1"))

    status = cluster_status(api, [expected("argo-cd", "10.1.1", "argocd"),
                                  expected("nvidia-device-plugin", "0.20.0", delivery=ARGOCD),
                                  expected("storage-classes", "0.1.0", chart="mlplat-manifests", delivery=ARGOCD),
                                  expected("shared-volumes", "0.1.0", chart="mlplat-manifests", delivery=ARGOCD)],
                            []).as_dict()

    assert table(status) == {
        "argo-cd": ("deployed", "10.1.1", True, 1, True),
        "nvidia-device-plugin": ("Synced/Healthy", "0.20.0", True, None, True),
        # The in-repo chart syncs from Git: its revision is a commit, not a chart version to compare.
        "storage-classes": ("OutOfSync/Degraded", None, None, None, False),
        "shared-volumes": ("not-installed", None, None, None, False),
    }
    assert (status["addons"]["storage-classes"]["message"], status["addons"]["shared-volumes"]["message"]) == (
        "StorageClass gp3 is invalid",
        "no Argo CD Application argocd/shared-volumes: the parent Application has not created it yet")


# ------------------------------------------------------------------------------------------------------ node pools

def gpu_node(name: str, pool: str, gpus: int, *, ready: bool = True) -> dict[str, Any]:
    node = F.karpenter_node(name, pool)
    node["metadata"]["labels"].update({"node.kubernetes.io/instance-type": "g6.12xlarge",
                                       "karpenter.sh/capacity-type": "spot",
                                       "topology.kubernetes.io/zone": "us-west-2a"})
    node["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                      "allocatable": {"cpu": "47810m", "memory": "187Gi", "nvidia.com/gpu": str(gpus)}}
    return node


def test_pools_count_their_nodes_accelerators_and_claims_still_launching(fake: F.FakeKubeApi,
                                                                         api: client.ApiClient) -> None:
    gpu = fake.add(F.nodepool("gpu"))
    fake.add(F.nodepool("general"))
    fake.add(F.nodepool("inf"))  # in the cluster, not in the blueprint
    fake.add(gpu_node("ip-10-0-1-1", "gpu", 4))
    fake.add(gpu_node("ip-10-0-1-2", "gpu", 8, ready=False))
    fake.add(F.nodeclaim("gpu-aaaaa", gpu, "ip-10-0-1-1"))
    fake.add(F.nodeclaim("gpu-bbbbb", gpu, "ip-10-0-1-2"))
    fake.add(F.nodeclaim("gpu-ccccc", gpu))  # launched, no node registered yet
    neuron = F.karpenter_node("ip-10-0-3-1", "inf")
    neuron["status"]["allocatable"] = {"aws.amazon.com/neuron": "16", "aws.amazon.com/neuroncore": "32"}
    fake.add(neuron)
    fake.add(F.node("ip-10-0-0-1", {"eks.amazonaws.com/nodegroup": "system"}))

    pools = cluster_status(api, [], ["general", "gpu", "cpu-spot"]).as_dict()

    def node(ready: bool, gpus: int) -> dict[str, Any]:
        return {"ready": ready, "deleting": False, "instance_type": "g6.12xlarge", "capacity_type": "spot",
                "zone": "us-west-2a", "accelerators": {"nvidia.com/gpu": gpus}}

    assert pools["node_pools"] == {
        "general": {"in_cluster": True, "nodes": {}, "ready_nodes": 0, "launching": [], "accelerators": {}},
        "gpu": {"in_cluster": True, "nodes": {"ip-10-0-1-1": node(True, 4), "ip-10-0-1-2": node(False, 8)},
                "ready_nodes": 1, "launching": ["gpu-ccccc"], "accelerators": {"nvidia.com/gpu": 12}},
        "cpu-spot": {"in_cluster": False, "nodes": {}, "ready_nodes": 0, "launching": [], "accelerators": {}},
        "inf": {"in_cluster": True, "ready_nodes": 1, "launching": [], "accelerators": {"aws.amazon.com/neuron": 16},
                "nodes": {"ip-10-0-3-1": {"ready": True, "deleting": False, "instance_type": "",
                                          "capacity_type": "", "zone": "", "accelerators": {
                                              "aws.amazon.com/neuron": 16}}}},
    }
    assert list(pools["other_nodes"]) == ["ip-10-0-0-1"]


def test_a_cluster_without_karpenter_yet_has_pools_but_no_nodepools() -> None:
    with F.FakeKubeApi(unserved=("nodepools", "nodeclaims")) as fake, loopback_api_client(fake.url) as api:
        pools = cluster_status(api, [], ["general"]).as_dict()["node_pools"]
    assert pools == {"general": {"in_cluster": False, "nodes": {}, "ready_nodes": 0, "launching": [],
                                 "accelerators": {}}}


# ---------------------------------------------------------------------------------------------------- the command

def test_status_reports_stacks_addons_and_pools_as_one_json_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     fake: F.FakeKubeApi) -> None:
    blueprint = write_blueprint(tmp_path)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs(), "demo-kubernetes": {"releases": "[]"}})
    for name, chart, version in (("karpenter-crd", "karpenter-crd", "1.14.1"), ("karpenter", "karpenter", "1.14.1"),
                                 ("karpenter-nodepools", "mlplat-manifests", "0.1.0"),
                                 ("nvidia-device-plugin", "nvidia-device-plugin", "0.20.0"),
                                 ("storage-classes", "mlplat-manifests", "0.1.0"),
                                 ("workload-namespaces", "mlplat-manifests", "0.1.0"),
                                 ("shared-volumes", "mlplat-manifests", "0.1.0")):
        fake.add(F.helm_release(name, "kube-system", chart=chart, version=version))
    fake.add(F.nodepool("general"))
    fake.add(F.nodepool("gpu"))
    seen: list[EksCluster] = []

    result = status_cli.run(cli_args(blueprint), connect=fake_connect(fake, seen))

    assert seen == [EksCluster("demo", "us-west-2", ENDPOINT, CA_DATA)]
    document = json.loads(json.dumps(result))  # what --json prints, less main's ok/command
    assert {k: document[k] for k in ("platform", "stacks", "drift")} == {
        "platform": "demo",
        "stacks": {"demo-aws": {"deployed": True, "outputs": aws_outputs()},
                   "demo-kubernetes": {"deployed": True, "outputs": {"releases": "[]"}}},
        "drift": "not checked: `mlplat status --drift` (or `mlplat plan --detailed-exitcode`) compares the blueprint "
                 "with what is deployed",
    }
    cluster = document["cluster"]
    assert sorted(cluster) == ["addons", "endpoint", "healthy", "node_pools", "other_nodes", "queried"]
    assert (cluster["queried"], cluster["endpoint"], cluster["healthy"]) == (True, ENDPOINT, True)
    assert list(cluster["addons"]) == ["karpenter-crd", "karpenter", "karpenter-nodepools", "nvidia-device-plugin",
                                       "storage-classes", "workload-namespaces", "shared-volumes"]
    assert sorted(cluster["addons"]["karpenter"]) == ["chart", "delivery", "deployed_version", "healthy",
                                                      "matches_pin", "message", "namespace", "pinned_version",
                                                      "revision", "state", "updated"]
    text = status_cli.render(result)
    assert "  demo-aws         deployed" in text
    assert "  ok karpenter             kube-system  deployed  1.14.1" in text
    assert "  gpu: 0 node(s), 0 ready" in text


def test_an_undeployed_platform_is_reported_without_asking_a_cluster(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blueprint = write_blueprint(tmp_path)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": None})  # destroyed: the file remains, empty

    def no_cluster(cluster: EksCluster) -> Any:
        raise AssertionError("status asked a cluster that is not deployed")

    result = status_cli.run(cli_args(blueprint), connect=no_cluster)
    assert {k: result[k] for k in ("stacks", "cluster")} == {
        "stacks": {"demo-aws": {"deployed": False, "outputs": {}},
                   "demo-kubernetes": {"deployed": False, "outputs": {}}},
        "cluster": {"queried": False, "reason": "the demo-aws stack is not deployed: there is no cluster"}}
    assert "cluster: not queried: the demo-aws stack is not deployed" in status_cli.render(result)


def test_with_local_only_the_aws_layer_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # --local state lives under .mlplat-local/<name>/ in the working directory
    blueprint = write_blueprint(tmp_path)
    state = tmp_path / ".mlplat-local" / "demo" / "tfstate"
    state.mkdir(parents=True)
    (state / "demo-aws.tfstate").write_text(json.dumps({"resources": [{"type": "aws_vpc"}],
                                                        "outputs": {"region": {"value": "us-west-2"}}}))
    args = cli_args(blueprint)
    args.local = True
    result = status_cli.run(args, connect=lambda cluster: pytest.fail("no cluster behind the embedded AWS"))
    assert {k: result[k] for k in ("stacks", "cluster")} == {
        "stacks": {"demo-aws": {"deployed": True, "outputs": {"region": "us-west-2"}},
                   "demo-kubernetes": {"deployed": False, "outputs": {}, "note": "not applied with --local"}},
        "cluster": {"queried": False, "reason": status_cli.NO_CLUSTER_LOCALLY}}


def test_a_refused_read_fails_with_the_fix_and_keeps_what_was_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   fake: F.FakeKubeApi) -> None:
    blueprint = write_blueprint(tmp_path)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs()})
    fake.forbid("list", "secrets")
    with pytest.raises(MlplatError) as refused:
        status_cli.run(cli_args(blueprint), connect=fake_connect(fake))
    assert (refused.value.exit_code, str(refused.value)) == (1, (
        "reading Helm's records of karpenter-crd in kube-system: forbidden (403): secrets is forbidden: User "
        "\"kubernetes-admin\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\"; "
        "your identity's access entry needs a policy that allows it (AmazonEKSClusterAdminPolicy, or "
        "AmazonEKSAdminViewPolicy for reading)"))
    assert refused.value.details == {"stacks": {"demo-aws": {"deployed": True, "outputs": aws_outputs()},
                                                "demo-kubernetes": {"deployed": False, "outputs": {}}}}


def test_an_unreachable_api_says_how_to_reach_a_private_endpoint(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blueprint = write_blueprint(tmp_path)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs()})
    with F.FakeKubeApi() as gone:
        url = gone.url  # stopped at the end of the block: nothing listens there any more
    with pytest.raises(MlplatError) as unreachable:
        status_cli.run(cli_args(blueprint), connect=lambda cluster: loopback_api_client(url))
    assert str(unreachable.value).startswith("reading Helm's records of karpenter-crd in kube-system: the cluster's "
                                             "API cannot be reached (")
    assert str(unreachable.value).endswith("a private endpoint is reachable only from inside the VPC or through the "
                                           "cluster access node (mlplat kubeconfig --tunnel-port)")


def test_drift_is_rendered_per_resource_or_as_none() -> None:
    from mlplat.cli.status import _drift_lines

    found = {"checked": True, "changes": 2, "stacks": {
        "p-aws": {"changes": 2, "resources": ["update aws_vpc.network_vpc_1", "create aws_route.r"]},
        "p-kubernetes": {"not_checked": "waits"}}}
    assert _drift_lines(found) == [
        "drift: 2 resource(s) differ from the blueprint (`mlplat deploy` puts them back):",
        "  p-aws: update aws_vpc.network_vpc_1", "  p-aws: create aws_route.r", "  p-kubernetes: waits"]
    assert _drift_lines({"checked": True, "changes": 0, "stacks": {"p-aws": {"changes": 0, "resources": []}}}) == [
        "drift: none (every stack matches the blueprint)"]
