"""Structure of the Grafana dashboards: data sources only through template variables, the variables each
dashboard promises, unique panel ids, titles, a sane grid, no hard-coded namespaces, and every PromQL target
parsed by the real promtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.observability import support as s

DASHBOARDS = s.dashboard_files()
IDS = [p.name for p in DASHBOARDS]

# The variables each dashboard must offer (datasource always; logs where logs are shown).
REQUIRED_VARIABLES = {
    "gpu-training.json": {"datasource", "logs_datasource", "loki_datasource", "namespace", "workload", "pod", "node"},
    "vllm-inference.json": {"datasource", "namespace", "model"},
    "neuron.json": {"datasource", "namespace", "node"},
    "gpu-efficiency-cost.json": {"datasource", "namespace", "gpu_hourly_price"},
    "serving-golden-signals.json": {"datasource", "namespace", "job", "model"},
    "kueue.json": {"datasource", "cluster_queue"},
    "ray-cluster.json": {"datasource", "namespace", "ray_cluster"},
}
# Data source type -> the template variable that selects it (logs: OpenSearch is the default backend, Loki the other).
DATASOURCE_VARIABLES = {"prometheus": "${datasource}", "grafana-opensearch-datasource": "${logs_datasource}",
                        "loki": "${loki_datasource}"}


def test_the_expected_dashboards_exist():
    assert set(IDS) == set(REQUIRED_VARIABLES), "a dashboard was added or removed: update REQUIRED_VARIABLES"


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_plain_dashboard_json(path: Path):
    d = s.load_dashboard(path)
    assert "__inputs" not in d and "__requires" not in d, "exported-for-sharing JSON: the sidecar needs plain JSON"
    assert d.get("schemaVersion") == 39
    assert d.get("title") and d.get("uid") and len(d["uid"]) <= 40
    assert d.get("id") in (None,), "a fixed numeric id clashes between Grafana instances"
    assert "mlplat" in d.get("tags", [])


def test_dashboard_uids_and_titles_are_unique():
    ds = [s.load_dashboard(p) for p in DASHBOARDS]
    assert len({d["uid"] for d in ds}) == len(ds)
    assert len({d["title"] for d in ds}) == len(ds)


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_required_template_variables(path: Path):
    vs = {v["name"]: v for v in s.variables(s.load_dashboard(path))}
    missing = REQUIRED_VARIABLES[path.name] - set(vs)
    assert not missing, f"missing template variables {sorted(missing)}"
    for ds_type, ref in DATASOURCE_VARIABLES.items():
        name = ref[2:-1]
        if name in vs:
            assert vs[name]["type"] == "datasource" and vs[name]["query"] == ds_type, name
    # Price inputs are free text (textbox) or a fixed list (custom), and default to a number.
    for v in vs.values():
        if v["name"].endswith("_price"):
            assert v["type"] in ("textbox", "custom")
            float(v["current"]["value"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_query_variables_use_label_values_on_the_datasource_variable(path: Path):
    for v in s.variables(s.load_dashboard(path)):
        if v["type"] != "query":
            continue
        assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, v["name"]
        s.parse_label_values(s.variable_query(v))  # raises on anything but label_values(...)
        assert v.get("definition") == s.variable_query(v), f"{v['name']}: definition and query differ"


def _datasource_refs(node, path=""):
    """Every object that names a data source (has a `uid` under a `datasource` key), with its JSON path."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "datasource" and isinstance(v, dict):
                yield f"{path}.{k}", v
            yield from _datasource_refs(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _datasource_refs(v, f"{path}[{i}]")


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_no_hard_coded_datasource(path: Path):
    d = s.load_dashboard(path)
    refs = list(_datasource_refs(d))
    assert refs, "no data source references found at all"
    for where, ds in refs:
        assert ds.get("type") in DATASOURCE_VARIABLES, f"{where}: unexpected data source type {ds}"
        assert ds.get("uid") == DATASOURCE_VARIABLES[ds["type"]], f"{where}: hard-coded data source {ds}"
    # A data source given as a plain string (name) is hard-coded too.
    text = path.read_text()
    assert not re.search(r'"datasource"\s*:\s*"', text), "data source referenced by name"
    vs = {v["name"] for v in s.variables(d) if v["type"] == "datasource"}
    for p in s.panels(d):
        assert p.get("datasource"), f"panel {p['id']} has no data source"
        for t in p.get("targets", []):
            assert t.get("datasource") == p["datasource"], f"panel {p['id']} target {t.get('refId')}"
        assert p["datasource"]["uid"][2:-1] in vs, f"panel {p['id']}: no variable for {p['datasource']}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_panels_have_unique_ids_titles_and_fit_the_grid(path: Path):
    d = s.load_dashboard(path)
    ps = list(s.all_panels_and_rows(d))
    ids = [p.get("id") for p in ps]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), f"duplicate panel ids {sorted(i for i in ids if ids.count(i) > 1)}"
    cells: dict[tuple[int, int], int] = {}
    for p in ps:
        assert p.get("title", "").strip(), f"panel {p['id']} has no title"
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, f"panel {p['id']} outside the 24-column grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {p['id']} overlap"
                cells[(x, y)] = p["id"]
    for p in s.panels(d):
        assert p.get("targets"), f"panel {p['id']} '{p['title']}' has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), f"panel {p['id']}: duplicate refIds"
        if p["type"] != "logs":
            assert p.get("description"), f"panel {p['id']} '{p['title']}' has no description"


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_every_variable_used_is_defined(path: Path):
    d = s.load_dashboard(path)
    defined = {v["name"] for v in s.variables(d)} | set(s.BUILTINS)
    used: set[str] = set()
    for p in s.panels(d):
        for t in p.get("targets", []):
            used |= s.referenced_variables(t.get("expr", "") + t.get("query", "") + t.get("legendFormat", ""))
    for v in s.variables(d):
        used |= s.referenced_variables(s.variable_query(v))
    assert used, "no template variable is used"
    assert used <= defined, f"undefined variables {sorted(used - defined)}"
    assert "[[" not in path.read_text(), "deprecated [[var]] syntax"
    # Each variable except the data sources is used somewhere, otherwise it only confuses.
    unused = {v["name"] for v in s.variables(d) if v["type"] != "datasource"} - used
    assert not unused, f"variables never used: {sorted(unused)}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_no_hard_coded_namespace(path: Path):
    """Namespace filters come from the namespace variable, so the dashboards work in any install."""
    checked = 0
    texts = [t.expr for t in s.prometheus_targets(path)]
    texts += [s.variable_query(v) for v in s.variables(s.load_dashboard(path)) if v["type"] == "query"]
    for text in texts:
        for label, _, value in s.label_matchers(text):
            if label in ("namespace", "exported_namespace"):
                checked += 1
                assert "$" in value, f"hard-coded {label}={value!r} in {text}"
    # The log queries (OpenSearch Lucene, Loki LogQL) filter on the namespace variable too.
    for p in s.panels(s.load_dashboard(path)):
        for t in p.get("targets", []):
            if not s.is_prometheus(t.get("datasource")):
                checked += 1
                assert "$namespace" in (t.get("query") or t.get("expr") or ""), f"panel {p['id']}: log query"
    if path.name != "kueue.json":  # Kueue queues are cluster-scoped
        assert checked, "no namespace filter at all"


