"""The scrape contract (dashboards/scrape-contract.yaml) against what the dashboards and rules query, what the
fixtures expose, and the upstream metric lists in ../shared/reference/metrics."""

from __future__ import annotations

import json
import re

import pytest

from tests.observability import support as s
from tests.support.paths import ROOT, reference

CONTRACT = s.load_contract()
EXPORTERS = CONTRACT["exporters"]
FIXTURES = [s.parse_fixture(p) for p in s.fixture_files()]


def _contract_metrics() -> dict[str, str]:
    """metric (exposed name, histograms by family) -> exporter key"""
    out = {}
    for key, exp in EXPORTERS.items():
        for m in exp["metrics"]:
            # One exporter per metric, except the jobs of one program (Ray's head and workers) that say so.
            assert m not in out or exp.get("shares_metrics_with") == out[m], f"{m} listed under {out[m]} and {key}"
            out.setdefault(m, key)
    return out


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every dashboard target, variable selector and rule, variables filled with placeholders."""
    out = []
    for path in s.dashboard_files():
        d = s.load_dashboard(path)
        values = {v["name"]: str(v.get("current", {}).get("value") or "x") for v in s.variables(d)}
        for t in s.prometheus_targets(path):
            out.append((t.label, s.substitute(t.expr, values)))
        for v in s.variables(d):
            if v["type"] == "query":
                sel, _ = s.parse_label_values(s.variable_query(v))
                if sel:
                    out.append((f"{path.name} variable {v['name']}", s.substitute(sel, values)))
    out += s.rule_exprs()
    return out


QUERIES = _queries()
METRICS = _contract_metrics()


def test_every_queried_metric_is_in_the_contract():
    known = set(METRICS) | set(s.recording_rules()) | {"up"}
    unknown = []
    for where, q in QUERIES:
        for m in s.metric_names(q):
            if not s.family_of(m, known):
                unknown.append(f"{where}: {m}")
    assert not unknown, "metrics not declared in scrape-contract.yaml:\n" + "\n".join(unknown)


def test_metric_scan_finds_metrics_and_skips_functions():
    """Guard for the scan above."""
    names = s.metric_names('sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name=~"$m"}[5m])) '
                           '/ on (node) group_left (x) max by (node) (kube_node_labels) > bool 1e9')
    assert names == {"vllm:e2e_request_latency_seconds_bucket", "kube_node_labels"}


def test_every_contract_metric_is_used():
    used = set()
    for _, q in QUERIES:
        used |= {s.family_of(m, set(METRICS)) for m in s.metric_names(q)}
    stale = sorted(set(METRICS) - used)
    assert not stale, f"listed in the contract but queried nowhere: {stale}"


def test_job_matchers_name_contract_jobs():
    jobs = {e["job"] for e in EXPORTERS.values()}
    seen = 0
    for where, q in QUERIES:
        for label, op, value in s.label_matchers(q):
            if label == "job" and op == "=":
                seen += 1
                assert value in jobs, f"{where}: job {value!r} is not in the contract"
    assert seen


def test_kube_state_metrics_labels_are_allowlisted():
    allowed = {lab for labs in EXPORTERS["kube-state-metrics"]["allowlisted_labels"].values() for lab in labs}
    used = set()
    for _, q in QUERIES:
        used |= set(re.findall(r"\blabel_(?!replace\b|join\b|values\b)[a-z0-9_]+", q))
    assert used, "no allowlisted label used (the node-pool panels rely on them)"
    assert used <= allowed, f"labels kube-state-metrics will not expose: {sorted(used - allowed)}"


def test_contract_entries_are_complete():
    for key, exp in EXPORTERS.items():
        for field in ("job", "kind", "port", "path", "scheme", "honor_labels", "target_labels", "metrics"):
            assert field in exp, f"{key}: no {field}"
        assert exp["kind"] in ("ServiceMonitor", "PodMonitor")
        assert exp["path"].startswith("/")
    jobs = [e["job"] for e in EXPORTERS.values()]
    assert len(jobs) == len(set(jobs)), "two exporters share a job value"
    assert "node" in EXPORTERS["dcgm-exporter"]["target_labels"], "the exporter-absent alerts join on node"
    assert EXPORTERS["dcgm-exporter"]["honor_labels"] is False, "queries rely on exported_pod"


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.mark.parametrize("fx", FIXTURES, ids=[f.path.name for f in FIXTURES])
def test_fixture_declares_contract_exporter_and_target_labels(fx: s.Fixture):
    assert fx.exporter in EXPORTERS, f"unknown exporter {fx.exporter}"
    missing = set(EXPORTERS[fx.exporter]["target_labels"]) - set(fx.target_labels)
    assert not missing, f"target labels the contract requires: {sorted(missing)}"
    assert "# source:" in fx.text, "say where the metric names come from"
    assert fx.samples


def test_every_contract_metric_has_fixture_data():
    by_exporter: dict[str, set[str]] = {}
    for fx in FIXTURES:
        by_exporter.setdefault(fx.exporter, set()).update(s.exposed_names(fx))
    missing = [f"{key}: {m}" for key, exp in EXPORTERS.items() for m in exp["metrics"]
               if m not in by_exporter.get(key, set())]
    assert not missing, missing


@pytest.mark.parametrize("fx", FIXTURES, ids=[f.path.name for f in FIXTURES])
def test_fixture_histograms_are_consistent(fx: s.Fixture):
    """Cumulative buckets, +Inf equal to _count: otherwise histogram_quantile returns garbage silently."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    counts = {}
    for name, labels, value in fx.samples:
        if name.endswith("_bucket"):
            le = re.search(r'[{,]le="([^"]+)"', labels).group(1)
            key = (name[:-7], re.sub(r'(?<=[{,])le="[^"]+",?|,le="[^"]+"', "", labels))
            series.setdefault(key, []).append((float(le), value))
        elif name.endswith("_count"):
            counts[(name[:-6], labels)] = value
    for key, buckets in series.items():
        values = [v for _, v in sorted(buckets)]
        assert values == sorted(values), f"{key}: buckets not cumulative"
        inf = dict(buckets)[float("inf")]
        norm = key[1] if key[1] != "{}" else ""
        assert counts.get((key[0], norm)) == inf, f"{key}: +Inf bucket differs from _count"


