"""Run a pipeline's steps in order through the Kubernetes API: submit a step, wait for it, stream its pods' logs,
and delete it again, always: when it succeeds, when it fails, when it times out, and on SIGINT or SIGTERM.

Upstream MLOps on EKS waits on a Helm release's pods until none is Pending or Running and calls a Failed pod a failed
step. Here a step's outcome is its workload's own verdict (the Job's or the TrainJob's `Complete` or `Failed`
condition, the RayJob's jobDeploymentStatus and jobStatus), so a pod the Job controller retries within
`backoff_limit` does not fail it; the pods tell how far it got. Two clocks bound a step, both from its submission:
`pending_timeout` until one of its pods runs (Kueue's admission and the node's launch included) and `timeout` until
it finishes.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api, CustomObjectsApi, V1DeleteOptions
from kubernetes.client.exceptions import ApiException

from mlplat.errors import MlplatError
from mlplat.pipelines.pipeline import Pipeline, Step

SUCCEEDED, FAILED, TIMED_OUT, INTERRUPTED, SKIPPED = "succeeded", "failed", "timed out", "interrupted", "skipped"
LOG_DRAIN_SECONDS = 10.0  # after a step ends, how long its log streams may take to deliver their last lines


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class StepOutcome:
    name: str
    template: str
    kind: str
    object: str
    pool: str
    queue: str | None
    status: str = SKIPPED
    message: str = ""
    seconds: float | None = None  # submission to the end
    pending_seconds: float | None = None  # submission to the first running pod
    pods: dict[str, str] = field(default_factory=dict)  # name -> last phase seen
    cleaned_up: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class _Workloads:
    """Create, read and delete a step's workload, whichever API serves its kind."""

    def __init__(self, api_client: ApiClient) -> None:
        self.batch = BatchV1Api(api_client)
        self.custom = CustomObjectsApi(api_client)

    def create(self, obj: dict[str, Any]) -> None:
        ns = obj["metadata"]["namespace"]
        if obj["kind"] == "Job":
            self.batch.create_namespaced_job(ns, obj)
        else:
            group, version = obj["apiVersion"].split("/")
            self.custom.create_namespaced_custom_object(group, version, ns, PLURALS[obj["kind"]], obj)

    def get(self, obj: dict[str, Any]) -> dict[str, Any]:
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        if obj["kind"] == "Job":
            return self.batch.api_client.sanitize_for_serialization(self.batch.read_namespaced_job(name, ns))
        group, version = obj["apiVersion"].split("/")
        return self.custom.get_namespaced_custom_object(group, version, ns, PLURALS[obj["kind"]], name)

    def delete(self, obj: dict[str, Any]) -> None:
        """Delete it and, through the garbage collector, everything it created (pods, JobSets)."""
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        options = V1DeleteOptions(propagation_policy="Background")
        if obj["kind"] == "Job":
            self.batch.delete_namespaced_job(name, ns, body=options)
        else:
            group, version = obj["apiVersion"].split("/")
            self.custom.delete_namespaced_custom_object(group, version, ns, PLURALS[obj["kind"]], name, body=options)


PLURALS = {"TrainJob": "trainjobs", "RayJob": "rayjobs"}


def _condition(obj: dict[str, Any]) -> tuple[str, str] | None:
    """("Complete" or "Failed", message) once the workload's controller has decided."""
    if obj.get("kind") == "RayJob":
        return _ray_verdict(obj.get("status") or {})
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"], cond.get("message") or cond.get("reason") or ""
    return None


def _ray_verdict(status: dict[str, Any]) -> tuple[str, str] | None:
    """KubeRay v1.7.0 (rayjob_controller.go): jobDeploymentStatus Complete once the Ray job ended SUCCEEDED or STOPPED
    (and its submitter finished), Failed when the job FAILED (reason AppFailed) or the submission, a deadline or the
    head failed; `message` is Ray's or KubeRay's account of it."""
    deployment, job = status.get("jobDeploymentStatus"), status.get("jobStatus")
    message = status.get("message") or ""
    if deployment == "Complete":
        if job == "SUCCEEDED":
            return "Complete", message
        return "Failed", f"the Ray job ended {job or 'without a status'}" + (f": {message}" if message else "")
    if deployment == "Failed":
        reason = status.get("reason") or "Failed"
        return "Failed", f"{reason}: {message}" if message else reason
    return None


