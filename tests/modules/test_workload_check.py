"""`mlplat validate --workload FILE`: workload manifests checked against the blueprint before they reach a cluster.
Every shipped example runs on the everything-on blueprint; each way a workload cannot run on a blueprint exits 2 with
file:line, the object, and the key that fixes it."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from mlplat.cli import main
from tests.support.paths import ROOT

EXAMPLES = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "examples").glob("*/*.yaml")])
EVERYTHING = ROOT / "blueprints" / "everything-on.tfvars"
OPERATORS = 'enable_kueue = true\nenable_kuberay_operator = true\nenable_kubeflow_trainer = true\n' \
            'enable_leader_worker_set = true\n'


def run(blueprint: Path, *workloads: Path, json_out: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = ["validate", "--blueprint-only", "--blueprint", str(blueprint)]
    args += [a for w in workloads for a in ("--workload", str(w))]
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*args, "--json"] if json_out else args)
    return code, out.getvalue(), err.getvalue()


def test_every_example_runs_on_the_everything_on_blueprint():
    code, out, err = run(EVERYTHING, *EXAMPLES, json_out=True)
    assert (code, err) == (0, "")
    kinds = {(w["kind"], w["name"]) for w in json.loads(out)["workloads"]}
    assert {("RayJob", "ray-train-gpu"), ("TrainJob", "ddp-efa"), ("LeaderWorkerSet", "vllm-multi-node"),
            ("Job", "gpu-smoke-test"), ("Deployment", "resnet50-inf1")} <= kinds
    assert not {k for k, _ in kinds} & {"ConfigMap", "Service", "PodDisruptionBudget"}  # only what runs pods


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def job(labels: str = "", selector: str = "", requests: str = "cpu: \"1\"", namespace: str = "ml-workloads") -> str:
    return f"""apiVersion: batch/v1
kind: Job
metadata:
  name: j
  namespace: {namespace}
  labels: {{{labels}}}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {{{selector}}}
      containers:
        - name: c
          image: i
          resources:
            requests: {{{requests}}}
"""


EX = ROOT / "examples"


@pytest.mark.parametrize(("blueprint", "workload", "expected"), [
    ("", EX / "ray-train-gpu.yaml",
     "{w}:38: RayJob/ray-train-gpu: needs the RayJob operator: set enable_kuberay_operator = true in the blueprint"),
    (OPERATORS, EX / "trainjob-gpu-efa.yaml",
     "{w}:7: TrainJob/ddp-efa: runtime 'torch-gpu-efa' is not installed by this blueprint: enable its pool "
     "(nodepools.gpu-efa.enabled = true)"),
    (OPERATORS, EX / "vllm-multi-node-lws.yaml",
     "{w}:7: LeaderWorkerSet/vllm-multi-node: no queue 'gpu-efa': the default queues follow the enabled pools; set "
     "nodepools.gpu-efa.enabled = true or use one of gpu"),
    ("", EX / "kueue" / "gpu-job.yaml",
     "{w}:11: Job/gpu-smoke-test: is labelled for Kueue queue 'gpu' but Kueue is off: set enable_kueue = true or "
     "remove the label"),
    ("", EX / "neuron-training.yaml",
     "{w}:33: Job/neuron-mlp: its pods fit no enabled node pool: nodepools.neuron.enabled = true"),
])
def test_a_workload_the_blueprint_cannot_run_exits_2_with_the_fix(tmp_path, blueprint, workload, expected):
    bp = write(tmp_path, "bp.tfvars", blueprint)
    code, out, err = run(bp, workload)
    assert (code, out) == (2, "")
    assert err == f"error: {expected.format(w=workload)}\n"


@pytest.mark.parametrize(("text", "expected"), [
    (job(labels="kueue.x-k8s.io/queue-name: gpu", namespace="team-a"),
     "namespace 'team-a' has no LocalQueues: use one of workload_namespaces (ml-workloads) or add it there"),
    # A Neuron request on the gpu queue: neither its pool nor its quota can take it.
    (job(labels="kueue.x-k8s.io/queue-name: gpu", requests="cpu: \"1\", aws.amazon.com/neuron: 1"),
     ["its pods fit none of queue 'gpu''s pools (gpu): use a queue on the pool they need, or change their "
      "nodeSelector, tolerations or requests",
      "queue 'gpu' covers cpu, memory, nvidia.com/gpu but the pods request aws.amazon.com/neuron: Kueue would never "
      "admit it; use a queue on a pool that offers them"]),
    (job(labels="kueue.x-k8s.io/queue-name: gpu", selector="mlplat.io/pool: general"),
     "its pods fit none of queue 'gpu''s pools (gpu): use a queue on the pool they need, or change their "
     "nodeSelector, tolerations or requests"),
    (job(selector="team: a"),
     "its pods fit no enabled node pool: their nodeSelector, tolerations or requests match no pool of the platform"),
])
def test_a_queued_or_placed_job_is_checked_against_the_queues_and_pools(tmp_path, text, expected):
    bp = write(tmp_path, "bp.tfvars", "enable_kueue = true\n")
    workload = write(tmp_path, "job.yaml", text)
    code, _, err = run(bp, workload)
    messages = expected if isinstance(expected, list) else [expected]
    assert (code, err) == (2, "error: " + "".join(f"{workload}:1: Job/j: {m}\n" for m in messages))


@pytest.mark.parametrize(("kind", "expected"), [
    ("MPIJob", "the MPI Operator is not installed by mlplat (Kubeflow Trainer v2 takes over its role): run it as a "
               "TrainJob on runtime deepspeed-gpu (an mpirun launcher over SSH) or torch-gpu-efa (NCCL over EFA); see "
               "examples/nccl-allreduce-efa.yaml"),
    ("PyTorchJob", "Kubeflow's training operator v1 is not offered (maintenance-only): run it as a TrainJob on a "
                   "torch-* runtime with enable_kubeflow_trainer = true; see examples/trainjob-gpu-efa.yaml"),
])
def test_a_kind_whose_operator_is_not_offered_names_what_runs_it_here(tmp_path, kind, expected):
    bp = write(tmp_path, "bp.tfvars", OPERATORS)
    workload = write(tmp_path, "job.yaml", f"apiVersion: kubeflow.org/v1\nkind: {kind}\nmetadata:\n  name: j\n"
                                           "  namespace: ml-workloads\nspec: {}\n")
    assert run(bp, workload)[::2] == (2, f"error: {workload}:1: {kind}/j: {expected}\n")


def test_the_same_job_passes_where_it_can_run(tmp_path):
    """The negative cases above are not blind: the job they vary is accepted as it is."""
    bp = write(tmp_path, "bp.tfvars", "enable_kueue = true\n")
    workload = write(tmp_path, "job.yaml", job(labels="kueue.x-k8s.io/queue-name: gpu"))
    assert run(bp, workload)[0] == 0


def test_a_broken_or_missing_manifest_exits_2_with_its_line(tmp_path):
    bp = write(tmp_path, "bp.tfvars", "")
    broken = write(tmp_path, "broken.yaml", "kind: Job\nmetadata: [1, 2\n")
    code, _, err = run(bp, broken)
    assert code == 2 and err.startswith(f"error: {broken}:3: not valid YAML (") and "Traceback" not in err
    code, _, err = run(bp, tmp_path / "absent.yaml")
    assert (code, err) == (2, f"error: {tmp_path / 'absent.yaml'}: cannot read the workload file (No such file or "
                              f"directory); check the path\n")
