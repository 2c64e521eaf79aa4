"""BentoML on the platform (seed 003's workflow): the example service's tracing configuration points at the platform's
OpenTelemetry collector, its pods are what the `bentoml` PodMonitor selects, and the metric names, label keys and
configuration keys that the example, the scrape contract, the fixture and the golden-signals dashboard rely on are
those recorded from BentoML 1.4.40 in tests/upstream/bentoml-metrics.json."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from mlplat.catalog import observability as obs
from tests.observability import support as s
from mlplat.catalog.observability import scrapes
from tests.observability.test_prometheus_integration import by, panel_result, prom  # noqa: F401 (fixture)
from tests.observability_stack.blueprints import LOKI_TRACING, ON
from tests.support.paths import ROOT
from tests.support.synth import synth

RECORD = json.loads((ROOT / "tests" / "upstream" / "bentoml-metrics.json").read_text())
EXAMPLE = ROOT / "examples" / "bentoml-otel"
MANIFEST = [d for d in yaml.safe_load_all((EXAMPLE / "kubernetes.yaml").read_text()) if d]
CONTRACT = s.load_contract()["exporters"]["bentoml"]
DASHBOARD = ROOT / "dashboards" / "serving-golden-signals.json"
FIXTURES = [fx for fx in (s.parse_fixture(p) for p in s.fixture_files()) if fx.exporter == "bentoml"]


def _one(kind: str) -> dict:
    [obj] = [d for d in MANIFEST if d["kind"] == kind]
    return obj


def _bentoml_config() -> dict:
    return yaml.safe_load(_one("ConfigMap")["data"]["bentoml-config.yaml"])


def _flat_keys(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out |= _flat_keys(value, path + ".") if isinstance(value, dict) else {path}
    return out


def _bento_selectors(expr: str) -> list[tuple[str, str]]:
    return re.findall(r"(?<![\w:])(bentoml_[a-z_]+)\{([^}]*)\}", expr)


# ---------------------------------------------------------------------------------------------------- the example
def test_the_example_sends_traces_to_the_platforms_collector():
    config = _bentoml_config()
    assert "version" not in config, "BentoML 1.4.40 reads BENTOML_CONFIG with its v1 schema first, which rejects 2"
    tracing = config["services"]["tracing"]
    assert _flat_keys(tracing) <= set(RECORD["tracing_keys"])
    assert tracing["exporter_type"] == "otlp" and "otlp" in RECORD["tracing_exporter_types"]
    assert isinstance(tracing["sample_rate"], float) and 0 < tracing["sample_rate"] <= 1  # unset or 0: no traces
    assert tracing["otlp"]["protocol"] == "http" and "http" in RECORD["otlp_protocols"]
    # OTLP/HTTP: the exporter posts to exactly this URL, so the path is part of it.
    assert tracing["otlp"]["endpoint"] == f"http://{obs.OTEL_COLLECTOR_HOST}:{obs.OTLP_HTTP_PORT}/v1/traces"


def test_the_collector_service_is_named_as_the_example_assumes():
    """The collector chart names its Service after the release (which contains the chart name) unless told
    otherwise; the example's endpoint relies on both, and on the chart's OTLP/HTTP port staying open."""
    syn = synth(LOKI_TRACING)
    release = syn.releases()[obs.OTEL_COLLECTOR_RELEASE]
    assert release["chart"] == "opentelemetry-collector" and release["namespace"] == obs.MONITORING
    values = syn.values(obs.OTEL_COLLECTOR_RELEASE)
    assert "fullnameOverride" not in values and "nameOverride" not in values
    assert values["ports"].get("otlp-http", {}).get("enabled", True) is not False
    assert obs.OTEL_COLLECTOR_HOST == "opentelemetry-collector.monitoring.svc"


def test_the_deployment_reads_the_config_and_is_scraped_by_the_bentoml_podmonitor():
    deployment, service = _one("Deployment"), _one("Service")
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    [mount] = container["volumeMounts"]
    [volume] = pod["spec"]["volumes"]
    assert volume["configMap"]["name"] == _one("ConfigMap")["metadata"]["name"] and volume["name"] == mount["name"]
    assert env[RECORD["config_file_env"]] == f"{mount['mountPath']}/bentoml-config.yaml"
    # The platform's monitor for BentoML: its selector matches the pods, its port is the pods' named port.
    [scrape] = [sc for sc in scrapes(synth(ON).blueprint) if sc.job == "bentoml"]
    assert scrape.kind == CONTRACT["kind"] and scrape.port == CONTRACT["port"] and scrape.path == CONTRACT["path"]
    assert scrape.selector.items() <= pod["metadata"]["labels"].items()
    [port] = container["ports"]
    assert (port["name"], port["containerPort"]) == (scrape.port, RECORD["default_http_port"])
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["targetPort"] == scrape.port
    # The probes hit BentoML's own paths, which BentoML counts: the dashboard leaves exactly those out.
    probes = {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")}
    assert probes <= set(RECORD["probe_paths_counted"])
    assert "registry.example.com/" in container["image"], "the placeholder examples/README.md tells how to replace"


def test_the_build_files_name_the_service_and_pin_the_exporter():
    bentofile = yaml.safe_load((EXAMPLE / "bentofile.yaml").read_text())
    assert bentofile["service"] == "service:TextStats"
    assert "class TextStats" in (EXAMPLE / "service.py").read_text()
    assert bentofile["include"] == ["service.py"]
    packages = bentofile["python"]["packages"]
    assert packages and all(re.fullmatch(r"[a-z0-9-]+==[0-9][0-9.]*", p) for p in packages), packages
    pinned = RECORD["pinned_by_the_project"]
    assert f"opentelemetry-exporter-otlp-proto-http=={pinned['opentelemetry-exporter-otlp-proto-http'].split()[0]}" \
        in packages
    readme = (ROOT / "examples" / "README.md").read_text()
    assert f"pip install bentoml=={pinned['bentoml'].split()[0]}" in readme and "bentoml containerize" in readme


def test_the_trace_link_regex_matches_bentomls_access_log():
    suffix = RECORD["access_log_trace_suffix_example"]
    line = ("2026-12-02T05:26:29+0000 [INFO] [entry_service:TextStats:1] 10.0.70.21:40370 (scheme=http,method=POST,"
            "path=/normalize,type=application/json,length=27) (status=200,type=text/plain; charset=utf-8,length=11) "
            "2.017ms" + suffix)
    m = re.search(obs.TRACE_ID_REGEX, line)
    assert m and m.group(1) == re.search(r"trace=([0-9a-f]{32})", suffix).group(1)


# ---------------------------------------------------------------------------------------------------- metrics
def test_the_contract_lists_recorded_names_only():
    recorded = RECORD["metrics"]
    assert set(CONTRACT["metrics"]) <= set(recorded)
    assert set(CONTRACT["not_in_reference"]) == set(CONTRACT["metrics"])
    recorded_labels = {lab for m in CONTRACT["metrics"] for lab in recorded[m]["labels"]}
    # An exporter label that a target label of the same name displaces arrives as exported_<name> (honor_labels
    # false); the PodMonitor always sets `endpoint` (the port name), which BentoML's `endpoint` (the path) meets.
    assert CONTRACT["honor_labels"] is False and "endpoint" in recorded_labels
    used = {lab.removeprefix("exported_") for lab in CONTRACT["labels_used"]} - set(CONTRACT["target_labels"])
    assert used <= recorded_labels
    assert "endpoint" not in CONTRACT["labels_used"] and "exported_endpoint" in CONTRACT["labels_used"]


def test_the_fixture_carries_the_recorded_names_types_and_label_keys():
    assert FIXTURES
    checked = 0
    for fx in FIXTURES:
        for name, labels, _ in fx.samples:
            family = s.sample_family(name, fx.types)
            exposed = name if fx.types.get(family) == "counter" else family
            assert exposed in RECORD["metrics"], name
            assert fx.types[family] == RECORD["metrics"][exposed]["type"], name
            got = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', labels)) - {"le"}
            assert got == set(RECORD["metrics"][exposed]["labels"]), f"{name}: {sorted(got)}"
            if name.endswith("_bucket"):
                le = re.search(r'le="([^"]+)"', labels).group(1)
                assert le == "+Inf" or float(le) in RECORD["default_duration_buckets"], le
            checked += 1
        endpoints = set(re.findall(r'endpoint="([^"]+)"', fx.text))
        assert endpoints & set(RECORD["probe_paths_counted"]), "the fixture must show the probes BentoML counts"
    assert checked > 40


def test_the_dashboard_shows_every_golden_signal_for_bentoml():
    exprs = {t.panel_title: [] for t in s.prometheus_targets(DASHBOARD)}
    for t in s.prometheus_targets(DASHBOARD):
        exprs[t.panel_title].append(t.expr)
    bento = {title: e for title, e in exprs.items() if any("bentoml_service_" in x for x in e)}
    families = {m for e in bento.values() for x in e for m, _ in _bento_selectors(x)}
    assert {"bentoml_service_request_total", "bentoml_service_request_duration_seconds_bucket",
            "bentoml_service_request_in_progress"} <= families
    latency = bento["BentoML latency p50 / p99"]
    assert [re.match(r"histogram_quantile\(([0-9.]+),", x).group(1) for x in latency] == ["0.5", "0.99"]
    assert any('http_response_code!~"2.."' in x for x in bento["BentoML error ratio"])
    # Every panel about BentoML's own traffic leaves BentoML's probe paths out; the pod-joins select pods only.
    probes = "|".join(p.strip("/") for p in RECORD["probe_paths_counted"])
    for title, e in bento.items():
        if not title.startswith("BentoML"):
            continue
        for x in e:
            for _, selector in _bento_selectors(x):
                assert f'exported_endpoint!~"/({probes})"' in selector, (title, selector)
                assert not re.search(r'(?<!exported_)endpoint[!=]', selector), "the path is exported_endpoint"
                assert 'runner_name=~"$bento_service"' in selector and 'namespace=~"$namespace"' in selector
    # The server-pod panels (CPU, GPU) include BentoML pods next to the generic HTTP servers.
    assert {"CPU usage vs limit of server pods", "GPU utilization of server pods"} <= set(bento)


# ---------------------------------------------------------------------------------------------------- real Prometheus
def test_the_bentoml_panels_on_real_prometheus(prom):
    """The fixture scraped under the contract's `bentoml` job: the panels show the service by its class name, leave
    the probes out of its traffic, and count 4xx as well as 5xx answers as errors."""
    d = DASHBOARD.name
    rps = by(panel_result(prom, d, "BentoML requests per second by endpoint"), "runner_name", "exported_endpoint")
    assert set(rps) == {("TextStats", "/analyze"), ("TextStats", "/normalize")}
    assert rps[("TextStats", "/analyze")] > rps[("TextStats", "/normalize")] > 0  # 432000 and 172800 over a day
    fx = FIXTURES[0]
    total = {re.search(r'endpoint="([^"]+)",http_response_code="(\d+)"', labels).groups(): v
             for name, labels, v in fx.samples if name == "bentoml_service_request_total"}
    served = {k: v for k, v in total.items() if k[0] not in RECORD["probe_paths_counted"]}
    non_2xx = sum(v for (_, code), v in served.items() if not code.startswith("2")) / sum(served.values())
    only_5xx = sum(v for (_, code), v in served.items() if code.startswith("5")) / sum(served.values())
    errors = panel_result(prom, d, "BentoML error ratio", "A")
    assert by(errors, "runner_name") == {"TextStats": pytest.approx(non_2xx, rel=0.05)}
    assert by(panel_result(prom, d, "BentoML error ratio", "B"), "runner_name") == {
        "TextStats": pytest.approx(only_5xx, rel=0.05)}
    p50 = by(panel_result(prom, d, "BentoML latency p50 / p99", "A"), "runner_name")["TextStats"]
    p99 = by(panel_result(prom, d, "BentoML latency p50 / p99", "B"), "runner_name")["TextStats"]
    assert 0 < p50 < p99 <= 1
    assert by(panel_result(prom, d, "BentoML requests in progress"), "runner_name") == {"TextStats": 4}