# ---------------------------------------------------------------------------------------------------- upstream
def _reference_list(name: str) -> dict[str, set[str]]:
    """<name> <type> <labels> lines of a ../shared/reference/metrics list -> {name: labels}"""
    out = {}
    for line in reference("metrics", name).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split()
        labels = set() if len(parts) < 3 or parts[2] == "-" else set(parts[2].split(","))
        out[parts[0]] = labels
    return out


def test_vllm_metrics_are_current_v1_names():
    ref = _reference_list("vllm-metrics.txt")
    used = EXPORTERS["vllm"]["metrics"]
    assert set(used) <= set(ref), f"not in vllm-metrics.txt (renamed or removed?): {sorted(set(used) - set(ref))}"
    legacy = set(_reference_list("vllm-metrics-legacy-v0.txt")) - set(ref)
    assert "vllm:gpu_cache_usage_perc" in legacy  # the legacy list parses, so the check below means something
    assert not set(used) & legacy


def test_neuron_metrics_match_neuron_monitor():
    ref = _reference_list("neuron-metrics.txt")
    used = EXPORTERS["neuron-monitor"]["metrics"]
    assert set(used) <= set(ref), sorted(set(used) - set(ref))


def test_dcgm_metrics_are_dcgm_exporter_fields():
    names = set()
    for csv in ("default-counters.csv", "dcp-metrics-included.csv"):
        for line in reference("metrics", "dcgm-exporter", csv).read_text().splitlines():
            m = re.match(r"^#?\s*(DCGM_[A-Z0-9_]+)\s*,", line)
            if m:
                names.add(m.group(1))
    exp = EXPORTERS["dcgm-exporter"]
    extra = set(exp.get("not_in_reference", {}))
    assert not extra & names, "listed as not in the reference, but it is"
    assert set(exp["metrics"]) <= names | extra, sorted(set(exp["metrics"]) - names - extra)


RAY_VLLM_RECORD = json.loads((ROOT / "tests" / "upstream" / "ray-serve-vllm-metrics.json").read_text())


def test_ray_metrics_are_in_the_ray_list():
    """Ray's own metrics are in the reference list; the vLLM metrics Ray re-exports (which the list carries only
    under their pre-2.52 ray_vllm:* names) are in the record of what Ray 2.52.0 and vLLM 0.11 export."""
    recorded = set(RAY_VLLM_RECORD["families"].values())
    for exporter in ("ray-head", "ray-workers"):
        exp = EXPORTERS[exporter]
        extra = set(exp.get("not_in_reference", {}))
        assert extra <= recorded, sorted(extra - recorded)
        assert set(exp["metrics"]) <= set(_reference_list("ray-metrics.txt")) | extra, exporter


