"""Log retention (`logs_retention_days`): OpenSearch's ISM policy and the Job that applies it, Loki's compactor.

The Job's script runs here for real (sh and curl) against a small fake of the OpenSearch endpoints it calls, which
answers as OpenSearch does: 404 for a policy that does not exist, the policy with its _seq_no and _primary_term when
it does, and refuses an update of an existing policy without them (409, version_conflict_engine_exception)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mlplat import versions
from mlplat.catalog.log_retention import JOB_NAME, POLICY_ID, SCRIPT, ism_policy
from tests.support import k8s
from tests.support.fake_http import JsonHandler, serving
from tests.support.paths import reference
from tests.support.synth import Synth

USER, PASSWORD = "admin", "s3cret-generated"


class FakeOpenSearch(JsonHandler):
    """The ISM endpoints the script uses. State lives on the server object."""

    def _handle(self) -> None:
        server: Any = self.server
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        server.calls.append((self.command, url.path, parse_qs(url.query), body))
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._answer(401, {"error": "unauthorized"})
        if url.path == "/_cluster/health":
            if server.unhealthy_answers > 0:
                server.unhealthy_answers -= 1
                return self._answer(503, {"error": "cluster_manager_not_discovered_exception"})
            return self._answer(200, {"status": "green"})
        if url.path == f"/_plugins/_ism/policies/{POLICY_ID}":
            if self.command == "GET":
                if server.policy is None:
                    return self._answer(404, {"error": {"type": "status_exception"}, "status": 404})
                return self._answer(200, {"_id": POLICY_ID, "_version": 2, "_seq_no": server.seq_no,
                                          "_primary_term": 1, "policy": server.policy})
            query = parse_qs(url.query)
            if server.policy is not None and (query.get("if_seq_no") != [str(server.seq_no)]
                                              or query.get("if_primary_term") != ["1"]):
                return self._answer(409, {"error": {"type": "version_conflict_engine_exception"}})
            server.policy = json.loads(body)["policy"]
            server.seq_no += 1
            return self._answer(201 if server.seq_no == 1 else 200, {"_id": POLICY_ID, "_seq_no": server.seq_no})
        if url.path.startswith(("/_plugins/_ism/add/", "/_plugins/_ism/change_policy/")):
            return self._answer(200, {"updated_indices": 3, "failures": False})
        return self._answer(404, {"error": "no handler"})

    do_GET = do_PUT = do_POST = _handle


@pytest.fixture
def opensearch() -> Iterator[Any]:
    with serving(FakeOpenSearch, calls=[], policy=None, seq_no=0, unhealthy_answers=0) as server:
        yield server


def run_script(server: Any, tmp_path: Path, policy: dict[str, Any], **extra: str) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.fail("curl is not on PATH: the retention Job's script runs with it (apt-get install curl)")
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    (tmp_path / "ca.crt").write_text("")  # plain http here: curl ignores the CA file
    env = {"PATH": os.environ["PATH"], "OPENSEARCH_URL": f"http://127.0.0.1:{server.server_address[1]}",
           "OPENSEARCH_USERNAME": USER, "OPENSEARCH_PASSWORD": PASSWORD, "POLICY_ID": POLICY_ID,
           "INDEX_PATTERN": "logs-*", "POLICY_FILE": str(tmp_path / "policy.json"),
           "CA_FILE": str(tmp_path / "ca.crt"), "TMPDIR": str(tmp_path), "WAIT_SECONDS": "0", **extra}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def policy_for(days: int) -> dict[str, Any]:
    return ism_policy(type("Bp", (), {"logs_retention_days": days})(), "logs")


def test_the_script_waits_for_opensearch_then_creates_the_policy_and_attaches_it(opensearch, tmp_path):
    opensearch.unhealthy_answers = 2
    done = run_script(opensearch, tmp_path, policy_for(14))
    assert done.returncode == 0, done.stderr
    assert opensearch.policy == policy_for(14)["policy"]
    calls = [(method, path, query) for method, path, query, _ in opensearch.calls]
    assert calls == [("GET", "/_cluster/health", {"wait_for_status": ["yellow"], "timeout": ["10s"]})] * 3 + [
        ("GET", f"/_plugins/_ism/policies/{POLICY_ID}", {}),
        ("PUT", f"/_plugins/_ism/policies/{POLICY_ID}", {}),
        ("POST", "/_plugins/_ism/add/logs-*", {}),
        ("POST", "/_plugins/_ism/change_policy/logs-*", {}),
    ]
    assert json.loads(opensearch.calls[-1][3]) == {"policy_id": POLICY_ID}


def test_a_second_run_updates_the_policy_with_its_sequence_numbers(opensearch, tmp_path):
    assert run_script(opensearch, tmp_path, policy_for(14)).returncode == 0
    done = run_script(opensearch, tmp_path, policy_for(30))
    assert done.returncode == 0, done.stderr
    states = opensearch.policy["states"]
    assert states[0]["transitions"][0]["conditions"] == {"min_index_age": "30d"}
    put = [c for c in opensearch.calls if c[0] == "PUT"][-1]
    assert put[2] == {"if_seq_no": ["1"], "if_primary_term": ["1"]}


def test_the_script_fails_loudly_when_opensearch_never_answers_or_refuses(opensearch, tmp_path):
    opensearch.unhealthy_answers = 10
    done = run_script(opensearch, tmp_path, policy_for(14), WAIT_TRIES="3")
    assert done.returncode == 1
    assert "did not answer (last status 503) after 3 tries" in done.stderr
    opensearch.unhealthy_answers = 0
    done = run_script(opensearch, tmp_path, policy_for(14), OPENSEARCH_PASSWORD="wrong")
    assert done.returncode == 1 and "last status 401" in done.stderr


def test_the_policy_deletes_log_indices_after_the_retention():
    policy = policy_for(7)["policy"]
    assert policy["default_state"] == "hot"
    assert policy["states"] == [
        {"name": "hot", "actions": [], "transitions": [{"state_name": "delete",
                                                        "conditions": {"min_index_age": "7d"}}]},
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []}]
    # New indices get it: the pattern is the one Fluent Bit writes (Logstash_Prefix).
    assert policy["ism_template"] == [{"index_patterns": ["logs-*"], "priority": 100}]


def test_the_job_applies_the_blueprints_retention_with_the_generated_admin_over_verified_tls(on: Synth):
    assert on.blueprint.logs_retention_days == 14
    objects = {o["kind"]: o for o in on.objects("opensearch-log-retention")}
    for obj in objects.values():
        k8s.validate(obj)
    config, job = objects["ConfigMap"], objects["Job"]
    assert json.loads(config["data"]["policy.json"]) == policy_for(14)
    assert config["data"]["apply.sh"] == SCRIPT.read_text()
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["OPENSEARCH_URL"] == "https://opensearch-cluster-master.logging.svc:9200"
    assert env["OPENSEARCH_PASSWORD"] == {"secretKeyRef": {"name": "opensearch-admin", "key": "password"}}
    assert {"name": "ca", "secret": {"secretName": "opensearch-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} \
        in pod["volumes"]
    assert "--insecure" not in config["data"]["apply.sh"] and " -k " not in config["data"]["apply.sh"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    # The image is the one the opensearch chart runs: its values' repository at the chart's appVersion.
    chart = reference("chart-values", "opensearch", "Chart.yaml").read_text()
    app_version = next(line.split(":", 1)[1].strip().strip('"') for line in chart.splitlines()
                       if line.startswith("appVersion:"))
    assert container["image"] == f"opensearchproject/opensearch:{app_version}" == versions.OPENSEARCH_IMAGE
    assert job["metadata"]["name"] == JOB_NAME


def test_loki_keeps_logs_for_the_retention_and_no_job_runs(loki_tracing: Synth):
    values = loki_tracing.values("loki")
    assert values["loki"]["limits_config"]["retention_period"] == f"{14 * 24}h"
    assert values["loki"]["compactor"]["retention_enabled"] is True
    assert "opensearch-log-retention" not in loki_tracing.releases()
