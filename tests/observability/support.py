"""Shared helpers for the observability tests: loading dashboards, rules, the scrape contract and fixtures,
substituting Grafana template variables, and a light PromQL scan (metric names, label matchers)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.support.paths import ROOT

DASHBOARDS = ROOT / "dashboards"
RULES_DIR = DASHBOARDS / "rules"
CONTRACT = DASHBOARDS / "scrape-contract.yaml"
HERE = Path(__file__).resolve().parent
RULE_TESTS_DIR = HERE / "rules"
FIXTURES_DIR = HERE / "fixtures"

# What Grafana puts in for its built-in interval variables; values a dashboard commonly runs with.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600"}

INSTALL_HINT = "install Debian's prometheus and prometheus-alertmanager packages (make tools)"


def tool(name: str) -> str:
    """Path of promtool/prometheus/amtool. Missing tools fail the test (never skip): they are part of `make test`."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} not found on PATH: {INSTALL_HINT}", pytrace=False)
    return path


# ---------------------------------------------------------------------------------------------------- loading
def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yaml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.test.yaml"))


def load_contract() -> dict[str, Any]:
    return yaml.safe_load(CONTRACT.read_text())


def fixture_files() -> list[Path]:
    return sorted(FIXTURES_DIR.glob("*.prom"))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows; row panels themselves excluded."""
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            yield from p.get("panels", [])
        else:
            yield p


def all_panels_and_rows(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in dashboard.get("panels", []):
        yield p
        if p.get("type") == "row":
            yield from p.get("panels", [])


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return dashboard.get("templating", {}).get("list", [])


def is_prometheus(ds: Any) -> bool:
    return isinstance(ds, dict) and ds.get("type") == "prometheus"


@dataclass
class Target:
    dashboard: str
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str

    @property
    def label(self) -> str:
        return f"{self.dashboard} panel {self.panel_id} '{self.panel_title}' target {self.ref_id}"


def prometheus_targets(path: Path) -> list[Target]:
    """PromQL targets of a dashboard. Logs targets (OpenSearch) are not PromQL and are left out."""
    d = load_dashboard(path)
    out = []
    for p in panels(d):
        for t in p.get("targets", []):
            if is_prometheus(t.get("datasource") or p.get("datasource")):
                out.append(Target(path.name, p["id"], p.get("title", ""), t.get("refId", "?"), t["expr"]))
    return out


def variable_query(var: dict[str, Any]) -> str:
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query", "")
    return q or var.get("definition", "")


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$",
                          re.S)


def parse_label_values(query: str) -> tuple[str | None, str]:
    m = LABEL_VALUES.match(query)
    if not m:
        raise ValueError(f"not a label_values(...) query: {query!r}")
    return m.group("selector"), m.group("label")


def alerts() -> dict[str, tuple[Path, dict[str, Any]]]:
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for f in rule_files():
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                if "alert" in r:
                    out[r["alert"]] = (f, r)
    return out


def recording_rules() -> dict[str, tuple[Path, dict[str, Any]]]:
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for f in rule_files():
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                if "record" in r:
                    out[r["record"]] = (f, r)
    return out


def rule_exprs() -> list[tuple[str, str]]:
    out = []
    for f in rule_files():
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                out.append((f"{f.name}:{r.get('alert') or r.get('record')}", r["expr"]))
    return out


# ---------------------------------------------------------------------------------------------------- variables
VAR_REF = re.compile(r"\$\{(?P<braced>[a-zA-Z_][a-zA-Z0-9_]*)(?::(?P<fmt>[a-zA-Z]+))?\}|\$(?P<plain>[a-zA-Z_][a-zA-Z0-9_]*)")


def referenced_variables(text: str) -> set[str]:
    return {m.group("braced") or m.group("plain") for m in VAR_REF.finditer(text)}


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace $var / ${var} / ${var:fmt} like Grafana does (values are already formatted for PromQL)."""
    merged = {**BUILTINS, **values}

    def repl(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        if name not in merged:
            raise KeyError(f"undefined template variable ${name}")
        return merged[name]

    return VAR_REF.sub(repl, text)


REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|{}\[\]]")


def grafana_regex_escape(value: str) -> str:
    """Grafana escapes multi-value/All variables for regex matchers; in a PromQL string that is a double backslash."""
    return REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value)


