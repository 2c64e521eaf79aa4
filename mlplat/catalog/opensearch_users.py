"""OpenSearch users for the logs' writer (Fluent Bit, on every node), reader (Grafana) and OpenSearch Dashboards'
server account, so none holds the admin credential: each gets a role with only what it does on the log indices (the
Dashboards account the security plugin's kibana_server), its own generated password (Secrets Manager, copied by
External Secrets), and a Job that puts roles, users and mappings through the security REST API
after every install and upgrade (scripts/opensearch-users.sh). The security index is created once from
internal_users.yml, which holds only the admin; users added later have to go through the API.

The permissions are OpenSearch's documented action groups (security plugin, "Default action groups"): Fluent Bit
only bulk-writes documents and creates the daily indices; Grafana's OpenSearch data source searches (msearch), reads
field mappings, and asks the cluster's version (GET /).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from mlplat.catalog.log_retention import admin_env, opensearch_job
from mlplat.catalog.secrets import (OPENSEARCH_DASHBOARDS_USER, OPENSEARCH_READER_USER, OPENSEARCH_WRITER_USER,
                                    STORE_NAME, SecretUse, secret_output)

JOB_NAME = "opensearch-users"
SCRIPT = Path(__file__).parent / "scripts" / "opensearch-users.sh"
PASSWORDS_SECRET = "opensearch-users"  # the Job's copy of the two generated passwords, in OpenSearch's namespace
WRITER_ROLE = "mlplat_logs_writer"
READER_ROLE = "mlplat_logs_reader"
# The security plugin's built-in role for OpenSearch Dashboards' server account (static roles: kibana_server); only
# the mapping is put, the role is the plugin's own.
DASHBOARDS_ROLE = "kibana_server"
INDEX_PATTERN_SCRIPT = Path(__file__).parent / "scripts" / "opensearch-dashboards-setup.sh"


def index_pattern(index_prefix: str) -> dict[str, Any]:
    """The saved object OpenSearch Dashboards lists the log indices by (Discover's default)."""
    return {"attributes": {"title": f"{index_prefix}-*", "timeFieldName": "@timestamp"}}


def roles(index_prefix: str) -> dict[str, dict[str, Any]]:
    indices = [f"{index_prefix}-*"]
    return {
        WRITER_ROLE: {
            "description": "mlplat: Fluent Bit writes log documents, creating the daily indices",
            "cluster_permissions": ["indices:data/write/bulk"],
            "index_permissions": [{"index_patterns": indices, "allowed_actions": ["create_index", "write"]}],
        },
        READER_ROLE: {
            "description": "mlplat: Grafana searches the log indices",
            "cluster_permissions": ["cluster_composite_ops_ro", "cluster:monitor/main"],
            "index_permissions": [{"index_patterns": indices,
                                   "allowed_actions": ["read", "indices:admin/mappings/get"]}],
        },
    }


def users_objects(*, namespace: str, index_prefix: str, opensearch_url: str, admin_secret: str, tls_secret: str,
                  writer: SecretUse, reader: SecretUse, dashboards: SecretUse, outputs: Mapping[str, str],
                  labels: dict[str, str]) -> list[dict[str, Any]]:
    passwords = {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": PASSWORDS_SECRET, "namespace": namespace, "labels": dict(labels)},
        "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
                 "target": {"name": PASSWORDS_SECRET, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                 # Both generated secrets, their fields prefixed: writer-username, writer-password, reader-...
                 "dataFrom": [{"extract": {"key": outputs[secret_output(use)]},
                               "rewrite": [{"regexp": {"source": "^(.*)$", "target": f"{prefix}-$1"}}]}
                              for prefix, use in (("writer", writer), ("reader", reader),
                                                  ("dashboards", dashboards))]},
    }
    env = {"OPENSEARCH_URL": opensearch_url, "ROLES_DIR": "/config",
           "WRITER_ROLE": WRITER_ROLE, "WRITER_USER": OPENSEARCH_WRITER_USER,
           "READER_ROLE": READER_ROLE, "READER_USER": OPENSEARCH_READER_USER,
           "DASHBOARDS_ROLE": DASHBOARDS_ROLE, "DASHBOARDS_USER": OPENSEARCH_DASHBOARDS_USER,
           "BUILTIN_ROLES": DASHBOARDS_ROLE}
    secret_env = [*admin_env(admin_secret), ("WRITER_PASSWORD", PASSWORDS_SECRET, "writer-password"),
                  ("READER_PASSWORD", PASSWORDS_SECRET, "reader-password"),
                  ("DASHBOARDS_PASSWORD", PASSWORDS_SECRET, "dashboards-password")]
    files = {f"{name}.json": json.dumps(role, indent=2, sort_keys=True) for name, role in roles(index_prefix).items()}
    return [passwords, *opensearch_job(JOB_NAME, namespace, labels, script=SCRIPT, files=files, env=env,
                                       secret_env=secret_env, tls_secret=tls_secret)]
