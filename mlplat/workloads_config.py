"""Blueprint keys of what users' workloads get from the platform: the operators that run Ray, training jobs and
multi-node serving on the pools, and the secrets they may read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from mlplat.schema import field

# Secrets Manager secret names (letters, digits and /_+=.@-).
SECRET_NAME = r"[A-Za-z0-9/_+=.@-]{1,512}"
_K8S_NAME = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


@dataclass(frozen=True)
class WorkloadSecret:
    """A Secrets Manager secret the user owns, copied into workload namespaces as a Kubernetes Secret."""

    secret: str = field("", "Name of the Secrets Manager secret (you create and rotate it; its value never enters "
                            "the blueprint, synth output or terraform state).",
                        pattern=SECRET_NAME, pattern_doc="a Secrets Manager secret name")
    key: str = field("value", "Key of the Kubernetes Secret that holds the secret's whole value.",
                     pattern=r"[-._a-zA-Z0-9]+", pattern_doc="a Secret key (letters, digits, '-', '_' or '.')")
    namespaces: tuple[str, ...] = field((), "Workload namespaces to copy it into; empty: every one of "
                                            "workload_namespaces.", unique=True)
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


# S3 bucket names, and s3://bucket/prefix/ locations (a prefix ends with '/', so team-a/ never covers team-ab/).
BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
S3_PREFIX = rf"s3://{BUCKET}/([^\s*?]+/)?"
# The Kubernetes service account, in each namespace of workload_s3_access, that carries the namespace's S3 role.
WORKLOAD_SERVICE_ACCOUNT = "ml-workload"
IAM_ROLE_NAME_MAX = 64


@dataclass(frozen=True)
class WorkloadS3Access:
    """What the pods of one workload namespace running as its `ml-workload` service account may do in S3."""

    read_buckets: tuple[str, ...] = field((), "Buckets they may list and read.", unique=True, pattern=BUCKET,
                                          pattern_doc="an S3 bucket name")
    write_prefixes: tuple[str, ...] = field(
        (), "Locations they may list, read, write and delete under, as s3://bucket/prefix/ (or s3://bucket/ for "
            "the whole bucket).", unique=True, pattern=S3_PREFIX,
        pattern_doc="an S3 location such as 's3://ml-artifacts/team-a/' (ending with '/')")
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


def workload_role_name(platform: str, namespace: str) -> str:
    return f"{platform}-workload-{namespace}"


@dataclass(frozen=True)
class WorkloadKeys:
    enable_kuberay_operator: bool = field(
        False, "Install the KubeRay operator (RayCluster, RayJob, RayService) on the system nodes; with Kueue, Ray "
        "clusters, jobs and services queue through the LocalQueues.",
    )
    enable_kubeflow_trainer: bool = field(
        False, "Install Kubeflow Trainer v2 (TrainJob) with JobSet on the system nodes, and a PyTorch "
        "ClusterTrainingRuntime per enabled accelerator pool (torch-gpu, torch-gpu-efa, torch-neuron) placed on it with "
        "the shared volumes mounted; with Kueue, TrainJobs queue through the LocalQueues.",
    )
    enable_leader_worker_set: bool = field(
        False, "Install LeaderWorkerSet (a leader pod and its workers deployed, scaled and restarted as one unit, for "
        "multi-node inference); with Kueue, each group is admitted as one workload.",
    )
    workload_s3_access: Mapping[str, WorkloadS3Access] = field(
        MappingProxyType({}), "S3 access of the workloads of a namespace, by workload namespace: pods running as the "
        f"service account {WORKLOAD_SERVICE_ACCOUNT!r} there (the platform creates it) get an IAM role through Pod "
        "Identity that may read the listed buckets and write under the listed prefixes, and nothing else.",
        key_pattern=_K8S_NAME, key_pattern_doc="a workload namespace",
    )
    workload_secrets: Mapping[str, WorkloadSecret] = field(
        MappingProxyType({}), "Your Secrets Manager secrets (a Hugging Face token, an API key) that External Secrets "
        "copies into workload namespaces, each as a Kubernetes Secret named by its key here; the platform's External "
        "Secrets role may read exactly these secrets (a secret under your own KMS key also needs that key's policy to "
        "let the role decrypt).", key_pattern=_K8S_NAME, key_pattern_doc="a Kubernetes Secret name such as 'hf-token'",
    )

    def _rules_workloads(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        namespaces = self.workload_namespaces  # type: ignore[attr-defined]
        for ns, access in self.workload_s3_access.items():
            if ns not in namespaces:
                out.append((("workload_s3_access", ns), f"expected one of workload_namespaces "
                                                        f"({', '.join(namespaces) or 'none'}), got {ns!r}; add it there"))
            if not access.read_buckets and not access.write_prefixes:
                out.append((("workload_s3_access", ns), "grants nothing: list read_buckets or write_prefixes"))
            role = workload_role_name(self.name, ns)  # type: ignore[attr-defined]
            if len(role) > IAM_ROLE_NAME_MAX:
                out.append((("workload_s3_access", ns), f"its IAM role name {role!r} is {len(role)} characters, over "
                                                        f"IAM's {IAM_ROLE_NAME_MAX}: use a shorter namespace"))
        for name, ws in self.workload_secrets.items():
            if not ws.secret:
                out.append((("workload_secrets", name, "secret"),
                            "required key is missing: the name of the Secrets Manager secret to copy"))
            for i, ns in enumerate(ws.namespaces):
                if ns not in namespaces:
                    out.append((("workload_secrets", name, "namespaces", f"[{i}]"),
                                f"expected one of workload_namespaces ({', '.join(namespaces) or 'none'}), got {ns!r}; "
                                f"add it to workload_namespaces or remove it here"))
            if not ws.namespaces and not namespaces:
                out.append((("workload_secrets", name), "no namespace to copy it into: workload_namespaces is empty"))
        return out

    def workload_secret_namespaces(self, name: str) -> tuple[str, ...]:
        ws = self.workload_secrets[name]
        return ws.namespaces or tuple(self.workload_namespaces)  # type: ignore[attr-defined]
