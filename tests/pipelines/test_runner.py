"""The pipeline runner (mlplat/pipelines/run.py) against the fake Kubernetes API: steps run in order and are
deleted after; a failing step stops the pipeline (exit 1) and is still cleaned up; SIGTERM mid-step cleans up
(exit 130); a step Kueue never admits, or whose pods are never scheduled, fails at its pending_timeout saying
why; an object left by an earlier run is reported, not deleted; and `mlplat pipeline run` end to end."""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client

from mlplat.blueprint import load as load_blueprint
from mlplat.cli import pipeline as pipeline_cli
from mlplat.kube import fake_api as F
from mlplat.kube.client import loopback_api_client
from mlplat.pipelines.pipeline import load as load_pipeline
from mlplat.pipelines.run import Runner
from tests.cluster.test_status import aws_outputs, cli_args, deploy_state, fake_connect, write_blueprint

NS = "ml-workloads"
BLUEPRINT = """enable_kueue = true
enable_kubeflow_trainer = true
nodepools = {
  cpu = { enabled = true }
}
"""
PIPELINE = """name: demo
steps:
  - name: prepare
    template: data-process
    pending_timeout: {pending}
    recipe:
      image: public.ecr.aws/docker/library/busybox:1.37
      process:
        command: [echo]
        args: [prepared]
  - name: train
    template: pytorch-distributed
    recipe:
      resources:
        limits:
          nvidia.com/gpu: 1
        nnodes: 2
      train:
        command: [python]
        args: [train.py]
"""


@pytest.fixture
def fake() -> Iterator[F.FakeKubeApi]:
    with F.FakeKubeApi() as server:
        server.add(F.namespace(NS))
        yield server


@pytest.fixture
def api(fake: F.FakeKubeApi) -> Iterator[client.ApiClient]:
    with loopback_api_client(fake.url) as api_client:
        yield api_client


def load_text(tmp_path: Path, blueprint: str, text: str) -> Any:
    """The pipeline `text` loaded against the blueprint `blueprint`, both written under `tmp_path`."""
    bp = load_blueprint(write_blueprint(tmp_path, blueprint))
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return load_pipeline(path, bp)


def pipeline(tmp_path: Path, pending: str = "30m") -> Any:
    return load_text(tmp_path, BLUEPRINT, PIPELINE.format(pending=pending))


def runner(api: client.ApiClient, said: list[str] | None = None, logs: io.StringIO | None = None) -> Runner:
    return Runner(api, say=(said.append if said is not None else lambda m: None), poll_seconds=0.01, logs=logs)


def created(fake: F.FakeKubeApi) -> list[str]:
    return [f"{r.method} {r.resource} {r.name or (r.body or {}).get('metadata', {}).get('name', '')}"
            for r in fake.requests if r.method in ("POST", "DELETE")]


def test_a_two_step_pipeline_runs_its_steps_in_order_streams_their_logs_and_deletes_each(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript.succeeds(log=("reading", "prepared")))
    fake.script_pods(NS, "demo-train", F.PodScript.succeeds(running=3, log=("epoch 1", "epoch 2")))
    fake.kueue_admits_after("trainjobs", NS, "demo-train", 2)
    logs = io.StringIO()
    result = runner(api, logs=logs).run(pipeline(tmp_path))
    assert (result["status"], result["exit_code"]) == ("succeeded", 0)
    assert [(s["name"], s["kind"], s["object"], s["pool"], s["queue"], s["status"], s["cleaned_up"])
            for s in result["steps"]] == [
        ("prepare", "Job", "demo-prepare", "cpu", "cpu", "succeeded", True),
        ("train", "TrainJob", "demo-train", "gpu", "gpu", "succeeded", True)]
    assert all(s["seconds"] is not None and s["pending_seconds"] is not None for s in result["steps"])
    assert len(result["steps"][1]["pods"]) == 2 and set(result["steps"][1]["pods"].values()) == {"Succeeded"}
    # One step at a time: the first is deleted before the second is submitted.
    assert created(fake) == ["POST jobs demo-prepare", "DELETE jobs demo-prepare", "POST trainjobs demo-train",
                             "DELETE trainjobs demo-train"]
    assert fake.names("jobs") == [] and fake.names("trainjobs") == [] and fake.names("pods") == []
    lines = logs.getvalue().splitlines()
    assert [re.sub(r"/demo-\S+\] ", "] ", line) for line in lines if line.startswith("[prepare/")] == [
        "[prepare] reading", "[prepare] prepared"]
    assert sorted(re.sub(r"/demo-\S+\] ", "] ", line) for line in lines if line.startswith("[train/")) == [
        "[train] epoch 1", "[train] epoch 1", "[train] epoch 2", "[train] epoch 2"]  # both nodes
    # Kueue held the TrainJob until it was admitted: it was created suspended.
    post = next(r for r in fake.requests if r.method == "POST" and r.resource == "trainjobs")
    assert post.body["spec"]["suspend"] is True


