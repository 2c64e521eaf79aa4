"""OpenSearch Dashboards with the OpenSearch logs backend: pinned at the reference chart, every value key the chart's,
its own server account (kibana_server), OpenSearch verified against the platform CA (only the CA mounted), the
security cookie keyed, ClusterIP only; and a Job that provisions the log indices' pattern as Discover's default, its
script run here against a fake of the Dashboards API that refuses what the real one refuses (no osd-xsrf header: 400;
wrong credentials: 401)."""

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
import yaml

from mlplat import versions
from mlplat.addons import install_order
from mlplat.catalog import REGISTRY
from mlplat.catalog.opensearch_users import INDEX_PATTERN_SCRIPT, index_pattern
from mlplat.kube.open import WEB_UIS
from tests.support import k8s
from tests.support.fake_http import JsonHandler, serving
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.synth import Synth

ADMIN, PASSWORD = "admin", "generated-admin"


def test_pinned_at_the_reference_chart_with_the_charts_keys_and_clusterip(on: Synth):
    release = on.releases()["opensearch-dashboards"]
    pin = versions.CHARTS["opensearch-dashboards"]
    assert (release["chart"], release["version"], release["namespace"]) == ("opensearch-dashboards", pin.version,
                                                                            "logging")
    assert pin.version == chart_version("opensearch-dashboards")
    values = on.values("opensearch-dashboards")
    assert list(unknown_keys(values, chart_defaults("opensearch-dashboards"))) == []
    assert values["opensearchHosts"] == "https://opensearch-cluster-master.logging.svc:9200"
    assert (values["service"], values["ingress"]) == ({"type": "ClusterIP"}, {"enabled": False})
    assert values["extraEnvs"] == [
        {"name": "OPENSEARCH_USERNAME", "valueFrom": {"secretKeyRef": {"name": "opensearch-dashboards",
                                                                        "key": "username"}}},
        {"name": "OPENSEARCH_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "opensearch-dashboards",
                                                                        "key": "password"}}}]
    # Only the CA of a certificate of its own, never the node's key pair; the settings file from its Secret.
    assert values["secretMounts"] == [
        {"name": "opensearch-ca", "secretName": "opensearch-dashboards-ca",
         "path": "/usr/share/opensearch-dashboards/config/certs/ca.crt", "subPath": "ca.crt"},
        {"name": "settings", "secretName": "opensearch-dashboards",
         "path": "/usr/share/opensearch-dashboards/config/opensearch_dashboards.yml",
         "subPath": "opensearch_dashboards.yml"}]
    [cert] = [o for o in on.objects("opensearch-access") if o["metadata"]["name"] == "dashboards-opensearch-client"]
    assert (cert["metadata"]["namespace"], cert["spec"]["secretName"]) == ("logging", "opensearch-dashboards-ca")


def test_its_account_secret_carries_what_the_chart_reads_and_a_settings_file_that_verifies_tls(on: Synth):
    generated = {o["metadata"]["name"]: o for o in on.objects("platform-secrets") if o["kind"] == "ExternalSecret"}
    template = generated["opensearch-dashboards"]["spec"]["target"]["template"]["data"]
    assert sorted(template) == ["opensearch_dashboards.yml", "password", "username"]
    text = template["opensearch_dashboards.yml"]
    cookie = '{{ printf "cookie:%s" .password | sha256sum }}'
    assert cookie in text
    settings = yaml.safe_load(text.replace(cookie, "COOKIE"))
    assert settings == {
        "server.name": "opensearch-dashboards", "server.host": "0.0.0.0",
        "opensearch.ssl.verificationMode": "full",
        "opensearch.ssl.certificateAuthorities": ["/usr/share/opensearch-dashboards/config/certs/ca.crt"],
        "opensearch.requestHeadersAllowlist": ["securitytenant", "Authorization"],
        "opensearch_security.cookie.password": "COOKIE", "opensearch_security.cookie.secure": False}


