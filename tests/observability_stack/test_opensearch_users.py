"""OpenSearch users for Fluent Bit (write) and Grafana (read) instead of the admin: the Job's script runs here for
real (sh and curl) against a fake of the security REST API endpoints it calls, which keeps roles, users and mappings
and refuses a caller that is not the admin (401) or a body that is not JSON (400), as OpenSearch does; and the
synthesized platform gives each component only its own credential."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mlplat.catalog.opensearch_users import (DASHBOARDS_ROLE, JOB_NAME, PASSWORDS_SECRET, READER_ROLE, SCRIPT,
                                             WRITER_ROLE, roles)
from tests.support import k8s
from tests.support.fake_http import JsonHandler, serving
from tests.support.synth import Synth

ADMIN, ADMIN_PASSWORD = "admin", "generated-admin"
API = "/_plugins/_security/api/"


class FakeSecurityApi(JsonHandler):
    def _handle(self) -> None:
        server: Any = self.server
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        server.calls.append((self.command, path))
        expected = "Basic " + base64.b64encode(f"{ADMIN}:{ADMIN_PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._answer(401, {"status": "UNAUTHORIZED"})
        if path == "/_cluster/health":
            return self._answer(200, {"status": "green"})
        if self.command != "PUT" or not path.startswith(API):
            return self._answer(404, {"error": "no handler"})
        kind, _, name = path.removeprefix(API).partition("/")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return self._answer(400, {"status": "error", "reason": "Unable to parse content"})
        if kind not in server.state or not name:
            return self._answer(404, {"error": "no handler"})
        created = name not in server.state[kind]
        server.state[kind][name] = body
        return self._answer(201 if created else 200, {"status": "CREATED" if created else "OK"})

    do_GET = do_PUT = do_POST = _handle


@pytest.fixture
def opensearch() -> Iterator[Any]:
    with serving(FakeSecurityApi, calls=[], state={"roles": {}, "internalusers": {}, "rolesmapping": {}}) as server:
        yield server


def run_script(server: Any, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.fail("curl is not on PATH: the users Job's script runs with it (apt-get install curl)")
    for name, role in roles("logs").items():
        (tmp_path / f"{name}.json").write_text(json.dumps(role))
    (tmp_path / "ca.crt").write_text("")  # plain http here: curl ignores the CA file
    env = {"PATH": os.environ["PATH"], "OPENSEARCH_URL": f"http://127.0.0.1:{server.server_address[1]}",
           "OPENSEARCH_USERNAME": ADMIN, "OPENSEARCH_PASSWORD": ADMIN_PASSWORD, "CA_FILE": str(tmp_path / "ca.crt"),
           "TMPDIR": str(tmp_path), "WAIT_SECONDS": "0", "ROLES_DIR": str(tmp_path),
           "WRITER_ROLE": WRITER_ROLE, "WRITER_USER": "fluent-bit", "WRITER_PASSWORD": "w-Secret1",
           "READER_ROLE": READER_ROLE, "READER_USER": "grafana", "READER_PASSWORD": "r-Secret2",
           "DASHBOARDS_ROLE": DASHBOARDS_ROLE, "DASHBOARDS_USER": "dashboards", "DASHBOARDS_PASSWORD": "d-Secret3",
           "BUILTIN_ROLES": DASHBOARDS_ROLE,
           **extra}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_the_script_creates_each_role_user_and_mapping(opensearch, tmp_path):
    done = run_script(opensearch, tmp_path)
    assert done.returncode == 0, done.stderr
    # The plugin's own kibana_server role is mapped, never rewritten.
    assert opensearch.state == {
        "roles": roles("logs"),
        "internalusers": {"fluent-bit": {"password": "w-Secret1", "backend_roles": []},
                          "grafana": {"password": "r-Secret2", "backend_roles": []},
                          "dashboards": {"password": "d-Secret3", "backend_roles": []}},
        "rolesmapping": {WRITER_ROLE: {"users": ["fluent-bit"]}, READER_ROLE: {"users": ["grafana"]},
                         "kibana_server": {"users": ["dashboards"]}},
    }
    assert done.stdout.splitlines() == [f"OpenSearch user fluent-bit has role {WRITER_ROLE}",
                                        f"OpenSearch user grafana has role {READER_ROLE}",
                                        "OpenSearch user dashboards has role kibana_server"]


def test_a_rerun_puts_a_rotated_password(opensearch, tmp_path):
    assert run_script(opensearch, tmp_path).returncode == 0
    done = run_script(opensearch, tmp_path, READER_PASSWORD="rotated")
    assert done.returncode == 0, done.stderr
    assert opensearch.state["internalusers"]["grafana"]["password"] == "rotated"


def test_a_password_is_sent_as_a_json_string_whatever_it_holds(opensearch, tmp_path):
    done = run_script(opensearch, tmp_path, WRITER_PASSWORD='a"b\\c')
    assert done.returncode == 0, done.stderr
    assert opensearch.state["internalusers"]["fluent-bit"]["password"] == 'a"b\\c'


def test_a_refusal_stops_the_job_and_says_what_failed(opensearch, tmp_path):
    done = run_script(opensearch, tmp_path, WAIT_TRIES="2", OPENSEARCH_PASSWORD="wrong")
    assert done.returncode == 1 and "did not answer (last status 401) after 2 tries" in done.stderr
    (tmp_path / "roles").mkdir()
    done = run_script(opensearch, tmp_path, ROLES_DIR=str(tmp_path / "roles"))  # the role files are missing
    assert done.returncode != 0 and opensearch.state["internalusers"] == {}


def test_the_roles_grant_only_what_each_job_does():
    assert roles("logs") == {
        WRITER_ROLE: {"description": "mlplat: Fluent Bit writes log documents, creating the daily indices",
                      "cluster_permissions": ["indices:data/write/bulk"],
                      "index_permissions": [{"index_patterns": ["logs-*"],
                                             "allowed_actions": ["create_index", "write"]}]},
        READER_ROLE: {"description": "mlplat: Grafana searches the log indices",
                      "cluster_permissions": ["cluster_composite_ops_ro", "cluster:monitor/main"],
                      "index_permissions": [{"index_patterns": ["logs-*"],
                                             "allowed_actions": ["read", "indices:admin/mappings/get"]}]},
    }


def _secret_refs(obj: Any) -> set[str]:
    """Every Kubernetes Secret a value tree names (secretKeyRef, secret volumes, existingSecret-style keys)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        ref = obj.get("secretKeyRef") or obj.get("secret")
        if isinstance(ref, dict):
            found.add(ref.get("name") or ref.get("secretName"))
        for value in obj.values():
            found |= _secret_refs(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= _secret_refs(item)
    return found


def test_fluent_bit_and_grafana_hold_their_own_credentials_not_the_admins(on: Synth):
    fluent_bit, grafana = _secret_refs(on.values("fluent-bit")), _secret_refs(on.values("kube-prometheus-stack"))
    assert "opensearch-logs-writer" in fluent_bit and "opensearch-admin" not in fluent_bit
    assert "opensearch-grafana" in grafana and "opensearch-admin" not in grafana
    generated = {o["metadata"]["name"]: o for o in on.objects("platform-secrets") if o["kind"] == "ExternalSecret"}
    assert generated["opensearch-logs-writer"]["metadata"]["namespace"] == "logging"
    assert generated["opensearch-grafana"]["metadata"]["namespace"] == "monitoring"


def test_the_users_job_runs_with_the_admin_over_verified_tls(on: Synth):
    objects = {(o["kind"], o["metadata"]["name"]): o for o in on.objects("opensearch-users")}
    for obj in objects.values():
        k8s.validate(obj)
    passwords = objects[("ExternalSecret", PASSWORDS_SECRET)]["spec"]["dataFrom"]
    assert [d["rewrite"] for d in passwords] == [[{"regexp": {"source": "^(.*)$", "target": f"{prefix}-$1"}}]
                                                 for prefix in ("writer", "reader", "dashboards")]
    # The same Secrets Manager secrets Fluent Bit's and Grafana's own copies read.
    generated = {o["metadata"]["name"]: o["spec"]["dataFrom"][0]["extract"]["key"]
                 for o in on.objects("platform-secrets") if o["kind"] == "ExternalSecret"}
    assert [d["extract"]["key"] for d in passwords] == [generated["opensearch-logs-writer"],
                                                          generated["opensearch-grafana"],
                                                          generated["opensearch-dashboards"]]
    assert generated["opensearch-logs-writer"] != generated["opensearch-grafana"]
    config, job = objects[("ConfigMap", JOB_NAME)], objects[("Job", JOB_NAME)]
    assert config["data"]["apply.sh"] == SCRIPT.read_text()
    assert {k: json.loads(v) for k, v in config["data"].items() if k.endswith(".json")} == {
        f"{name}.json": role for name, role in roles("logs").items()}
    [container] = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["OPENSEARCH_USERNAME"] == {"secretKeyRef": {"name": "opensearch-admin", "key": "username"}}
    assert env["WRITER_PASSWORD"] == {"secretKeyRef": {"name": PASSWORDS_SECRET, "key": "writer-password"}}
    assert (env["WRITER_USER"], env["READER_USER"]) == ("fluent-bit", "grafana")
    assert env["OPENSEARCH_URL"].startswith("https://")
    assert on.releases()["opensearch-users"]["namespace"] == "logging"