def test_a_failing_step_stops_the_pipeline_with_exit_1_and_is_still_deleted(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript.fails(log=("Traceback", "ValueError: bad row"), exit_code=3))
    result = runner(api).run(pipeline(tmp_path))
    assert (result["status"], result["exit_code"]) == ("failed", 1)
    prepare, train = result["steps"]
    assert prepare["status"] == "failed"
    assert re.fullmatch(r"Job failed: Job has reached the specified backoff limit \(demo-prepare-\w{5}: exited 3 "
                        r"\(Error\)\)", prepare["message"]), prepare["message"]
    assert prepare["cleaned_up"] is True
    assert (train["status"], train["seconds"], train["cleaned_up"]) == ("skipped", None, None)
    assert created(fake) == ["POST jobs demo-prepare", "DELETE jobs demo-prepare"]  # train never submitted
    assert fake.names("jobs") == [] and fake.names("pods") == []


def test_sigterm_mid_step_deletes_the_running_step_and_exits_130(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript.runs_forever(log=("working",) * 1000))
    previous = signal.getsignal(signal.SIGTERM)

    def terminate_once_running() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            running = [p for p in fake.names("pods") if fake.pod_log(NS, p.split("/")[1])]
            if running:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=terminate_once_running)
    killer.start()
    result = runner(api).run(pipeline(tmp_path))
    killer.join()
    assert (result["status"], result["exit_code"]) == ("interrupted", 130)
    prepare, train = result["steps"]
    assert (prepare["status"], prepare["message"], prepare["cleaned_up"]) == (
        "interrupted", "SIGTERM received; the step was deleted", True)
    assert train["status"] == "skipped"
    assert fake.names("jobs") == [] and fake.names("pods") == []
    assert signal.getsignal(signal.SIGTERM) is previous  # the runner's handler is gone again