def test_ray_serve_vllm_names_follow_the_record():
    """Every vLLM metric the dashboards read has its Ray Serve twin, named by the recorded rule, scraped by a Ray job."""
    families = RAY_VLLM_RECORD["families"]
    plain = EXPORTERS["vllm"]["metrics"]
    assert sorted(families) == sorted(m for m in plain if m.startswith("vllm:"))
    for vllm_name, ray_name in families.items():
        assert ray_name == "ray_" + vllm_name.replace(":", "_"), vllm_name
        assert ":" not in ray_name
    assert set(families.values()) == set(EXPORTERS["ray-workers"]["not_in_reference"])
    assert set(families.values()) <= set(EXPORTERS["ray-workers"]["metrics"])
    # What Ray's own 2.52.0 panels query is a subset; the rest follows from the rule alone and says so.
    queried = set(RAY_VLLM_RECORD["queried_by_ray_2_52_panels"])
    assert queried | set(RAY_VLLM_RECORD["derived_by_the_rule_only"]) == set(families.values())
    assert not queried & set(RAY_VLLM_RECORD["derived_by_the_rule_only"])
    # The older colon names (Ray's panels before vLLM sanitised names for OpenTelemetry) are queried nowhere.
    for where, q in QUERIES:
        assert "ray_vllm:" not in q, where


def test_ray_serve_vllm_fixture_label_sets_match_the_record():
    keys = set(RAY_VLLM_RECORD["label_keys"]["from_vllm"]) | set(RAY_VLLM_RECORD["label_keys"]["from_ray"])
    per_family = {"ray_vllm_request_success": set(RAY_VLLM_RECORD["label_keys"]["from_vllm_request_success"])}
    checked = 0
    for fx in FIXTURES:
        for name, labels, _ in fx.samples:
            if not name.startswith("ray_vllm_"):
                continue
            assert fx.exporter in ("ray-head", "ray-workers"), fx.path.name
            fam = s.sample_family(name, fx.types)
            got = _labels_of(labels) - {"le"}
            assert got == keys | per_family.get(fam, set()), f"{fx.path.name}: {name} has {sorted(got)}"
            checked += 1
    assert checked > 100


def _labels_of(labels: str) -> set[str]:
    return set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', labels))


@pytest.mark.parametrize("exporter,listing", [("vllm", "vllm-metrics.txt"), ("neuron-monitor", "neuron-metrics.txt")])
def test_fixture_label_sets_match_the_reference(exporter: str, listing: str):
    ref = _reference_list(listing)
    checked = 0
    for fx in FIXTURES:
        if fx.exporter != exporter:
            continue
        for name, labels, _ in fx.samples:
            fam = s.sample_family(name, fx.types)
            exposed = name if name in ref else fam
            if exposed not in ref:
                continue
            got = _labels_of(labels) - {"le", "quantile"}
            assert got == ref[exposed], f"{fx.path.name}: {name} has {sorted(got)}, upstream {sorted(ref[exposed])}"
            checked += 1
    assert checked > 20


def test_dcgm_fixture_label_sets():
    per_gpu = {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}
    checked = 0
    for fx in FIXTURES:
        if fx.exporter == "dcgm-exporter":
            for name, labels, _ in fx.samples:
                got = _labels_of(labels)
                assert per_gpu <= got, f"{fx.path.name}: {name} lacks {sorted(per_gpu - got)}"
                assert {"namespace", "pod", "container"} <= got or not {"namespace", "pod", "container"} & got
                checked += 1
    assert checked > 100


def test_dashboard_datasource_variables_are_the_contracts():
    declared = {(d["variable"], d["type"]) for d in CONTRACT["datasources"].values()}
    seen = set()
    for path in s.dashboard_files():
        for v in s.variables(s.load_dashboard(path)):
            if v["type"] == "datasource":
                seen.add((v["name"], v["query"]))
    assert seen and seen <= declared, sorted(seen - declared)


def test_kube_state_metrics_resource_names_are_sanitised():
    """KSM turns nvidia.com/gpu into nvidia_com_gpu; a query with the raw name silently matches nothing."""
    allowed = set(EXPORTERS["kube-state-metrics"]["resources"]) | set(
        EXPORTERS["kube-state-metrics"].get("resource_patterns", []))
    seen = set()
    for where, q in QUERIES:
        for selector in re.findall(r"\bkube_[a-z_]+\{[^}]*\}", q):
            for label, _, value in s.label_matchers(selector):
                if label == "resource":
                    seen |= set(value.split("|"))
    assert {"nvidia_com_gpu", "nvidia_com_mig_3g_.*"} <= seen
    assert seen <= allowed, sorted(seen - allowed)
    # A slice as KSM names it matches exactly one pattern (nvidia.com/mig-3g.40gb -> nvidia_com_mig_3g_40gb).
    patterns = EXPORTERS["kube-state-metrics"]["resource_patterns"]
    assert [p for p in patterns if re.fullmatch(p, "nvidia_com_mig_3g_40gb")] == ["nvidia_com_mig_3g_.*"]