def _pod_problem(pod: dict[str, Any]) -> str:
    """Why a pod is not running, as `kubectl describe` would show it first: its main containers' state, then its
    init containers' (a sidecar that never starts holds the main containers at PodInitializing), then the
    scheduler's reason."""
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            return f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated:
            return f"exited {terminated.get('exitCode')} ({terminated.get('reason', '')})"
    for cs in status.get("initContainerStatuses") or []:
        state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            exited = f" (last exited {last.get('exitCode')})" if last else ""
            why = f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
            return f"container {cs.get('name')}: {why}{exited}"
        if terminated and terminated.get("exitCode") != 0:
            return f"container {cs.get('name')} exited {terminated.get('exitCode')} ({terminated.get('reason', '')})"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return f"{cond.get('reason', 'Unschedulable')}: {cond.get('message', '')}".rstrip(": ")
    return status.get("phase") or "Pending"


class _LogStreams:
    """One thread per pod following its log (`?follow=true`); lines go to `out` prefixed with step and pod."""

    def __init__(self, core: CoreV1Api, out: TextIO, step: str) -> None:
        self.core, self.out, self.step = core, out, step
        self.threads: dict[str, threading.Thread] = {}
        self.lock = threading.Lock()

    def follow(self, namespace: str, pod: str, container: str) -> None:
        if pod in self.threads:
            return
        thread = threading.Thread(target=self._follow, args=(namespace, pod, container), daemon=True,
                                  name=f"log-{pod}")
        self.threads[pod] = thread
        thread.start()

    def _follow(self, namespace: str, pod: str, container: str) -> None:
        try:
            response = self.core.read_namespaced_pod_log(pod, namespace, container=container, follow=True,
                                                         _preload_content=False)
            pending = b""
            for chunk in response.stream(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._write(pod, line.decode("utf-8", "replace"))
            if pending:
                self._write(pod, pending.decode("utf-8", "replace"))
        except Exception as exc:  # noqa: BLE001 - a log stream that breaks must not stop the step
            self._write(pod, f"(log stream ended: {exc.__class__.__name__})")

    def _write(self, pod: str, line: str) -> None:
        with self.lock:
            self.out.write(f"[{self.step}/{pod}] {line}\n")
            self.out.flush()

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for thread in self.threads.values():
            thread.join(max(0.0, deadline - time.monotonic()))


@dataclass
class Runner:
    api_client: ApiClient
    say: Callable[[str], None]
    poll_seconds: float = 5.0
    logs: TextIO | None = None  # where pods' logs go; None: not streamed
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.core = CoreV1Api(self.api_client)
        self.workloads = _Workloads(self.api_client)

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        outcomes = [StepOutcome(s.spec.name, s.spec.template, s.rendered.workload["kind"],
                                s.rendered.workload["metadata"]["name"], s.rendered.pool, s.rendered.queue)
                    for s in pipeline.steps]
        status = SUCCEEDED
        with _signals_raise() as guard:
            for step, outcome in zip(pipeline.steps, outcomes):
                try:
                    self._run_step(step, outcome)
                except Interrupted as exc:
                    outcome.status, outcome.message = INTERRUPTED, f"{exc} received; the step was deleted"
                    status = INTERRUPTED
                except MlplatError as exc:
                    outcome.status, outcome.message = FAILED, str(exc)
                finally:
                    with guard.deferred():  # a signal now must not cut the cleanup short
                        self._clean_up(step, outcome)
                if guard.pending is not None and status != INTERRUPTED:
                    status = INTERRUPTED
                    if outcome.status == SUCCEEDED:
                        outcome.message += f"; {signal.Signals(guard.pending).name} received, the pipeline stops"
                if outcome.status != SUCCEEDED or status == INTERRUPTED:
                    status = INTERRUPTED if status == INTERRUPTED else FAILED
                    break
        return {"pipeline": pipeline.name, "namespace": pipeline.namespace, "status": status,
                "steps": [o.as_dict() for o in outcomes],
                "exit_code": {SUCCEEDED: 0, FAILED: 1, INTERRUPTED: 130}[status]}

    def _run_step(self, step: Step, outcome: StepOutcome) -> None:
        rendered, spec = step.rendered, step.spec
        workload = rendered.workload
        ns, name = workload["metadata"]["namespace"], workload["metadata"]["name"]
        self.say(f"step {spec.name}: submitting {workload['kind']} {ns}/{name} on pool {rendered.pool}"
                 + (f", queue {rendered.queue}" if rendered.queue else ""))
        submitted = self.clock()
        outcome.seconds = 0.0
        try:
            self.workloads.create(workload)
        except ApiException as exc:
            outcome.cleaned_up = False  # nothing of ours to delete: it may be someone else's
            if exc.status == 409:
                raise MlplatError(f"step {spec.name}: {workload['kind']} {ns}/{name} exists already (a previous run "
                                  f"still going, or left behind): delete it (kubectl delete {workload['kind'].lower()} "
                                  f"-n {ns} {name}) or wait for it") from None
            raise MlplatError(f"step {spec.name}: the API refused the {workload['kind']} ({exc.status} {exc.reason}): "
                              f"{_api_message(exc)}") from None
        streams = _LogStreams(self.core, self.logs, spec.name) if self.logs is not None else None
        running_seen = False
        try:
            while True:
                elapsed = self.clock() - submitted
                outcome.seconds = elapsed
                current = self._get(workload)
                pods = self.core.list_namespaced_pod(ns, label_selector=rendered.pod_selector).items
                pods = [self.api_client.sanitize_for_serialization(p) for p in pods]
                outcome.pods = {p["metadata"]["name"]: (p.get("status") or {}).get("phase", "Pending") for p in pods}
                if streams is not None:
                    for pod in pods:
                        if outcome.pods[pod["metadata"]["name"]] in ("Running", "Succeeded", "Failed"):
                            streams.follow(ns, pod["metadata"]["name"],
                                           rendered.container or pod["spec"]["containers"][0]["name"])
                if not running_seen and any(phase in ("Running", "Succeeded", "Failed")
                                            for phase in outcome.pods.values()):
                    running_seen = True
                    outcome.pending_seconds = elapsed
                    self.say(f"step {spec.name}: running after {elapsed:.0f} s ({len(pods)} pod(s))")
                verdict = _condition(current)
                if verdict is not None:
                    kind, message = verdict
                    if kind == "Complete":
                        outcome.status, outcome.message = SUCCEEDED, f"completed in {elapsed:.0f} s"
                    else:
                        failed = [f"{p['metadata']['name']}: {_pod_problem(p)}" for p in pods
                                  if outcome.pods[p["metadata"]["name"]] == "Failed"]
                        outcome.status = FAILED
                        outcome.message = f"{workload['kind']} failed: {message}" + (
                            f" ({'; '.join(failed)})" if failed else "")
                    self.say(f"step {spec.name}: {outcome.status}: {outcome.message}")
                    return
                if not running_seen and elapsed > spec.pending_timeout:
                    outcome.status = TIMED_OUT
                    outcome.message = (f"not running after {elapsed:.0f} s (pending_timeout {spec.pending_timeout:.0f}"
                                       f" s): {self._why_pending(step, current, pods)}")
                    self.say(f"step {spec.name}: {outcome.message}")
                    return
                if elapsed > spec.timeout:
                    outcome.status = TIMED_OUT
                    outcome.message = f"not finished after {elapsed:.0f} s (timeout {spec.timeout:.0f} s)"
                    self.say(f"step {spec.name}: {outcome.message}")
                    return
                self.sleep(self.poll_seconds)
        finally:
            if streams is not None:
                streams.drain(LOG_DRAIN_SECONDS if outcome.status == SUCCEEDED else 1.0)

    def _get(self, workload: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.workloads.get(workload)
        except ApiException as exc:
            if exc.status == 404:
                meta = workload["metadata"]
                raise MlplatError(f"{workload['kind']} {meta['namespace']}/{meta['name']} was deleted while the "
                                  f"pipeline waited on it (by someone else); the pipeline stops") from None
            raise

    def _why_pending(self, step: Step, current: dict[str, Any], pods: list[dict[str, Any]]) -> str:
        rendered = step.rendered
        ns = rendered.workload["metadata"]["namespace"]
        if (current.get("spec") or {}).get("suspend"):
            return (f"Kueue has not admitted it: LocalQueue {rendered.queue!r} in {ns} has no free quota on the "
                    f"{rendered.pool} pool, or its ClusterQueue is inactive (kubectl get workloads -n {ns} says "
                    f"which); raise pending_timeout to wait longer")
        if not pods:
            operator = {"TrainJob": "Kubeflow Trainer", "RayJob": "the KubeRay operator"}.get(
                rendered.workload["kind"], "the Job controller")
            return f"no pods were created: check that {operator} is running"
        pending = [f"{p['metadata']['name']}: {_pod_problem(p)}" for p in pods]
        placed = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
        if placed:
            pod = placed[0]
            sidecars = [c["name"] for c in pod["spec"].get("initContainers") or []
                        if c.get("restartPolicy") == "Always"]
            why = (f"its command starts once the {sidecars[0]} sidecar passes its startup probe: see kubectl logs -n "
                   f"{ns} {pod['metadata']['name']} -c {sidecars[0]}" if sidecars
                   else f"see kubectl describe pod -n {ns} {pod['metadata']['name']}")
            return f"its pods are on a node but not running ({'; '.join(pending)}); {why}"
        return (f"its pods are not scheduled ({'; '.join(pending)}); Karpenter launches {rendered.pool} nodes "
                f"within the pool's limits and offerings (kubectl get nodeclaims)")

    def _clean_up(self, step: Step, outcome: StepOutcome) -> None:
        if outcome.cleaned_up is False:
            return  # never created by this run
        workload = step.rendered.workload
        try:
            self.workloads.delete(workload)
            outcome.cleaned_up = True
        except ApiException as exc:
            outcome.cleaned_up = exc.status == 404
            if exc.status != 404:
                self.say(f"step {step.spec.name}: could not delete {workload['kind']} "
                         f"{workload['metadata']['name']}: {exc.status} {_api_message(exc)}; delete it by hand")
        else:
            self.say(f"step {step.spec.name}: deleted {workload['kind']} {workload['metadata']['name']}")


def _api_message(exc: ApiException) -> str:
    import json

    try:
        return json.loads(exc.body or "{}").get("message") or exc.reason
    except ValueError:
        return exc.reason or ""


class _SignalGuard:
    def __init__(self) -> None:
        self.defer = False
        self.pending: int | None = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.defer:
            self.pending = signum
            return
        raise Interrupted(signum)

    def deferred(self) -> "_Deferred":
        return _Deferred(self)


class _Deferred:
    def __init__(self, guard: _SignalGuard) -> None:
        self.guard = guard

    def __enter__(self) -> None:
        self.guard.defer = True

    def __exit__(self, *exc: object) -> None:
        self.guard.defer = False  # a signal that came meanwhile stays in guard.pending for the caller


class _signals_raise:
    """SIGINT and SIGTERM raise Interrupted in the main thread while the pipeline runs (outside the main thread,
    where Python cannot install handlers, they keep their meaning)."""

    def __enter__(self) -> _SignalGuard:
        self.guard = _SignalGuard()
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self.guard.handler)
        return self.guard

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def say_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
