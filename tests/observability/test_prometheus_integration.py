"""End to end: the real `prometheus` scrapes the exposition fixtures (served from loopback, counters growing
between scrapes) with the job names, honor_labels settings and target labels of scrape-contract.yaml, evaluates the
rules in dashboards/rules, and every PromQL target of every dashboard must return data.

Template variables are resolved the way Grafana does on first load: query variables run their label_values()
against Prometheus, variables with "All" take All, others their first value (a few are pinned below so that the
single-job dashboard looks at the training job rather than the alphabetically first workload)."""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.observability import support as s

CONTRACT = s.load_contract()
FIXTURES = [s.parse_fixture(p) for p in s.fixture_files()]
DASHBOARDS = s.dashboard_files()
STARTUP_TIMEOUT = 30   # seconds for Prometheus to become ready
DATA_TIMEOUT = 60      # seconds for scrapes, rule evaluations and rate() windows to produce data

# Grafana sets $__rate_interval to at least 4 scrape intervals; the test scrapes every second and runs for
# seconds, so a short window keeps rate() close to the true per-second rate.
RATE_INTERVAL = {"__rate_interval": "10s"}

# Single-select variables whose first value would show a different workload than the fixtures' training job.
PINNED = {"gpu-training.json": {"namespace": "ml-workloads", "workload": "llama3-finetune"}}


# ---------------------------------------------------------------------------------------------------- fixtures
class _Exposition:
    """A fixture file served as /metrics text. A cumulative sample holds what accrued over the fixture's uptime;
    it keeps growing at that average rate (value / uptime per second), so rate() returns realistic numbers and
    histogram buckets keep their shape."""

    def __init__(self, fx: s.Fixture):
        self.start = time.monotonic()
        self.uptime = fx.uptime
        self.parts: list[tuple[str, float | None]] = []
        for line in fx.text.splitlines():
            if line.startswith("#") or not line.strip():
                self.parts.append((line, None))
                continue
            series, value = line.rsplit(None, 1)  # fixtures carry no timestamps
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", series).group(0)
            grow = s.grows(name, fx.types) and float(value) != 0
            self.parts.append((series, float(value)) if grow else (line, None))

    def render(self) -> bytes:
        factor = 1 + (time.monotonic() - self.start) / self.uptime
        out = [text if v is None else f"{text} {v * factor:.17g}" for text, v in self.parts]
        return ("\n".join(out) + "\n").encode()


class _Handler(BaseHTTPRequestHandler):
    expositions: dict[str, _Exposition] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        exp = self.expositions.get(self.path.lstrip("/"))
        if exp is None:
            self.send_error(404)
            return
        body = exp.render()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------------- Prometheus
class Prometheus:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: Any) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        try:
            data = self.get("/api/v1/query", query=expr)
        except urllib.error.HTTPError as e:  # 400 on a bad expression: report it as the failure
            raise AssertionError(f"{expr}: {e.read().decode()[:300]}") from None
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def label_values(self, label: str, selector: str | None) -> list[str]:
        params = {"match[]": [selector]} if selector else {}
        return sorted(self.get(f"/api/v1/label/{label}/values", **params))