# ---------------------------------------------------------------------------------------------------- PromQL scan
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "count_over_time", "day_of_month", "day_of_week", "days_in_month", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln",
    "log10", "log2", "max_over_time", "min_over_time", "minute", "month", "predict_linear", "quantile_over_time",
    "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "time", "timestamp", "vector", "year", "last_over_time", "present_over_time",
}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
            "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_BRACES = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_TOKEN = re.compile(r"(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (identifiers that are not functions, aggregations or keywords)."""
    s = _STRING.sub('""', expr)
    s = _BRACES.sub(" ", s)
    s = _GROUPING.sub(" ", s)
    s = _RANGE.sub(" ", s)
    out = set()
    for m in _TOKEN.finditer(s):
        ident = m.group("ident")
        if not ident or ident.lower() in KEYWORDS or ident in FUNCTIONS or ident in AGGREGATIONS:
            continue
        out.add(ident)
    return out


_MATCHER = re.compile(r'(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"')


def label_matchers(expr: str) -> list[tuple[str, str, str]]:
    """(label, operator, value) of every matcher inside {...} selectors."""
    out = []
    for block in _BRACES.findall(expr):
        out += [(m.group("label"), m.group("op"), m.group("value")) for m in _MATCHER.finditer(block)]
    return out


HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def family_of(metric: str, families: set[str]) -> str | None:
    """The exposed family a series name belongs to (histogram series map to their family name)."""
    if metric in families:
        return metric
    for suffix in HISTOGRAM_SUFFIXES:
        if metric.endswith(suffix) and metric[: -len(suffix)] in families:
            return metric[: -len(suffix)]
    return None


# ---------------------------------------------------------------------------------------------------- fixtures
@dataclass
class Fixture:
    path: Path
    exporter: str
    target_labels: dict[str, str]
    uptime: float = 86400.0  # seconds over which the fixture's counters accrued (sets the rate they keep growing at)
    types: dict[str, str] = field(default_factory=dict)  # family -> counter/gauge/histogram/summary
    samples: list[tuple[str, str, float]] = field(default_factory=list)  # (series name, "{labels}", value)
    text: str = ""

    @property
    def families(self) -> set[str]:
        return set(self.types)


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{.*\})?\s+(?P<value>\S+)\s*$")


def parse_fixture(path: Path) -> Fixture:
    text = path.read_text()
    exporter, target, uptime = None, None, None
    types: dict[str, str] = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# mlplat-fixture:"):
            exporter = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split())["exporter"]
        elif line.startswith("# mlplat-target:"):
            target = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split())
        elif line.startswith("# mlplat-uptime:"):
            uptime = float(line.split(":", 1)[1])
        elif line.startswith("# TYPE "):
            _, _, name, mtype = line.split(maxsplit=3)
            types[name] = mtype.strip()
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            if not m:
                raise ValueError(f"{path.name}: cannot parse sample line {line!r}")
            samples.append((m.group("name"), m.group("labels") or "", float(m.group("value"))))
    if exporter is None or target is None or not uptime:
        raise ValueError(f"{path.name}: missing '# mlplat-fixture:', '# mlplat-target:' or '# mlplat-uptime:' header")
    return Fixture(path, exporter, target, uptime, types, samples, text)


def sample_family(name: str, types: dict[str, str]) -> str | None:
    """Family of an exposed sample, resolving counter _total and histogram/summary suffixes."""
    if name in types:
        return name
    for suffix in ("_total", "_created") + HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return None


def grows(name: str, types: dict[str, str]) -> bool:
    """Whether a sample is cumulative (counter, histogram/summary bucket, sum or count)."""
    fam = sample_family(name, types)
    if fam is None:
        return False
    mtype = types[fam]
    if mtype == "counter":
        return not name.endswith("_created")
    if mtype in ("histogram", "summary"):
        return name != fam  # _bucket/_sum/_count grow; summary quantiles do not
    return False


def exposed_names(fx: Fixture) -> set[str]:
    """Families as queries name them: counters by their sample name (with _total), histograms by family."""
    out = set()
    for name, _, _ in fx.samples:
        fam = sample_family(name, fx.types)
        if fam is None:
            out.add(name)
        elif fx.types[fam] in ("histogram", "summary"):
            out.add(fam)
        else:
            out.add(name)
    return out