def test_a_step_kueue_never_admits_fails_at_its_pending_timeout_naming_the_queue(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.kueue_admits_after("jobs", NS, "demo-prepare", None)
    result = runner(api).run(pipeline(tmp_path, pending="0.3"))
    assert (result["status"], result["exit_code"]) == ("failed", 1)
    prepare = result["steps"][0]
    assert prepare["status"] == "timed out"
    assert re.fullmatch(
        r"not running after \d+ s \(pending_timeout 0 s\): Kueue has not admitted it: LocalQueue 'cpu' in "
        r"ml-workloads has no free quota on the cpu pool, or its ClusterQueue is inactive \(kubectl get workloads -n "
        r"ml-workloads says which\); raise pending_timeout to wait longer", prepare["message"]), prepare["message"]
    assert prepare["cleaned_up"] is True and fake.names("jobs") == []


def test_a_step_whose_pods_are_never_scheduled_fails_at_its_pending_timeout_with_the_schedulers_reason(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript(unschedulable="0/2 nodes are available: 2 Insufficient cpu."))
    result = runner(api).run(pipeline(tmp_path, pending="0.3"))
    message = result["steps"][0]["message"]
    assert re.fullmatch(r"not running after \d+ s \(pending_timeout 0 s\): its pods are not scheduled "
                        r"\(demo-prepare-\w{5}: Unschedulable: 0/2 nodes are available: 2 Insufficient cpu\.\); "
                        r"Karpenter launches cpu nodes within the pool's limits and offerings \(kubectl get "
                        r"nodeclaims\)", message), message
    assert fake.names("jobs") == [] and fake.names("pods") == []


def test_an_object_left_by_an_earlier_run_is_reported_and_not_deleted(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.add({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "demo-prepare", "namespace": NS},
              "spec": {"suspend": True, "template": {"spec": {"containers": [{"name": "x"}]}}}})
    result = runner(api).run(pipeline(tmp_path))
    prepare = result["steps"][0]
    assert (prepare["status"], prepare["cleaned_up"]) == ("failed", False)
    assert prepare["message"] == ("step prepare: Job ml-workloads/demo-prepare exists already (a previous run still "
                                  "going, or left behind): delete it (kubectl delete job -n ml-workloads "
                                  "demo-prepare) or wait for it")
    assert fake.get("jobs", "demo-prepare", NS) is not None


def test_the_cli_validates_connects_runs_and_reports_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          fake: F.FakeKubeApi) -> None:
    blueprint = write_blueprint(tmp_path, BLUEPRINT)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs(), "demo-kubernetes": {"applied": "yes"}})
    (tmp_path / "pipeline.yaml").write_text(PIPELINE.format(pending="30m"))
    fake.script_pods(NS, "demo-prepare", F.PodScript.succeeds())
    fake.script_pods(NS, "demo-train", F.PodScript.fails())
    args = cli_args(blueprint, action="run", file=tmp_path / "pipeline.yaml", poll_seconds=0.01, no_logs=True)
    result = pipeline_cli.run(args, connect=fake_connect(fake))
    assert (result["pipeline"], result["status"], result["exit_code"]) == ("demo", "failed", 1)
    assert [(s["name"], s["status"]) for s in result["steps"]] == [("prepare", "succeeded"), ("train", "failed")]
    assert result["steps"][1]["message"].startswith("TrainJob failed: jobset failed due to one or more job failures")
    assert "prepare: succeeded" in pipeline_cli.render(result) and "train: failed" in pipeline_cli.render(result)


def test_the_cli_refuses_local_and_checks_before_it_connects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlplat.errors import BlueprintError, MlplatError

    blueprint = write_blueprint(tmp_path, BLUEPRINT)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE.format(pending="30m"))
    args = cli_args(blueprint, action="run", file=tmp_path / "pipeline.yaml", poll_seconds=0.01, no_logs=True)
    args.local = True
    with pytest.raises(MlplatError, match="with --local there is none"):
        pipeline_cli.run(args, connect=lambda cluster: pytest.fail("no cluster"))
    no_trainer = write_blueprint(tmp_path, BLUEPRINT.replace("enable_kubeflow_trainer = true", ""), name="bare")
    args = cli_args(no_trainer, action="run", file=tmp_path / "pipeline.yaml", poll_seconds=0.01, no_logs=True)
    with pytest.raises(BlueprintError) as refused:
        pipeline_cli.run(args, connect=lambda cluster: pytest.fail("checked before connecting"))
    assert refused.value.problems == [
        f"{tmp_path / 'pipeline.yaml'}:11: step train (pytorch-distributed): the pytorch-distributed template runs a "
        f"Kubeflow Trainer TrainJob: set enable_kubeflow_trainer = true"]


RAY_BLUEPRINT = """enable_kueue = true
enable_kuberay_operator = true
nodepools = {
  cpu = { enabled = true }
}
"""
RAY_PIPELINE = """name: demo
steps:
  - name: tokenize
    template: ray-data-process
    recipe:
      image: rayproject/ray:2.52.0
      ray:
        version: "2.52.0"
      resources:
        nnodes: 3
        requests:
          cpu: "4"
      process:
        command: [python]
        args: [tokenize.py]
"""


