"""The fake Kubernetes API's workload models (mlplat/kube/fake_api.py), as the pipeline runner sees them through the
official client: Job defaults and Kueue's webhook, admission by Kueue, the Job controller (pods, retries up to
backoffLimit, Complete/Failed conditions), Trainer's TrainJob pods and conditions, the kubelet's phases, pods/log
with its errors and `follow`, and deletion taking the pods along."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from mlplat.kube import fake_api as F

NS = "ml-workloads"


def job(name: str, *, queue: str | None = None, **spec: Any) -> dict[str, Any]:
    labels = {F.KUEUE_QUEUE_LABEL: queue} if queue else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "main", "image": "busybox"}]}}, **spec}}


def trainjob(name: str, nodes: int = 2, queue: str | None = None) -> dict[str, Any]:
    labels = {F.KUEUE_QUEUE_LABEL: queue} if queue else {}
    return {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"runtimeRef": {"name": "torch-gpu"}, "trainer": {"numNodes": nodes, "command": ["true"]}}}


@pytest.fixture
def fake() -> Any:
    with F.FakeKubeApi() as server:
        server.add(F.namespace(NS))
        yield server


def pods(api: client.ApiClient, selector: str) -> list[dict[str, Any]]:
    listed = client.CoreV1Api(api).list_namespaced_pod(NS, label_selector=selector).items
    return [api.sanitize_for_serialization(p) for p in listed]


def read_job(api: client.ApiClient, name: str) -> dict[str, Any]:
    return api.sanitize_for_serialization(client.BatchV1Api(api).read_namespaced_job(name, NS))


def conditions(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["type"], c["reason"]) for c in (obj.get("status") or {}).get("conditions", [])]


def test_a_job_gets_the_apiservers_defaults_and_kueues_webhook_suspends_a_queued_one(fake: F.FakeKubeApi,
                                                                                   api: client.ApiClient) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(NS, job("plain"))
    batch.create_namespaced_job(NS, job("queued", queue="cpu"))
    plain, queued = fake.get("jobs", "plain", NS), fake.get("jobs", "queued", NS)
    assert {k: plain["spec"][k] for k in ("parallelism", "completions", "backoffLimit", "completionMode", "suspend")} \
        == {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False}
    assert queued["spec"]["suspend"] is True
    assert [p.split("/")[1].rsplit("-", 1)[0] for p in fake.names("pods")] == ["plain"]  # none while suspended


def test_job_pods_carry_the_controllers_labels_and_owner(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    client.BatchV1Api(api).create_namespaced_job(NS, job("etl", parallelism=2, completions=2))
    created = fake.get("jobs", "etl", NS)
    found = pods(api, f"{F.JOB_NAME_LABEL}=etl")
    assert len(found) == 2
    for p in found:
        assert p["metadata"]["labels"] == {"app": "etl", F.JOB_NAME_LABEL: "etl", "job-name": "etl",
                                           F.JOB_UID_LABEL: created["metadata"]["uid"],
                                           "controller-uid": created["metadata"]["uid"]}
        assert p["metadata"]["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "etl",
                                                     "uid": created["metadata"]["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}]
        assert p["status"]["phase"] == "Pending"
        assert p["status"]["conditions"][0]["reason"] == "Unschedulable"


def test_a_scripted_job_runs_writes_its_log_and_completes(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "etl", F.PodScript.succeeds(pending=1, running=2, log=("a", "b", "c", "d")))
    client.BatchV1Api(api).create_namespaced_job(NS, job("etl"))
    phases = []
    for _ in range(6):
        phases.append(pods(api, f"{F.JOB_NAME_LABEL}=etl")[0]["status"]["phase"])
    assert phases == ["Pending", "Running", "Running", "Running", "Succeeded", "Succeeded"]
    [name] = [p["metadata"]["name"] for p in pods(api, f"{F.JOB_NAME_LABEL}=etl")]
    assert fake.pod_log(NS, name) == ["a", "b", "c", "d"]
    done = read_job(api, "etl")
    assert conditions(done) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert done["status"]["succeeded"] == 1


def test_a_failing_job_is_retried_up_to_its_backoff_limit_then_fails(fake: F.FakeKubeApi,
                                                                      api: client.ApiClient) -> None:
    fake.script_pods(NS, "flaky", F.PodScript.fails(pending=0, running=0, exit_code=3))
    client.BatchV1Api(api).create_namespaced_job(NS, job("flaky", backoffLimit=1))
    for _ in range(8):
        pods(api, f"{F.JOB_NAME_LABEL}=flaky")
    failed = read_job(api, "flaky")
    assert conditions(failed) == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert failed["status"]["failed"] == 2  # the first try and one retry
    terminated = pods(api, f"{F.JOB_NAME_LABEL}=flaky")[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")


def test_kueue_admits_after_its_polls_and_never_without_quota(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    batch = client.BatchV1Api(api)
    fake.kueue_admits_after("jobs", NS, "later", 2)
    fake.kueue_admits_after("jobs", NS, "never", None)
    batch.create_namespaced_job(NS, job("later", queue="cpu"))
    batch.create_namespaced_job(NS, job("never", queue="cpu"))
    suspended = [read_job(api, "later")["spec"]["suspend"] for _ in range(4)]
    assert suspended == [True, True, False, False]
    assert pods(api, f"{F.JOB_NAME_LABEL}=later")
    assert read_job(api, "never")["spec"]["suspend"] is True
    assert pods(api, f"{F.JOB_NAME_LABEL}=never") == []


def test_trainjob_nodes_are_pods_named_and_labelled_as_jobset_does_and_end_in_its_conditions(
        fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    fake.script_pods(NS, "ok", F.PodScript.succeeds(pending=0, running=0))
    fake.script_pods(NS, "bad", F.PodScript.fails(pending=0, running=0))
    for name in ("ok", "bad"):
        custom.create_namespaced_custom_object("trainer.kubeflow.org", "v1alpha1", NS, "trainjobs", trainjob(name))
    nodes = pods(api, f"{F.JOBSET_NAME_LABEL}=ok")
    assert sorted(p["metadata"]["name"].rsplit("-", 1)[0] for p in nodes) == ["ok-node-0-0", "ok-node-0-1"]
    assert {p["metadata"]["labels"][F.REPLICATED_JOB_LABEL] for p in nodes} == {"node"}
    for _ in range(3):
        pods(api, f"{F.JOBSET_NAME_LABEL}")
    get = lambda n: custom.get_namespaced_custom_object("trainer.kubeflow.org", "v1alpha1", NS, "trainjobs", n)  # noqa: E731
    assert conditions(get("ok")) == [("Complete", "AllJobsCompleted")]
    assert conditions(get("bad")) == [("Failed", "FailedJobs")]


def test_pod_log_refuses_as_the_apiserver_and_kubelet_do(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    client.BatchV1Api(api).create_namespaced_job(NS, job("waits"))
    [name] = [p["metadata"]["name"] for p in pods(api, f"{F.JOB_NAME_LABEL}=waits")]
    with pytest.raises(ApiException) as pending:
        core.read_namespaced_pod_log(name, NS)
    assert (pending.value.status, json.loads(pending.value.body)["message"]) == (
        400, f'container "main" in pod "{name}" is waiting to start: ContainerCreating')
    with pytest.raises(ApiException) as wrong:
        core.read_namespaced_pod_log(name, NS, container="sidecar")
    assert (wrong.value.status, json.loads(wrong.value.body)["message"]) == (
        400, f"container sidecar is not valid for pod {name}")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod_log("nope", NS)
    assert missing.value.status == 404
    assert fake.requests[-1].subresource == "log"


def test_pod_log_follow_streams_lines_as_they_are_written_until_the_container_ends(fake: F.FakeKubeApi,
                                                                                    api: client.ApiClient) -> None:
    fake.script_pods(NS, "talks", F.PodScript.succeeds(pending=0, running=3, log=("one", "two", "three", "four")))
    client.BatchV1Api(api).create_namespaced_job(NS, job("talks"))
    pods(api, f"{F.JOB_NAME_LABEL}=talks")  # Pending -> Running
    [name] = [p["metadata"]["name"] for p in pods(api, f"{F.JOB_NAME_LABEL}=talks")]
    response = client.CoreV1Api(api).read_namespaced_pod_log(name, NS, follow=True, _preload_content=False)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(response.stream(64)))
    reader.start()
    for _ in range(4):
        pods(api, f"{F.JOB_NAME_LABEL}=talks")  # each poll: a line written, then the end
    reader.join(timeout=10)
    assert not reader.is_alive(), "the stream did not end with the container"
    assert b"".join(received).decode().splitlines() == ["one", "two", "three", "four"]


def test_deleting_a_job_in_the_background_takes_its_pods(fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    client.BatchV1Api(api).create_namespaced_job(NS, job("gone", parallelism=2, completions=2))
    assert len(fake.names("pods")) == 2
    client.BatchV1Api(api).delete_namespaced_job("gone", NS, body=client.V1DeleteOptions(
        propagation_policy="Background"))
    assert fake.get("jobs", "gone", NS) is None
    assert fake.names("pods") == []


def rayjob(name: str, workers: int = 2, queue: str | None = None) -> dict[str, Any]:
    labels = {F.KUEUE_QUEUE_LABEL: queue} if queue else {}
    template = {"spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.52.0"}]}}
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"entrypoint": "bash /mlplat-step/step.sh", "shutdownAfterJobFinishes": True,
                     "rayClusterSpec": {"headGroupSpec": {"rayStartParams": {}, "template": template},
                                        "workerGroupSpecs": [{"groupName": "workers", "replicas": workers,
                                                              "rayStartParams": {}, "template": template}]}}}


def test_a_rayjob_makes_a_cluster_and_a_submitter_whose_outcome_it_reports_then_drops_the_cluster(
        fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    get = lambda n: custom.get_namespaced_custom_object("ray.io", "v1", NS, "rayjobs", n)  # noqa: E731
    fake.script_pods(NS, "ok", F.PodScript.succeeds(pending=0, running=1))
    fake.script_pods(NS, "bad", F.PodScript.fails(pending=0, running=1, log=("boom",)))
    created = custom.create_namespaced_custom_object("ray.io", "v1", NS, "rayjobs", rayjob("ok", queue="cpu"))
    custom.create_namespaced_custom_object("ray.io", "v1", NS, "rayjobs", rayjob("bad", workers=1))
    assert created["spec"]["suspend"] is True  # Kueue's webhook
    assert pods(api, f"{F.RAY_ORIGIN_LABEL}=ok") == []  # suspended: no cluster yet
    assert get("ok")["spec"]["suspend"] is False  # Kueue admits it on this poll (after 0 polls)
    made = pods(api, f"{F.RAY_ORIGIN_LABEL}=ok")
    kinds = sorted(p["metadata"]["labels"].get(F.RAY_NODE_TYPE_LABEL, "submitter") for p in made)
    assert kinds == ["head", "submitter", "worker", "worker"]
    assert {p["metadata"]["labels"][F.RAY_ORIGIN_CRD_LABEL] for p in made} == {"RayJob"}
    assert get("ok")["status"]["jobDeploymentStatus"] == "Running"
    for _ in range(4):
        pods(api, F.RAY_ORIGIN_LABEL)
    ok, bad = get("ok")["status"], get("bad")["status"]
    assert (ok["jobStatus"], ok["jobDeploymentStatus"], ok["message"]) == (
        "SUCCEEDED", "Complete", "Job finished successfully.")
    assert (bad["jobStatus"], bad["jobDeploymentStatus"], bad["reason"]) == ("FAILED", "Failed", "AppFailed")
    assert bad["message"].endswith("boom")
    # shutdownAfterJobFinishes: only the submitters are left; deleting the RayJob takes them.
    left = pods(api, F.RAY_ORIGIN_LABEL)
    assert sorted(p["metadata"]["labels"].get(F.RAY_NODE_TYPE_LABEL, "submitter") for p in left) == [
        "submitter", "submitter"]
    custom.delete_namespaced_custom_object("ray.io", "v1", NS, "rayjobs", "ok",
                                           body=client.V1DeleteOptions(propagation_policy="Background"))
    assert [p["metadata"]["labels"][F.RAY_ORIGIN_LABEL] for p in pods(api, F.RAY_ORIGIN_LABEL)] == ["bad"]


def served_job(name: str, **spec: Any) -> dict[str, Any]:
    """A Job whose pod runs a server as a native sidecar (an init container with restartPolicy Always) beside its
    main container, as the vllm-serve step renders it."""
    obj = job(name, **spec)
    obj["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "server", "image": "vllm/vllm-openai", "restartPolicy": "Always",
         "startupProbe": {"httpGet": {"path": "/health", "port": 8000}}}]
    return obj


def states(pod: dict[str, Any], key: str) -> list[tuple[str, str, int | None, bool]]:
    """(container, state, exit code, started) for each of the pod's init or main container statuses."""
    out = []
    for cs in pod["status"].get(key) or []:
        [(state, detail)] = cs["state"].items()
        out.append((cs["name"], state, (detail or {}).get("exitCode"), cs["started"]))
    return out


