"""Every panel of every dashboard has data behind it on a platform that runs what the panel is about: each metric a
panel reads comes from a recording rule (whose own inputs are traced the same way) or from an exporter of the scrape
contract that the synthesized Kubernetes layer deploys and scrapes. An orphan (a panel whose metric no deployed
add-on emits, as the EFA and FSx panels were before their exporters) fails with the panel's name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from tests.observability import support as s
from tests.observability_stack.blueprints import EFA_POOL, ON
from tests.observability_stack.test_stack import monitors
from tests.support.synth import Synth, synth

# Everything a dashboard is about: the stack, GPU (canonical), GPU+EFA and Neuron pools, FSx (canonical), Kueue.
EVERYTHING = {**ON, **EFA_POOL, "nodepools": {**EFA_POOL["nodepools"], "neuron": {"enabled": True}},
              "neuron_az": "us-west-2a", "enable_kueue": True}

Deployed = Callable[[Synth], bool]


def _monitors(syn: Synth) -> dict[str, dict]:
    return monitors(syn) if "monitoring-objects" in syn.releases() else {}


def _monitored(release: str, job: str) -> Deployed:
    """An add-on that runs the exporter, and the platform's monitor that scrapes it with the contract's job."""
    return lambda syn: release in syn.releases() and job in _monitors(syn)


def _workload(job: str) -> Deployed:
    """The workload (a vLLM, Triton or Ray pod the user runs) is the exporter; the platform deploys its monitor."""
    return lambda syn: job in _monitors(syn)


def _kps_component(key: str) -> Deployed:
    """kube-prometheus-stack's own exporters and scrapes, on unless its values turn them off."""
    def deployed(syn: Synth) -> bool:
        values = syn.values("kube-prometheus-stack") if "kube-prometheus-stack" in syn.releases() else None
        return values is not None and values.get(key, {}).get("enabled", True) is not False
    return deployed


def _neuron_monitor(syn: Synth) -> bool:
    """The neuron-monitor add-on carries its own monitor, of the contract's kind, job label and port."""
    contract = s.load_contract()["exporters"]["neuron-monitor"]
    return "neuron-monitor" in syn.releases() and any(
        o["kind"] == contract["kind"] and o["metadata"]["name"] == contract["job"]
        and o["spec"]["endpoints"][0]["port"] == contract["port"] for o in syn.objects("neuron-monitor"))


# Contract exporter -> what deploys it. A new contract exporter must say here what deploys it.
SOURCES: dict[str, Deployed] = {
    "dcgm-exporter": _monitored("dcgm-exporter", "dcgm-exporter"),
    "node-exporter": _kps_component("nodeExporter"),
    "efa-node-exporter": _monitored("efa-node-exporter", "efa-node-exporter"),
    "neuron-monitor": _neuron_monitor,
    "kube-state-metrics": _kps_component("kubeStateMetrics"),
    "kubelet-cadvisor": _kps_component("kubelet"),
    "vllm": _workload("vllm"),
    "triton": _workload("triton"),
    "bentoml": _workload("bentoml"),
    "kueue": _monitored("kueue", "kueue"),
    "karpenter": _monitored("karpenter", "karpenter"),
    "opencost": _monitored("opencost", "opencost"),
    "cloudwatch-fsx": _monitored("yace", "yace"),
    "ray-head": _workload("ray-head"),
    "ray-workers": _workload("ray-workers"),
    "fluent-bit": _monitored("fluent-bit", "fluent-bit"),
}


def panel_metrics() -> dict[str, set[str]]:
    """'<dashboard> panel <id> '<title>'' -> the metrics its PromQL targets read."""
    out: dict[str, set[str]] = {}
    for path in s.dashboard_files():
        for target in s.prometheus_targets(path):
            key = f"{target.dashboard} panel {target.panel_id} '{target.panel_title}'"
            # Template variables stand for label values and numbers, never for metric names.
            out.setdefault(key, set()).update(s.metric_names(s.VAR_REF.sub("1", target.expr)))
    return out


def orphans(deployed_exporters: set[str], contract: Mapping[str, object]) -> list[str]:
    """Each panel metric that neither a recording rule nor a deployed exporter provides, named with its panel."""
    exporters = contract["exporters"]  # type: ignore[index]
    families_by_exporter = {name: set(e["metrics"]) for name, e in exporters.items()}  # type: ignore[index]
    recorded = {name: rule["expr"] for name, (_, rule) in s.recording_rules().items()}

    def provided(metric: str, seen: frozenset[str] = frozenset()) -> bool:
        if metric in recorded:
            inputs = s.metric_names(recorded[metric]) - seen - {metric}
            return all(provided(m, seen | {metric}) for m in inputs)
        return any(s.family_of(metric, families) and name in deployed_exporters
                   for name, families in families_by_exporter.items())

    return sorted(f"{panel}: {metric}" for panel, metrics in panel_metrics().items()
                  for metric in sorted(metrics) if not provided(metric))


@pytest.fixture(scope="module")
def everything() -> Synth:
    return synth(EVERYTHING)


def deployed_exporters(syn: Synth) -> set[str]:
    return {name for name, deployed in SOURCES.items() if deployed(syn)}


def test_every_contract_exporter_says_what_deploys_it():
    assert sorted(s.load_contract()["exporters"]) == sorted(SOURCES)


def test_every_panel_has_a_deployed_source(everything: Synth):
    running = deployed_exporters(everything)
    assert sorted(running) == sorted(SOURCES)  # every exporter runs on this platform
    assert orphans(running, s.load_contract()) == []
    assert len(panel_metrics()) > 40  # the scan sees the dashboards' panels


def test_an_exporter_that_is_not_deployed_leaves_its_panels_orphaned(everything: Synth):
    running = deployed_exporters(everything)
    found = orphans(running - {"cloudwatch-fsx", "efa-node-exporter"}, s.load_contract())
    assert found and all(line.startswith("gpu-training.json panel ") for line in found)
    assert {line.rsplit(": ", 1)[1] for line in found} >= {"aws_fsx_data_read_bytes_sum",
                                                           "node_amazonefa_rx_bytes"}


def test_without_the_source_the_exporter_is_not_deployed(efa: Synth, off: Synth):
    # FSx off: no YACE; the stack off: nothing at all.
    assert "cloudwatch-fsx" not in deployed_exporters(efa)
    assert deployed_exporters(off) == set()


def test_the_readme_documents_how_workloads_are_scraped(on: Synth):
    """The README's workload table says, for every monitor that selects workloads in any namespace, the label it
    selects by and the port name it scrapes: what a user must put on their pods."""
    from mlplat.catalog.observability import scrapes
    from tests.support.paths import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Metrics from your workloads", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[2].strip(): line for line in section.splitlines()
            if line.startswith("| ") and "job `" in line}
    workload_scrapes = [sc for sc in scrapes(on.blueprint) if not sc.namespaces]
    assert sorted(rows) == sorted(f"{sc.kind}, job `{sc.job}`" for sc in workload_scrapes)
    for sc in workload_scrapes:
        row = rows[f"{sc.kind}, job `{sc.job}`"]
        [(label, value)] = sc.selector.items()
        assert f"`{label}: {value}`" in row and f"| `{sc.port}` |" in row and f"| `{sc.path}` |" in row, row
