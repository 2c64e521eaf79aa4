"""The workload operators (KubeRay, LeaderWorkerSet): pinned at the release recorded in ../shared/reference, every
value key one the chart has, on the system nodes, the KubeRay operator scraped only with the observability stack, and
each in the everything-on blueprint."""

from __future__ import annotations

import re

import pytest

from mlplat import versions
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import ROOT, reference
from tests.support.synth import synth

SYSTEM = {"nodeSelector": {"mlplat.io/pool": "system"},
          "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}
# add-on -> (chart, reference folder, namespace, toggle)
OPERATORS = {
    "kuberay-operator": ("kuberay-operator", "kuberay-operator", "kuberay-system", "enable_kuberay_operator"),
    "leader-worker-set": ("lws", "lws", "lws-system", "enable_leader_worker_set"),
}
BOTH = {"enable_kuberay_operator": True, "enable_leader_worker_set": True}


@pytest.fixture(scope="module")
def both():
    return synth(BOTH)


@pytest.fixture(scope="module")
def observed():
    return synth({**BOTH, "enable_ai_ml_observability_stack": True})


def recorded_release(folder: str) -> str:
    """The release tag SOURCES.md records for a chart's values.yaml (some charts' Chart.yaml in git is a
    placeholder that the release stamps, so the tag is the version to compare)."""
    sources = reference("SOURCES.md").read_text()
    row = re.search(rf"^\| chart-values/{re.escape(folder)}/values.yaml \|[^|]*\|[^|]*\|[^|]*\| ([^ |]+) \|", sources,
                    re.M)
    assert row, f"no SOURCES.md row for chart-values/{folder}/values.yaml"
    return row.group(1).removeprefix("v")


@pytest.mark.parametrize("addon", sorted(OPERATORS))
def test_release_is_pinned_to_the_recorded_chart_on_the_system_nodes(both, addon):
    chart, folder, namespace, _ = OPERATORS[addon]
    release = both.releases()[addon]
    pin = versions.CHARTS[chart]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        chart, pin.repository, pin.version, namespace)
    assert pin.version == recorded_release(folder)
    values = both.values(addon)
    assert {k: values[k] for k in SYSTEM} == SYSTEM
    assert list(unknown_keys(values, chart_defaults(folder))) == []


def test_the_kuberay_pin_is_the_reference_charts_own_version():
    assert versions.CHARTS["kuberay-operator"].version == chart_version("kuberay-operator")


@pytest.mark.parametrize("addon", sorted(OPERATORS))
def test_each_toggle_installs_only_its_operator(addon):
    toggle = OPERATORS[addon][3]
    on = set(synth({toggle: True}).releases())
    off = set(synth().releases())
    assert on - off == {addon}


def test_the_kuberay_operator_is_scraped_only_with_the_observability_stack(both, observed):
    assert "kuberay-monitoring" not in both.releases()
    [monitor] = observed.objects("kuberay-monitoring")
    k8s.validate(monitor)
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "kuberay-operator",
                                                          "app.kubernetes.io/instance": "kuberay-operator"}
    assert monitor["spec"]["endpoints"] == [{"path": "/metrics", "interval": "30s", "port": "http"}]
    assert observed.values("kuberay-operator")["metrics"] == {"enabled": True}
    # The Prometheus operator and the ServiceMonitor CRD exist before the monitor is installed.
    depends = observed.releases()["kuberay-monitoring"]["depends_on"]
    assert {d.split(".")[1].split("_release")[0] for d in depends} == {"kuberay-operator", "kube-prometheus-stack"}


def test_the_everything_on_blueprint_installs_both():
    text = (ROOT / "blueprints" / "everything-on.tfvars").read_text()
    assert set(OPERATORS) <= set(synth(text=text).releases())