@pytest.mark.parametrize("outcome", ["succeeds", "fails"])
def test_a_job_with_a_sidecar_ends_with_its_main_container_and_the_sidecar_is_stopped(
        fake: F.FakeKubeApi, api: client.ApiClient, outcome: str) -> None:
    script = (F.PodScript.succeeds(pending=0, running=1, log=("scored",)) if outcome == "succeeds"
              else F.PodScript.fails(pending=0, running=1, log=("Traceback",), exit_code=1))
    fake.script_pods(NS, "eval", script)
    client.BatchV1Api(api).create_namespaced_job(NS, served_job("eval", backoffLimit=0))
    [running] = pods(api, f"{F.JOB_NAME_LABEL}=eval")
    assert running["status"]["phase"] == "Running"
    assert states(running, "initContainerStatuses") == [("server", "running", None, True)]
    assert states(running, "containerStatuses") == [("main", "running", None, True)]
    assert read_job(api, "eval").get("status", {}).get("conditions") is None  # a running server does not end it
    for _ in range(2):
        pods(api, f"{F.JOB_NAME_LABEL}=eval")
    [ended] = pods(api, f"{F.JOB_NAME_LABEL}=eval")
    code = 0 if outcome == "succeeds" else 1
    assert ended["status"]["phase"] == ("Succeeded" if outcome == "succeeds" else "Failed")
    assert states(ended, "containerStatuses") == [("main", "terminated", code, False)]
    assert states(ended, "initContainerStatuses") == [("server", "terminated", 0, False)]  # stopped by the kubelet
    assert conditions(read_job(api, "eval"))[-1] == (
        ("Complete", "CompletionsReached") if outcome == "succeeds" else ("Failed", "BackoffLimitExceeded"))
    # pods/log: the only regular container is the default; the sidecar may be named, nothing else.
    core = client.CoreV1Api(api)
    name = ended["metadata"]["name"]
    assert core.read_namespaced_pod_log(name, NS) == ("scored\n" if outcome == "succeeds" else "Traceback\n")
    assert core.read_namespaced_pod_log(name, NS, container="server") is not None
    with pytest.raises(ApiException) as wrong:
        core.read_namespaced_pod_log(name, NS, container="other")
    assert json.loads(wrong.value.body)["message"] == f"container other is not valid for pod {name}"