def ray_pipeline(tmp_path: Path) -> Any:
    return load_text(tmp_path, RAY_BLUEPRINT, RAY_PIPELINE)


def test_a_ray_step_runs_a_rayjob_follows_its_pods_and_deletes_it(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-tokenize", F.PodScript.succeeds(log=("Tokenized 1000 rows",)))
    fake.kueue_admits_after("rayjobs", NS, "demo-tokenize", 1)
    logs, said = io.StringIO(), []
    result = Runner(api, say=said.append, poll_seconds=0.01, logs=logs).run(ray_pipeline(tmp_path))
    assert (result["status"], result["exit_code"]) == ("succeeded", 0), result
    [step] = result["steps"]
    assert (step["kind"], step["object"], step["pool"], step["queue"], step["cleaned_up"]) == (
        "RayJob", "demo-tokenize", "cpu", "cpu", True)
    # A head, two workers and the submitter, found by KubeRay's origin label; at the end only the submitter is left
    # (shutdownAfterJobFinishes deleted the cluster).
    assert any(re.fullmatch(r"step tokenize: running after \d+ s \(4 pod\(s\)\)", m) for m in said), said
    assert list(step["pods"].values()) == ["Succeeded"]
    assert created(fake) == ["POST rayjobs demo-tokenize", "DELETE rayjobs demo-tokenize"]
    assert fake.names("rayjobs") == [] and fake.names("pods") == []
    assert [re.sub(r"/demo-\S+\] ", "] ", line) for line in logs.getvalue().splitlines()
            if "Tokenized" in line] == ["[tokenize] Tokenized 1000 rows"]
    post = next(r for r in fake.requests if r.method == "POST" and r.resource == "rayjobs")
    assert post.body["spec"]["suspend"] is True and post.body["spec"]["shutdownAfterJobFinishes"] is True


def test_a_failed_ray_job_fails_the_step_with_rays_message(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-tokenize", F.PodScript.fails(log=("KeyError: 'text'",)))
    result = runner(api).run(ray_pipeline(tmp_path))
    assert (result["status"], result["exit_code"]) == ("failed", 1)
    [step] = result["steps"]
    assert step["message"].startswith("RayJob failed: AppFailed: Job entrypoint command failed with exit code 1")
    assert "KeyError: 'text'" in step["message"] and step["cleaned_up"] is True
    assert fake.names("rayjobs") == [] and fake.names("pods") == []


SERVE_BLUEPRINT = """enable_kueue = true
enable_fsx = true
nodepools = {
  cpu = { enabled = true }
}
"""
SERVE_PIPELINE = """name: demo
steps:
  - name: prepare
    template: data-process
    recipe:
      image: public.ecr.aws/docker/library/busybox:1.37
      process:
        command: [echo]
        args: [prepared]
  - name: evaluate
    template: vllm-serve
    pending_timeout: {pending}
    recipe:
      resources:
        limits:
          nvidia.com/gpu: 1
      vllm:
        model: /fsx/models/demo
      process:
        command: [python]
        args: [evaluate.py]
"""


def serve_pipeline(tmp_path: Path, pending: str = "30m") -> Any:
    return load_text(tmp_path, SERVE_BLUEPRINT, SERVE_PIPELINE.format(pending=pending))


def test_a_serving_step_runs_its_command_beside_the_vllm_sidecar_completes_with_it_and_is_deleted(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript.succeeds())
    fake.script_pods(NS, "demo-evaluate", F.PodScript.succeeds(running=2, log=("base 0.412", "sft 0.538")))
    fake.kueue_admits_after("jobs", NS, "demo-evaluate", 1)
    logs, said = io.StringIO(), []
    result = Runner(api, say=said.append, poll_seconds=0.01, logs=logs).run(serve_pipeline(tmp_path))
    assert (result["status"], result["exit_code"]) == ("succeeded", 0), result
    assert [(s["name"], s["template"], s["kind"], s["pool"], s["queue"], s["status"], s["cleaned_up"])
            for s in result["steps"]] == [
        ("prepare", "data-process", "Job", "cpu", "cpu", "succeeded", True),
        ("evaluate", "vllm-serve", "Job", "gpu", "gpu", "succeeded", True)]
    assert list(result["steps"][1]["pods"].values()) == ["Succeeded"]
    assert created(fake) == ["POST jobs demo-prepare", "DELETE jobs demo-prepare", "POST jobs demo-evaluate",
                             "DELETE jobs demo-evaluate"]
    assert fake.names("jobs") == [] and fake.names("pods") == []
    # The command's output is what the runner follows (the main container, named in the log request).
    assert [re.sub(r"/demo-\S+\] ", "] ", line) for line in logs.getvalue().splitlines()
            if line.startswith("[evaluate/")] == ["[evaluate] base 0.412", "[evaluate] sft 0.538"]
    log_requests = [r for r in fake.requests if r.subresource == "log" and r.name.startswith("demo-evaluate")]
    assert {r.query.get("container") for r in log_requests} == {"process"}
    post = next(r for r in fake.requests if r.method == "POST" and r.resource == "jobs"
                and r.body["metadata"]["name"] == "demo-evaluate")
    pod = post.body["spec"]["template"]["spec"]
    assert post.body["spec"]["suspend"] is True
    assert [(c["name"], c.get("restartPolicy")) for c in pod["initContainers"]] == [("vllm", "Always")]
    assert [c["name"] for c in pod["containers"]] == ["process"]


def test_a_serving_step_whose_command_fails_stops_the_pipeline_with_exit_1_and_is_deleted(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript.succeeds())
    fake.script_pods(NS, "demo-evaluate", F.PodScript.fails(log=("openai.APIConnectionError",), exit_code=1))
    result = runner(api).run(serve_pipeline(tmp_path))
    assert (result["status"], result["exit_code"]) == ("failed", 1)
    prepare, evaluate = result["steps"]
    assert (prepare["status"], evaluate["status"], evaluate["cleaned_up"]) == ("succeeded", "failed", True)
    # The main container's exit is the verdict; the sidecar the kubelet stopped (exit 0) is not blamed.
    assert re.fullmatch(r"Job failed: Job has reached the specified backoff limit \(demo-evaluate-\w{5}: exited 1 "
                        r"\(Error\)\)", evaluate["message"]), evaluate["message"]
    assert created(fake) == ["POST jobs demo-prepare", "DELETE jobs demo-prepare", "POST jobs demo-evaluate",
                             "DELETE jobs demo-evaluate"]
    assert fake.names("jobs") == [] and fake.names("pods") == []


def test_a_serving_step_whose_server_never_starts_fails_at_its_pending_timeout_naming_the_sidecar(
        tmp_path: Path, fake: F.FakeKubeApi, api: client.ApiClient) -> None:
    fake.script_pods(NS, "demo-prepare", F.PodScript.succeeds())
    fake.script_pods(NS, "demo-evaluate", F.PodScript.sidecar_never_starts(
        "back-off 40s restarting failed container=vllm"))
    result = runner(api).run(serve_pipeline(tmp_path, pending="0.3"))
    assert (result["status"], result["exit_code"]) == ("failed", 1)
    evaluate = result["steps"][1]
    assert evaluate["status"] == "timed out"
    assert re.fullmatch(
        r"not running after \d+ s \(pending_timeout 0 s\): its pods are on a node but not running "
        r"\((demo-evaluate-\w{5}): container vllm: CrashLoopBackOff: back-off 40s restarting failed container=vllm "
        r"\(last exited 1\)\); its command starts once the vllm sidecar passes its startup probe: see kubectl logs "
        r"-n ml-workloads \1 -c vllm", evaluate["message"]), evaluate["message"]
    assert evaluate["cleaned_up"] is True and fake.names("jobs") == [] and fake.names("pods") == []