def test_it_installs_after_its_user_exists_and_the_pattern_after_it(on: Synth):
    order = [a.name for a in install_order(REGISTRY, on.blueprint)]
    assert order.index("opensearch-users") < order.index("opensearch-dashboards") < order.index(
        "opensearch-dashboards-setup")
    objects = {o["kind"]: o for o in on.objects("opensearch-dashboards-setup")}
    for obj in objects.values():
        k8s.validate(obj)
    assert json.loads(objects["ConfigMap"]["data"]["pattern.json"]) == index_pattern("logs")
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in
           objects["Job"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DASHBOARDS_URL"] == "http://opensearch-dashboards.logging.svc:5601"
    assert env["OPENSEARCH_PASSWORD"] == {"secretKeyRef": {"name": "opensearch-admin", "key": "password"}}


def test_mlplat_open_reaches_it():
    ui = WEB_UIS["opensearch-dashboards"]
    assert (ui.addon, ui.service, ui.service_port, ui.scheme, ui.credential) == (
        "opensearch-dashboards", "opensearch-dashboards", "http", "http", "opensearch-admin")


# --- the setup script against a fake of the Dashboards API -----------------------------------------------------------

class FakeDashboards(JsonHandler):
    def _handle(self) -> None:
        server: Any = self.server
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        server.calls.append((self.command, url.path, parse_qs(url.query), self.headers.get("securitytenant")))
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(f"{ADMIN}:{PASSWORD}".encode()).decode():
            return self._answer(401, {"statusCode": 401, "error": "Unauthorized"})
        if url.path == "/api/status":
            if server.starting > 0:
                server.starting -= 1
                return self._answer(503, {"statusCode": 503, "message": "OpenSearch Dashboards server is not ready"})
            return self._answer(200, {"status": {"overall": {"state": "green"}}})
        if self.command == "POST" and not self.headers.get("osd-xsrf"):
            return self._answer(400, {"statusCode": 400, "message": "Request must contain a osd-xsrf header."})
        if url.path.startswith("/api/saved_objects/index-pattern/"):
            pid = url.path.rsplit("/", 1)[1]
            if pid in server.patterns and parse_qs(url.query).get("overwrite") != ["true"]:
                return self._answer(409, {"statusCode": 409, "error": "Conflict"})
            server.patterns[pid] = json.loads(body)
            return self._answer(200, {"id": pid, "type": "index-pattern"})
        if url.path == "/api/opensearch-dashboards/settings":
            server.settings.update(json.loads(body)["changes"])
            return self._answer(200, {"settings": server.settings})
        return self._answer(404, {"statusCode": 404})

    do_GET = do_POST = _handle


@pytest.fixture
def dashboards() -> Iterator[Any]:
    with serving(FakeDashboards, calls=[], patterns={}, settings={}, starting=0) as server:
        yield server


def run_setup(server: Any, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.fail("curl is not on PATH: the setup Job's script runs with it (apt-get install curl)")
    (tmp_path / "pattern.json").write_text(json.dumps(index_pattern("logs")))
    (tmp_path / "ca.crt").write_text("")
    env = {"PATH": os.environ["PATH"], "OPENSEARCH_URL": "https://opensearch.invalid:9200",
           "OPENSEARCH_USERNAME": ADMIN, "OPENSEARCH_PASSWORD": PASSWORD, "CA_FILE": str(tmp_path / "ca.crt"),
           "TMPDIR": str(tmp_path), "WAIT_SECONDS": "0", "PATTERN_FILE": str(tmp_path / "pattern.json"),
           "PATTERN_ID": "mlplat-logs", "DASHBOARDS_URL": f"http://127.0.0.1:{server.server_address[1]}", **extra}
    return subprocess.run(["sh", str(INDEX_PATTERN_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_the_setup_waits_then_puts_the_pattern_in_the_global_tenant_as_the_default(dashboards, tmp_path):
    dashboards.starting = 2
    done = run_setup(dashboards, tmp_path)
    assert done.returncode == 0, done.stderr
    assert dashboards.patterns == {"mlplat-logs": index_pattern("logs")}
    assert dashboards.settings == {"defaultIndex": "mlplat-logs"}
    assert [(m, p, t) for m, p, _, t in dashboards.calls] == [("GET", "/api/status", "global")] * 3 + [
        ("POST", "/api/saved_objects/index-pattern/mlplat-logs", "global"),
        ("POST", "/api/opensearch-dashboards/settings", "global")]
    assert run_setup(dashboards, tmp_path).returncode == 0  # again: overwritten in place, no conflict


def test_the_setup_fails_loudly(dashboards, tmp_path):
    done = run_setup(dashboards, tmp_path, OPENSEARCH_PASSWORD="wrong", WAIT_TRIES="2")
    assert done.returncode == 1
    assert "OpenSearch Dashboards at http://127.0.0.1:" in done.stderr and "(last status 401) after 2 tries" in \
        done.stderr