def test_a_sidecar_that_never_starts_holds_its_pod_at_pod_initializing(fake: F.FakeKubeApi,
                                                                       api: client.ApiClient) -> None:
    fake.script_pods(NS, "stuck", F.PodScript.sidecar_never_starts("back-off 40s restarting failed container=server"))
    client.BatchV1Api(api).create_namespaced_job(NS, served_job("stuck"))
    for _ in range(3):
        [pod] = pods(api, f"{F.JOB_NAME_LABEL}=stuck")
    assert (pod["status"]["phase"], bool(pod["spec"].get("nodeName"))) == ("Pending", True)
    [server] = pod["status"]["initContainerStatuses"]
    assert (server["state"]["waiting"]["reason"], server["lastState"]["terminated"]["exitCode"]) == (
        "CrashLoopBackOff", 1)
    assert [cs["state"] for cs in pod["status"]["containerStatuses"]] == [{"waiting": {"reason": "PodInitializing"}}]
    assert read_job(api, "stuck").get("status", {}).get("conditions") is None
    with pytest.raises(ApiException) as waiting:
        client.CoreV1Api(api).read_namespaced_pod_log(pod["metadata"]["name"], NS)
    assert json.loads(waiting.value.body)["message"] == (
        f'container "main" in pod "{pod["metadata"]["name"]}" is waiting to start: PodInitializing')
