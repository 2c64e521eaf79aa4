"""How long the logs backend keeps logs (blueprint key `logs_retention_days`).

OpenSearch keeps every daily index until its disk reaches the flood-stage watermark; then it makes them read-only and
Fluent Bit's deliveries fail. So the platform gives it an Index State Management policy that deletes log indices
older than the retention, attached to new indices by the policy's ISM template and to existing ones by a Job that
runs after every install and upgrade (scripts/opensearch-ism.sh, with the generated admin credential, over verified
TLS). Loki's compactor deletes chunks older than the same retention (`_loki_values` in observability.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplat import versions

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

POLICY_ID = "mlplat-logs-retention"
JOB_NAME = "opensearch-log-retention"
SCRIPT = Path(__file__).parent / "scripts" / "opensearch-ism.sh"
# What the setup scripts share: the HTTP call and the wait for the cluster.
COMMON = Path(__file__).parent / "scripts" / "opensearch-common.sh"
CA_DIR = "/etc/opensearch-ca"


def ism_policy(bp: "Blueprint", index_prefix: str) -> dict[str, Any]:
    """Log indices stay `hot` until they are `logs_retention_days` old, then are deleted."""
    return {"policy": {
        "description": f"mlplat: delete log indices older than {bp.logs_retention_days} days",
        "default_state": "hot",
        "states": [
            {"name": "hot", "actions": [],
             "transitions": [{"state_name": "delete",
                              "conditions": {"min_index_age": f"{bp.logs_retention_days}d"}}]},
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
        ],
        # New indices of the pattern get the policy when they are created.
        "ism_template": [{"index_patterns": [f"{index_prefix}-*"], "priority": 100}],
    }}


def retention_objects(bp: "Blueprint", *, namespace: str, index_prefix: str, opensearch_url: str,
                      admin_secret: str, tls_secret: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    env = {"OPENSEARCH_URL": opensearch_url, "POLICY_ID": POLICY_ID, "INDEX_PATTERN": f"{index_prefix}-*",
           "POLICY_FILE": "/config/policy.json"}
    return opensearch_job(JOB_NAME, namespace, labels, script=SCRIPT,
                          files={"policy.json": json.dumps(ism_policy(bp, index_prefix), indent=2, sort_keys=True)},
                          env=env, secret_env=admin_env(admin_secret), tls_secret=tls_secret)


def admin_env(admin_secret: str) -> list[tuple[str, str, str]]:
    return [("OPENSEARCH_USERNAME", admin_secret, "username"), ("OPENSEARCH_PASSWORD", admin_secret, "password")]


def opensearch_job(name: str, namespace: str, labels: dict[str, str], *, script: Path, files: dict[str, str],
                   env: dict[str, str], secret_env: list[tuple[str, str, str]], tls_secret: str
                   ) -> list[dict[str, Any]]:
    """A ConfigMap (`script` as apply.sh beside scripts/opensearch-common.sh, and `files`) and a Job that runs it
    against OpenSearch over verified TLS after every install and upgrade; `secret_env` is (variable, Secret, key)."""
    config = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": {**files, "apply.sh": script.read_text(), COMMON.name: COMMON.read_text()},
    }
    env = {**env, "CA_FILE": f"{CA_DIR}/ca.crt", "TMPDIR": "/tmp"}
    container = {
        # Has curl; it runs on the pools' capacity, next to OpenSearch (which it waits for anyway).
        "name": "apply", "image": versions.OPENSEARCH_IMAGE,
        "command": ["/bin/sh", "/config/apply.sh"],
        "env": [{"name": k, "value": v} for k, v in env.items()] + [
            {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for variable, secret, key in secret_env],
        "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True},
                         {"name": "ca", "mountPath": CA_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": {
            # Run again after every upgrade (a changed setting), replacing the last run's Job, whose spec is
            # immutable; Argo CD maps these to its PostSync hook.
            "helm.sh/hook": "post-install,post-upgrade", "helm.sh/hook-delete-policy": "before-hook-creation"}},
        "spec": {
            "backoffLimit": 3, "ttlSecondsAfterFinished": 86400, "activeDeadlineSeconds": 1800,
            "template": {"metadata": {"labels": dict(labels)}, "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False,
                "containers": [container],
                "volumes": [{"name": "config", "configMap": {"name": name}},
                            {"name": "ca", "secret": {"secretName": tls_secret,
                                                      "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]}},
        },
    }
    return [config, job]