def scrape_config(http_port: int) -> dict[str, Any]:
    """One scrape job per contract exporter; one static target per fixture file, with its target labels."""
    jobs: dict[str, dict[str, Any]] = {}
    for fx in FIXTURES:
        exp = CONTRACT["exporters"][fx.exporter]
        job = jobs.setdefault(fx.exporter, {"job_name": exp["job"], "honor_labels": exp["honor_labels"],
                                            "static_configs": []})
        job["static_configs"].append({"targets": [f"127.0.0.1:{http_port}"],
                                      "labels": {**fx.target_labels, "__metrics_path__": "/" + fx.path.name}})
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in s.rule_files()],
        "scrape_configs": list(jobs.values()),
    }


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = s.tool("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    _Handler.expositions = {fx.path.name: _Exposition(fx) for fx in FIXTURES}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = _free_port()
    config = tmp / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(server.server_address[1]), sort_keys=False))
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        p = Prometheus(port)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}:\n{(tmp / 'prometheus.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{p.base}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus not ready after {STARTUP_TIMEOUT}s:\n{(tmp / 'prometheus.log').read_text()}")
            time.sleep(0.3)
        yield p
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        server.shutdown()
        server.server_close()
        log.close()


def wait_for(check, what: str, timeout: float = DATA_TIMEOUT):
    """Retry `check` (returns a list of problems) until it returns none or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        problems = check()
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


# ---------------------------------------------------------------------------------------------------- variables
def resolve_variables(p: Prometheus, dashboard: dict[str, Any], pinned: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for v in s.variables(dashboard):
        name = v["name"]
        if v["type"] == "datasource":
            continue
        if v["type"] in ("textbox", "custom"):
            values[name] = str(v["current"]["value"])
            continue
        selector, label = s.parse_label_values(s.variable_query(v))
        selector = s.substitute(selector, values) if selector else None
        found: list[str] = []

        def check() -> list[str]:
            found[:] = p.label_values(label, selector)
            return [] if found else [f"variable {name}: label_values({selector}, {label}) is empty"]

        problems = wait_for(check, name)
        assert not problems, problems
        escape = v.get("multi") or v.get("includeAll")
        if name in pinned:
            assert pinned[name] in found, f"variable {name}: {pinned[name]!r} not among {found}"
            chosen = pinned[name]
            values[name] = s.grafana_regex_escape(chosen) if escape else chosen
        elif v.get("includeAll"):
            values[name] = v.get("allValue") or "(" + "|".join(s.grafana_regex_escape(x) for x in found) + ")"
        else:
            values[name] = s.grafana_regex_escape(found[0]) if escape else found[0]
    return values


def empty_targets(p: Prometheus, targets: list[tuple[str, str]]) -> list[str]:
    """Targets whose query returns nothing, or only NaN/Inf values."""
    problems = []
    for where, expr in targets:
        result = p.query(expr)
        finite = [r for r in result if math.isfinite(float(r["value"][1]))]
        if not finite:
            problems.append(f"{where}: {'no series' if not result else 'only NaN/Inf'}\n    {expr}")
    return problems


# ---------------------------------------------------------------------------------------------------- tests
def test_every_fixture_target_is_scraped_with_its_contract_job(prom: Prometheus):
    def check() -> list[str]:
        active = prom.get("/api/v1/targets", state="active")["activeTargets"]
        problems = [f"{t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}" for t in active if t["health"] != "up"]
        if len(active) != len(FIXTURES):
            problems.append(f"{len(active)} targets, expected {len(FIXTURES)}")
        return problems

    problems = wait_for(check, "targets")
    assert not problems, problems
    active = prom.get("/api/v1/targets", state="active")["activeTargets"]
    for fx in FIXTURES:
        [t] = [t for t in active if t["scrapeUrl"].endswith("/" + fx.path.name)]
        assert t["labels"]["job"] == CONTRACT["exporters"][fx.exporter]["job"]
        for key, value in fx.target_labels.items():
            assert t["labels"].get(key) == value, f"{fx.path.name}: target label {key}"


def test_counters_grow_between_scrapes(prom: Prometheus):
    """rate() needs counters that move; the fixture server makes them move."""
    problems = wait_for(lambda: [] if prom.query("rate(vllm:prompt_tokens_total[1m]) > 0") else ["no rate yet"],
                        "rate")
    assert not problems


def test_dcgm_pod_labels_arrive_as_exported_labels(prom: Prometheus):
    """honor_labels=false as in the contract: the GPU holder is exported_pod, the exporter pod is pod."""
    def check() -> list[str]:
        r = prom.query('DCGM_FI_DEV_GPU_UTIL{exported_pod="llama3-8b-vllm-6d9f7c9b8-x2x7q"}')
        return [] if r and r[0]["metric"]["pod"].startswith("dcgm-exporter") else [f"got {r}"]

    assert not wait_for(check, "dcgm")


def test_all_rules_evaluate_without_errors(prom: Prometheus):
    def check() -> list[str]:
        groups = prom.get("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        expected = len(s.alerts()) + len(s.recording_rules())
        problems = [f"{r['name']}: {r['health']} {r.get('lastError', '')}" for r in rules if r["health"] != "ok"]
        if len(rules) != expected:
            problems.append(f"{len(rules)} rules loaded, expected {expected}")
        return problems

    problems = wait_for(check, "rules")
    assert not problems, problems


def test_recording_rules_produce_data(prom: Prometheus):
    targets = [(name, name) for name in s.recording_rules()]
    problems = wait_for(lambda: empty_targets(prom, targets), "recording rules")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_every_panel_target_returns_data(prom: Prometheus, path: Path):
    dashboard = s.load_dashboard(path)
    values = resolve_variables(prom, dashboard, PINNED.get(path.name, {}))
    targets = [(t.label, s.substitute(t.expr, {**values, **RATE_INTERVAL})) for t in s.prometheus_targets(path)]
    assert targets
    problems = wait_for(lambda: empty_targets(prom, targets), path.name)
    assert not problems, f"{len(problems)} of {len(targets)} targets return no data:\n" + "\n".join(problems)


def test_the_data_check_reports_an_empty_target(prom: Prometheus):
    """Guard: a selector matching nothing, and a 0/0 division, are reported."""
    problems = empty_targets(prom, [
        ("absent", 'DCGM_FI_DEV_GPU_UTIL{exported_namespace="no-such-namespace"}'),
        ("nan", 'sum(vllm:num_requests_running) * 0 / 0'),
        ("present", "sum(DCGM_FI_DEV_GPU_UTIL)"),
    ])
    assert [p.split(":")[0] for p in problems] == ["absent", "nan"]


# ---------------------------------------------------------------------------------------------------- semantics
# The fixtures describe one cluster (see the fixture comments): node A (p5, pool gpu-efa) runs an 8-GPU training
# job, node B (g6e, pool gpu, spot) a vLLM and a Triton pod and an idle notebook, each with one GPU, and one
# unallocated GPU; node C (trn1) a Neuron job; node D (general) the Ray head. These checks pin what the panels
# must make of that, so a wrong join or a wrong label shows up even when a panel is not empty.
NODE_A, NODE_B = "ip-10-0-1-10.ec2.internal", "ip-10-0-2-20.ec2.internal"


def panel_result(p: Prometheus, dashboard: str, title: str, ref: str = "A") -> list[dict[str, Any]]:
    path = s.DASHBOARDS / dashboard
    values = resolve_variables(p, s.load_dashboard(path), PINNED.get(dashboard, {}))
    [target] = [t for t in s.prometheus_targets(path) if t.panel_title == title and t.ref_id == ref]
    result: list[dict[str, Any]] = []

    def check() -> list[str]:
        result[:] = p.query(s.substitute(target.expr, {**values, **RATE_INTERVAL}))
        return [] if result else [f"{title}: no data"]

    assert not wait_for(check, title)
    return result


def by(result: list[dict[str, Any]], *labels: str) -> dict[Any, float]:
    key = (lambda m: m.get(labels[0])) if len(labels) == 1 else (lambda m: tuple(m.get(x) for x in labels))
    return {key(r["metric"]): round(float(r["value"][1]), 4) for r in result}


def test_gpu_efficiency_attributes_gpus_to_workloads(prom: Prometheus):
    d = "gpu-efficiency-cost.json"
    assert by(panel_result(prom, d, "Allocated vs busy by workload", "A"), "namespace", "workload") == {
        ("ml-workloads", "llama3-finetune"): 8, ("ml-serving", "llama3-8b-vllm"): 1,
        ("ml-serving", "resnet50-triton"): 1, ("ml-workloads", "jupyter-alice"): 1}
    assert set(by(panel_result(prom, d, "Allocated-but-idle GPUs"), "pod")) == {"jupyter-alice-0"}
    assert by(panel_result(prom, d, "Allocated but idle GPUs"), "x") == {None: 1}
    assert by(panel_result(prom, d, "Idle GPUs, USD/hour"), "x") == {None: 4.1}
    assert by(panel_result(prom, d, "GPU capacity vs allocated per pool", "A"), "nodepool") == {"gpu-efa": 8, "gpu": 4}
    assert by(panel_result(prom, d, "GPU capacity vs allocated per pool", "B"), "nodepool") == {"gpu-efa": 8, "gpu": 3}
    assert by(panel_result(prom, d, "Nodes per pool and capacity type"), "nodepool", "capacity_type") == {
        ("gpu-efa", "on-demand"): 1, ("gpu", "spot"): 1, ("neuron", "on-demand"): 1, ("general", "on-demand"): 1}


def test_training_dashboard_shows_the_jobs_gpus_and_nodes(prom: Prometheus):
    d = "gpu-training.json"
    util = panel_result(prom, d, "GPU utilization")
    assert len(util) == 8 and {r["metric"]["exported_pod"] for r in util} == {"llama3-finetune-node-0-0"}
    assert set(by(panel_result(prom, d, "EFA throughput"), "node")) == {NODE_A}
    # node A's CPU seconds in the fixture add up to 41% busy
    cpu: dict[Any, float] = {}

    def check() -> list[str]:
        cpu.update(by(panel_result(prom, d, "CPU utilization"), "node"))
        return [] if abs(cpu.get(NODE_A, 0) - 0.41) < 0.05 else [f"CPU utilization {cpu}"]

    assert not wait_for(check, "cpu"), cpu


def test_serving_dashboards_pick_the_serving_pods_gpu(prom: Prometheus):
    for d in ("vllm-inference.json", "serving-golden-signals.json"):
        title = "GPU utilization" if d.startswith("vllm") else "GPU utilization of server pods"
        assert by(panel_result(prom, d, title), "node", "gpu") == {(NODE_B, "0"): 87}, d


def test_kueue_ignores_the_standby_replica(prom: Prometheus):
    # leader: 3 active + 1 inadmissible; the follower's stale 7 must not count
    assert by(panel_result(prom, "kueue.json", "Pending workloads"), "x") == {None: 4}


def test_neuron_core_utilization(prom: Prometheus):
    assert by(panel_result(prom, "neuron.json", "Average NeuronCore utilization per node"), "node") == {
        "ip-10-0-3-30.ec2.internal": 0.74}


def test_alerts_on_realistic_labels(prom: Prometheus):
    """With every exporter present, the exporter-absent joins (node, namespace, ray_io_cluster target labels)
    find their partners and stay inactive; the fixture's XID 13 on a training GPU raises GPUXidError."""
    state: dict[str, set[str]] = {}

    def check() -> list[str]:
        state.clear()
        for a in prom.get("/api/v1/alerts")["alerts"]:
            state.setdefault(a["labels"]["alertname"], set()).add(a["state"])
        return [] if "firing" in state.get("GPUXidError", set()) else [f"alerts: {state}"]

    assert not wait_for(check, "alerts"), state
    assert not {"DCGMExporterAbsent", "NeuronMonitorAbsent", "RayGCSMetricsAbsent", "GPUXidErrorFatal"} & set(state)


# ---------------------------------------------------------------------------------------------------- Ray Serve vLLM
# The vLLM dashboard reads two name families: vLLM's own (vllm:*, job vllm) and the same metrics re-exported by Ray's
# metrics agent when vLLM runs inside Ray Serve LLM (ray_vllm_*, jobs ray-head/ray-workers; names recorded in
# tests/upstream/ray-serve-vllm-metrics.json). Each family alone must fill every panel: the other one is switched off
# by a matcher no series has, and recording-rule panels are narrowed to the family's model.
_PLAIN_SELECTOR = re.compile(r"(?<![\w:])(vllm:[a-zA-Z0-9_:]+)\{")
_RAY_SELECTOR = re.compile(r"(?<![\w:])(ray_vllm_[a-zA-Z0-9_]+)\{")
_RECORDED_SELECTOR = re.compile(r"(?<![\w:])(mlplat:vllm_[a-zA-Z0-9_:]+)\{")
# The fixtures give the Ray worker pod no DCGM GPU series, so the GPU panels' Ray branch has nothing to join with.
RAY_ONLY_WITHOUT_DATA = {"GPU utilization", "GPU memory used"}


def _fixture_models(exporter: str, prefix: str) -> set[str]:
    return {m for fx in FIXTURES if fx.exporter == exporter for name, labels, _ in fx.samples
            if name.startswith(prefix) for m in re.findall(r'model_name="([^"]*)"', labels)}


def _one_family(expr: str, keep: str) -> str:
    off, model = ((_RAY_SELECTOR, _fixture_models("vllm", "vllm:")) if keep == "vllm"
                  else (_PLAIN_SELECTOR, _fixture_models("ray-workers", "ray_vllm_")))
    expr = off.sub(lambda m: m.group(1) + '{job="mlplat-no-such-job", ', expr)
    only = "|".join(s.grafana_regex_escape(x) for x in sorted(model))
    return _RECORDED_SELECTOR.sub(lambda m: m.group(1) + '{model_name=~"' + only + '", ', expr)


def test_the_family_switch_leaves_the_other_family():
    expr = ('sum((rate(vllm:a_total{x="1"}[1m]) or rate(ray_vllm_a_total{x="1"}[1m]))) '
            '+ on () mlplat:vllm_r{y="2"}')
    ray = _one_family(expr, "ray")
    assert 'vllm:a_total{job="mlplat-no-such-job", x="1"}' in ray and 'ray_vllm_a_total{x="1"}' in ray
    assert 'mlplat:vllm_r{model_name=~"' in ray and 'y="2"}' in ray
    plain = _one_family(expr, "vllm")
    assert 'ray_vllm_a_total{job="mlplat-no-such-job", x="1"}' in plain and 'vllm:a_total{x="1"}' in plain


@pytest.mark.parametrize("family", ["vllm", "ray"])
def test_the_vllm_dashboard_shows_each_serving_path_alone(prom: Prometheus, family: str):
    path = s.DASHBOARDS / "vllm-inference.json"
    values = resolve_variables(prom, s.load_dashboard(path), {})
    targets = []
    for t in s.prometheus_targets(path):
        if family == "ray" and t.panel_title in RAY_ONLY_WITHOUT_DATA:
            continue
        expr = s.substitute(t.expr, {**values, **RATE_INTERVAL})
        names = s.metric_names(expr)
        # Every vLLM metric a panel reads is read in both families.
        plain = {n for n in names if n.startswith("vllm:")}
        assert {"ray_" + n.replace(":", "_") for n in plain} <= names, t.label
        targets.append((f"{t.label} [{family} only]", _one_family(expr, family)))
    assert len(targets) > 20
    problems = wait_for(lambda: empty_targets(prom, targets), family)
    assert not problems, f"{len(problems)} of {len(targets)} targets return no data:\n" + "\n".join(problems)


def test_ray_serve_vllm_series_carry_the_ray_labels(prom: Prometheus):
    """Scraped through the ray-workers job: the recorded vLLM and Ray label keys, plus the cluster and pod."""
    record = json.loads((s.ROOT / "tests" / "upstream" / "ray-serve-vllm-metrics.json").read_text())
    keys = set(record["label_keys"]["from_vllm"]) | set(record["label_keys"]["from_ray"])
    found: list[dict[str, Any]] = []

    def check() -> list[str]:
        found[:] = prom.query("ray_vllm_num_requests_running")
        return [] if found else ["no ray_vllm_num_requests_running"]

    assert not wait_for(check, "ray_vllm")
    for r in found:
        assert keys <= set(r["metric"]), r["metric"]
        assert r["metric"]["job"] == "ray-workers" and r["metric"]["ray_io_cluster"], r["metric"]


def test_the_golden_signals_namespace_list_has_every_serving_source(prom: Prometheus):
    """The namespace variable lists each namespace that serves through any of the dashboard's sources (generic
    HTTP, Triton, BentoML), not only those with the generic HTTP metric."""
    path = next(p for p in s.dashboard_files() if p.name == "serving-golden-signals.json")
    [variable] = [v for v in s.variables(s.load_dashboard(path)) if v["name"] == "namespace"]
    selector, label = s.parse_label_values(s.variable_query(variable))
    metrics = ("http_request_duration_seconds_count", "nv_inference_request_success", "bentoml_service_request_total")

    def check() -> list[str]:
        listed = set(prom.label_values(label, selector))
        problems = []
        for metric in metrics:
            serving = {r["metric"]["namespace"] for r in prom.query(f"count by (namespace) ({metric})")}
            if not serving or not serving <= listed:
                problems.append(f"{metric}: serves in {sorted(serving)}, the variable lists {sorted(listed)}")
        return problems

    assert wait_for(check, "golden-signals namespaces") == []
