"""Run a pipeline rendered by `mlplat pipeline render --json` from inside the cluster (an Airflow task pod).

Each step's workload (a Job, a Kubeflow Trainer TrainJob or a KubeRay RayJob, created suspended and queued by Kueue
as rendered) is submitted in order, waited on until its controller decides, and deleted whatever happens; a failed
or timed-out step stops the pipeline. These are the verdicts `mlplat pipeline run` uses (mlplat/pipelines/run.py);
the pod-level diagnosis and log streaming stay with that command. No Airflow import: tests run this module against
the platform's fake Kubernetes API.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api, CustomObjectsApi, V1DeleteOptions

STEP_LABEL = "mlplat.io/step"
PLURALS = {"TrainJob": "trainjobs", "RayJob": "rayjobs"}
# The label each controller puts on the pods it creates for a workload (as mlplat/pipelines/steps.py selects them):
# the Job controller, JobSet (under a TrainJob, named after it) and KubeRay.
POD_LABELS = {"Job": "batch.kubernetes.io/job-name", "TrainJob": "jobset.sigs.k8s.io/jobset-name",
              "RayJob": "ray.io/originated-from-cr-name"}


class StepFailed(RuntimeError):
    pass


def steps(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    """The workloads of `mlplat pipeline render --json`'s result, in order; refuses anything else."""
    objects = rendered.get("objects")
    if not isinstance(objects, list) or not objects:
        raise ValueError("expected the JSON result of `mlplat pipeline render FILE --json` (an 'objects' list)")
    for obj in objects:
        if obj.get("kind") not in ("Job", *PLURALS):
            raise ValueError(f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: not a pipeline step "
                             f"(Job, TrainJob or RayJob)")
    return objects


def verdict(obj: dict[str, Any]) -> tuple[str, str] | None:
    """("Complete" | "Failed", message) once the workload's controller has decided, else None."""
    status = obj.get("status") or {}
    if obj.get("kind") == "RayJob":
        deployment, job = status.get("jobDeploymentStatus"), status.get("jobStatus")
        if deployment == "Complete":
            return ("Complete", "") if job == "SUCCEEDED" else ("Failed", f"the Ray job ended {job}")
        if deployment == "Failed":
            return "Failed", f"{status.get('reason', 'Failed')}: {status.get('message', '')}".rstrip(": ")
        return None
    for cond in status.get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"], cond.get("message") or cond.get("reason") or ""
    return None


class Workloads:
    def __init__(self, api_client: ApiClient) -> None:
        self.batch, self.custom = BatchV1Api(api_client), CustomObjectsApi(api_client)
        self.core = CoreV1Api(api_client)

    def pod_phases(self, obj: dict[str, Any]) -> dict[str, str]:
        """Each of the workload's pods and its phase."""
        selector = f"{POD_LABELS[obj['kind']]}={obj['metadata']['name']}"
        pods = self.core.list_namespaced_pod(obj["metadata"]["namespace"], label_selector=selector).items
        return {p.metadata.name: p.status.phase for p in pods}

    def _custom(self, obj: dict[str, Any]) -> tuple[str, str, str, str]:
        group, version = obj["apiVersion"].split("/")
        return group, version, obj["metadata"]["namespace"], PLURALS[obj["kind"]]

    def create(self, obj: dict[str, Any]) -> None:
        if obj["kind"] == "Job":
            self.batch.create_namespaced_job(obj["metadata"]["namespace"], obj)
        else:
            self.custom.create_namespaced_custom_object(*self._custom(obj), obj)

    def get(self, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        if obj["kind"] == "Job":
            job = self.batch.read_namespaced_job(name, obj["metadata"]["namespace"])
            return self.batch.api_client.sanitize_for_serialization(job)
        return self.custom.get_namespaced_custom_object(*self._custom(obj), name)

    def delete(self, obj: dict[str, Any]) -> None:
        name, options = obj["metadata"]["name"], V1DeleteOptions(propagation_policy="Background")
        if obj["kind"] == "Job":
            self.batch.delete_namespaced_job(name, obj["metadata"]["namespace"], body=options)
        else:
            self.custom.delete_namespaced_custom_object(*self._custom(obj), name, body=options)


def run_pipeline(api_client: ApiClient, rendered: dict[str, Any], *, timeout_seconds: float = 24 * 3600,
                 poll_seconds: float = 10, say: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic) -> list[dict[str, Any]]:
    """Run every step in order; raise StepFailed at the first that fails or outlives `timeout_seconds`."""
    workloads, done = Workloads(api_client), []
    for obj in steps(rendered):
        step = obj["metadata"].get("labels", {}).get(STEP_LABEL, obj["metadata"]["name"])
        what = f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"
        say(f"step {step}: submitting {what}")
        started = clock()
        workloads.create(obj)
        try:
            phases: dict[str, str] = {}
            while (decided := verdict(workloads.get(obj))) is None:
                if (now := workloads.pod_phases(obj)) != phases:  # the task log shows the pods as they go
                    phases = now
                    say(f"step {step}: pods " + (", ".join(f"{n} {p}" for n, p in sorted(now.items())) or "none yet"))
                if clock() - started > timeout_seconds:
                    raise StepFailed(f"step {step}: {what} did not finish within {timeout_seconds:g} s")
                time.sleep(poll_seconds)
            outcome, message = decided
            say(f"step {step}: {outcome}" + (f" ({message})" if message else ""))
            done.append({"step": step, "kind": obj["kind"], "status": outcome, "seconds": round(clock() - started, 1)})
            if outcome != "Complete":
                raise StepFailed(f"step {step}: {what} failed: {message or 'no message'}")
        finally:
            workloads.delete(obj)
            say(f"step {step}: deleted {what}")
    return done