def _placeholder_values(d: dict) -> dict[str, str]:
    """A plausible value per variable, for parsing only (the integration test uses real values)."""
    out = {}
    for v in s.variables(d):
        if v["type"] in ("textbox", "custom"):
            out[v["name"]] = str(v["current"]["value"])
        else:
            out[v["name"]] = "placeholder"
    return out


@pytest.mark.parametrize("path", DASHBOARDS, ids=IDS)
def test_every_promql_target_parses_with_promtool(path: Path, tmp_path: Path):
    """Each panel target and each variable's selector becomes a recording rule; promtool check rules parses it."""
    promtool = s.tool("promtool")
    d = s.load_dashboard(path)
    values = _placeholder_values(d)
    rules = []
    stem = re.sub(r"\W", "_", path.stem)
    for t in s.prometheus_targets(path):
        rules.append({"record": f"dashboard_check:{stem}:p{t.panel_id}_{t.ref_id}", "expr": s.substitute(t.expr, values)})
    for v in s.variables(d):
        if v["type"] == "query":
            selector, _ = s.parse_label_values(s.variable_query(v))
            if selector:
                rules.append({"record": f"dashboard_check:{stem}:var_{v['name']}", "expr": s.substitute(selector, values)})
    assert len(rules) >= 5
    f = tmp_path / f"{stem}.rules.yaml"
    f.write_text(yaml.safe_dump({"groups": [{"name": stem, "rules": rules}]}, sort_keys=False))
    r = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(rules)} rules found" in r.stdout


def test_a_broken_expression_is_caught(tmp_path: Path):
    """The promtool check above can fail: an unbalanced expression is rejected."""
    promtool = s.tool("promtool")
    f = tmp_path / "broken.yaml"
    f.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [
        {"record": "dashboard_check:broken", "expr": 'sum by (node) (rate(DCGM_FI_DEV_GPU_UTIL[1m])'}]}]}))
    r = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0


SECRET_PATTERNS = [
    re.compile("AKIA" + r"[0-9A-Z]{16}"),                                   # AWS access key id
    re.compile("(?i)aws_secret" + r"_access_key\s*[:=]\s*\S{16,}"),
    re.compile("-" * 5 + "BEGIN"),                                          # PEM blocks
    re.compile(r'(?i)"?(password|passwd|secret|api[_-]?key|token)"?\s*[:=]\s*"?[A-Za-z0-9/+_\-]{8,}'),
    re.compile(r"(?i)basicauth(password)?\s*[:=]"),
    re.compile("gh" + r"p_[A-Za-z0-9]{30,}"),
    re.compile("xox" + r"[baprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\."),              # JWTs
]
OWNED = [s.DASHBOARDS, Path(s.__file__).parent]


def test_no_secrets_in_dashboards_rules_or_tests():
    files = [p for root in OWNED for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) > 20
    hits = [f"{p}: {m.group(0)[:40]}" for p in files for pat in SECRET_PATTERNS for m in pat.finditer(p.read_text())]
    assert not hits, hits


def test_secret_scan_detects_a_planted_credential():
    planted = 'password: "' + "hunter2hunter2" + '"'
    assert any(p.search(planted) for p in SECRET_PATTERNS)
