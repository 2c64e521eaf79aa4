"""Every Helm value the stack sets exists in that chart's own values.yaml at the pinned version."""

from __future__ import annotations

import re

import yaml

from mlplat import versions
from mlplat.catalog import by_name
from tests.observability_stack.test_stack import EVERY_RELEASE
from tests.observability_stack.verified_keys import CHARTS, COMMENTED_KEYS, SUBCHARTS, accepted
from tests.support.chart_values import FREE_FORM, chart_defaults, chart_version, unknown_keys
from tests.support.paths import reference

IN_REFERENCE = {"kube-prometheus-stack", "dcgm-exporter", "fluent-bit", "opensearch", "metrics-server",
                "opensearch-dashboards"}


def chart_releases(stack_on):
    """(case, release, chart, values) of every stack release installed from a chart."""
    for case, s in stack_on.items():
        for release in sorted(EVERY_RELEASE & set(s.releases())):
            chart = by_name()[release].chart
            if chart is not None:
                yield case, release, chart.chart, s.values(release)


def leaf_keys(values, path=""):
    """Dotted paths of the values, down to scalars, lists and free-form maps."""
    if isinstance(values, dict) and values and path.rsplit(".", 1)[-1] not in FREE_FORM:
        for key, value in values.items():
            yield from leaf_keys(value, f"{path}.{key}" if path else key)
    else:
        yield path


def test_the_charts_split_into_reference_and_recorded_ones(stack_on):
    charts = {chart for _, _, chart, _ in chart_releases(stack_on)}
    assert charts == IN_REFERENCE | set(CHARTS)
    for chart in IN_REFERENCE:
        assert chart_version(chart) == versions.CHARTS[chart].version, chart
    for chart, verified in CHARTS.items():
        assert verified.version == versions.CHARTS[chart].version, f"{chart}: re-check keys against the new values.yaml"


def test_every_value_key_exists_in_the_charts_values(stack_on):
    unknown = []
    for case, release, chart, values in chart_releases(stack_on):
        if chart in IN_REFERENCE:
            for key in unknown_keys(values, chart_defaults(chart)):
                sub, _, rest = key.partition(".")
                if key in COMMENTED_KEYS.get(chart, {}):
                    continue
                if chart == "kube-prometheus-stack" and sub in SUBCHARTS:
                    # Every leaf below the key the parent chart's defaults lack must be recorded for the subchart.
                    node = values
                    for part in key.split("."):
                        node = node[part]
                    leaves = [f"{rest}.{leaf}" if leaf else rest for leaf in leaf_keys(node)]
                    unknown.extend(f"{case}: {release}: {sub}.{leaf}" for leaf in leaves
                                   if not accepted(leaf, SUBCHARTS[sub].keys))
                    continue
                unknown.append(f"{case}: {release}: {key}")
        else:
            unknown.extend(f"{case}: {release}: {key}" for key in leaf_keys(values)
                           if not accepted(key, CHARTS[chart].keys))
    assert unknown == []


def test_subchart_records_match_the_dependencies_of_the_pinned_kube_prometheus_stack():
    chart = yaml.safe_load(reference("chart-values", "kube-prometheus-stack", "Chart.yaml").read_text())
    pinned = {d["name"]: d["version"] for d in chart["dependencies"]}
    assert {name: v.version for name, v in SUBCHARTS.items()} == {name: pinned[name] for name in SUBCHARTS}


def test_commented_keys_are_documented_in_the_reference_values():
    for chart, keys in COMMENTED_KEYS.items():
        text = reference("chart-values", chart, "values.yaml").read_text()
        defaults = chart_defaults(chart)
        for key in keys:
            parent, _, leaf = key.rpartition(".")
            node = defaults
            for part in filter(None, parent.split(".")):
                node = node[part]
            assert leaf not in node, f"{chart}: {key} is a real key now; drop it from COMMENTED_KEYS"
            assert re.search(rf"^\s*#\s*{re.escape(leaf)}:", text, re.M), f"{chart}: no `# {leaf}:` in values.yaml"


def test_the_checks_reject_an_unknown_key():
    assert list(unknown_keys({"grafana": {"adminPasswordd": "x"}}, chart_defaults("kube-prometheus-stack"))) == [
        "grafana.adminPasswordd"]
    assert not accepted("grafana.adminPasswordd", SUBCHARTS["grafana"].keys)
    assert [k for k in leaf_keys({"loki": {"storage": {"typo": "s3"}}}) if not accepted(k, CHARTS["loki"].keys)] == [
        "loki.storage.typo"]
    assert accepted("loki.limits_config.retention_period", CHARTS["loki"].keys)
