"""Device stacks: NVIDIA device plugin or GPU operator, EFA device plugin, the Neuron chart and neuron-monitor. They
run only on the pools they serve (never on the tainted system nodes), pin their charts, and set only Helm values
their charts define."""

from __future__ import annotations

import pytest

from mlplat import versions
from mlplat.addons import AddonContext, values_for
from mlplat.blueprint import parse_text
from mlplat.catalog import by_name
from mlplat.catalog.accelerators import NEURON_MONITOR_IMAGE, NEURON_SCHEDULER
from tests.accelerators.support import ALL_POOLS, EFA_DEVICE_PLUGIN_KEYS, GPU_OPERATOR_KEYS, OPERATOR
from tests.support import hcl, k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.synth import CANONICAL_TEXT, synth

GPU_T = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
EFA_T = {"key": "vpc.amazonaws.com/efa", "operator": "Exists", "effect": "NoSchedule"}
NEURON_T = {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}
SYSTEM_T = [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]
SYSTEM_SELECTOR = {"mlplat.io/pool": "system"}
DEVICE_RELEASES = ("nvidia-device-plugin", "nvidia-gpu-operator", "aws-efa-k8s-device-plugin", "aws-neuron",
                   "neuron-monitor")


@pytest.fixture(scope="module")
def all_pools():
    return synth(ALL_POOLS)


@pytest.fixture(scope="module")
def operator():
    return synth(OPERATOR)


def pinned(release, chart_key, namespace):
    chart = versions.CHARTS[chart_key]
    return (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        chart.chart, chart.repository, chart.version, namespace)


def test_all_pools_install_device_plugin_efa_and_neuron_stacks(all_pools):
    releases = all_pools.releases()
    assert sorted(r for r in releases if r in DEVICE_RELEASES) == [
        "aws-efa-k8s-device-plugin", "aws-neuron", "nvidia-device-plugin"]
    assert pinned(releases["nvidia-device-plugin"], "nvidia-device-plugin", "kube-system")
    assert pinned(releases["aws-efa-k8s-device-plugin"], "aws-efa-k8s-device-plugin", "kube-system")
    assert pinned(releases["aws-neuron"], "neuron-helm-chart", "kube-system")


def test_nvidia_device_plugin_serves_exactly_the_nvidia_pools(all_pools):
    assert all_pools.values("nvidia-device-plugin") == {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [
                {"key": "mlplat.io/accelerator", "operator": "In", "values": ["nvidia"]},
                {"key": "mlplat.io/ami-family", "operator": "NotIn", "values": ["bottlerocket"]},
            ]}]}}},
        "tolerations": [GPU_T, EFA_T],
    }
    # The canonical blueprint has only the gpu pool: no EFA toleration.
    assert synth().values("nvidia-device-plugin")["tolerations"] == [GPU_T]


def test_efa_device_plugin_serves_the_efa_pools(all_pools):
    assert all_pools.values("aws-efa-k8s-device-plugin") == {
        "nodeSelector": {"mlplat.io/efa": "true"}, "tolerations": [GPU_T, EFA_T, NEURON_T]}
    assert "aws-efa-k8s-device-plugin" not in synth().releases()


def test_neuron_chart_places_plugin_detector_and_scheduler(all_pools):
    on_neuron = {"nodeSelector": {"mlplat.io/accelerator": "neuron"}, "tolerations": [NEURON_T]}
    assert all_pools.values("aws-neuron") == {
        "devicePlugin": on_neuron,
        "scheduler": {"enabled": True, "nodeSelector": SYSTEM_SELECTOR, "tolerations": SYSTEM_T,
                      "customScheduler": {"enabled": True, "fullnameOverride": NEURON_SCHEDULER,
                                          "nodeSelector": SYSTEM_SELECTOR, "tolerations": SYSTEM_T,
                                          "image": {"repository": "public.ecr.aws/eks-distro/kubernetes/kube-scheduler",
                                                    "tag": "v1.36.2-eks-1-36-7"}}},
        "npd": {"enabled": True, "namespaceOverride": "kube-system", **on_neuron, "nodeRecovery": {"enabled": False}},
    }


def test_neuron_chart_keeps_its_neuronhealth_rules():
    # The chart's own kernel-log rules are what the detector runs; the platform does not override them.
    rules = chart_defaults("aws-neuron-helm-chart")["npd"]["config"]["kernelMonitor"]
    for reason in ("SRAM_UNCORRECTABLE_ERROR", "NC_UNCORRECTABLE_ERROR", "HBM_UNCORRECTABLE_ERROR", "DMA_ERROR"):
        assert f'"reason": "NeuronHasError_{reason}"' in rules and f"NEURON_HW_ERR={reason} " in rules


def test_gpu_operator_replaces_the_device_plugin_without_mig(operator):
    releases = operator.releases()
    assert "nvidia-device-plugin" not in releases
    assert pinned(releases["nvidia-gpu-operator"], "gpu-operator", "gpu-operator")
    system_affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "mlplat.io/pool", "operator": "In", "values": ["system"]}]}]}}}
    assert operator.values("nvidia-gpu-operator") == {
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        "cdi": {"enabled": False},
        "dcgmExporter": {"enabled": False},
        "operator": {"affinity": system_affinity, "tolerations": SYSTEM_T},
        "daemonsets": {"tolerations": [GPU_T, EFA_T]},
        "migManager": {"enabled": False},
        "node-feature-discovery": {
            "worker": {"nodeSelector": {"mlplat.io/accelerator": "nvidia"}, "tolerations": [GPU_T, EFA_T]},
            "master": {"nodeSelector": SYSTEM_SELECTOR, "tolerations": SYSTEM_T},
            "gc": {"nodeSelector": SYSTEM_SELECTOR, "tolerations": SYSTEM_T},
        },
    }
    pools = {o["metadata"]["name"]: o for o in operator.objects("karpenter-nodepools") if o["kind"] == "NodePool"}
    assert not any("nvidia.com/mig.config" in p["spec"]["template"]["metadata"]["labels"] for p in pools.values())


def test_device_plugin_and_operator_conflict():
    registry = by_name()
    assert registry["nvidia-device-plugin"].conflicts_with == ("nvidia-gpu-operator",)
    assert registry["nvidia-gpu-operator"].conflicts_with == ("nvidia-device-plugin",)
    assert registry["nvidia-gpu-operator"].toggle == "enable_nvidia_gpu_operator"


def test_gpu_operator_values_come_from_the_registry_without_a_cluster():
    bp = parse_text(CANONICAL_TEXT + hcl.render({"enable_nvidia_gpu_operator": True}), "bp.tfvars")
    values = values_for(by_name()["nvidia-gpu-operator"], AddonContext(bp, {}))
    assert values["migManager"] == {"enabled": False}


def test_node_auto_repair_toggle(operator, all_pools):
    # The detector only reports; Karpenter's node repair (with the EKS node monitoring agent) replaces nodes.
    assert operator.values("aws-neuron")["npd"]["nodeRecovery"] == {"enabled": False}
    assert operator.values("karpenter")["settings"]["featureGates"] == {"nodeRepair": True}
    assert all_pools.values("karpenter")["settings"]["featureGates"] == {"nodeRepair": False}


def test_neuron_monitor_only_with_the_observability_stack(operator, all_pools):
    assert "neuron-monitor" not in all_pools.releases()
    release = operator.releases()["neuron-monitor"]
    assert release["namespace"] == "neuron-monitor"
    assert any("kube-prometheus-stack" in d for d in release["depends_on"])
    objects = {o["kind"]: o for o in operator.objects("neuron-monitor")}
    assert sorted(objects) == ["DaemonSet", "Service", "ServiceMonitor"]
    for obj in objects.values():
        k8s.validate(obj)
    pod = objects["DaemonSet"]["spec"]["template"]["spec"]
    assert (pod["nodeSelector"], pod["tolerations"]) == ({"mlplat.io/accelerator": "neuron"}, [NEURON_T])
    container = pod["containers"][0]
    assert (container["image"], container["ports"]) == (
        NEURON_MONITOR_IMAGE, [{"name": "metrics", "containerPort": 8000, "protocol": "TCP"}])
    assert objects["Service"]["spec"]["ports"] == [{"name": "metrics", "port": 8000, "targetPort": "metrics"}]
    monitor = objects["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert objects["Service"]["metadata"]["labels"]["app.kubernetes.io/name"] == "neuron-monitor"
    assert monitor["spec"]["endpoints"] == [{
        "port": "metrics", "path": "/metrics", "scheme": "http", "interval": "30s", "honorLabels": False,
        "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}]}]
    assert monitor["spec"]["selector"]["matchLabels"] == objects["Service"]["spec"]["selector"]


def test_neuron_monitor_matches_the_scrape_contract(operator):
    import yaml

    from tests.support.paths import ROOT

    contract = yaml.safe_load((ROOT / "dashboards" / "scrape-contract.yaml").read_text())["exporters"]["neuron-monitor"]
    monitor = next(o for o in operator.objects("neuron-monitor") if o["kind"] == "ServiceMonitor")
    endpoint = monitor["spec"]["endpoints"][0]
    service = next(o for o in operator.objects("neuron-monitor") if o["kind"] == "Service")
    assert (service["metadata"]["labels"][monitor["spec"]["jobLabel"]], endpoint["port"], endpoint["path"],
            endpoint["scheme"], endpoint["honorLabels"]) == (
        contract["job"], contract["port"], contract["path"], contract["scheme"], contract["honor_labels"])
    assert {r["targetLabel"]: r["sourceLabels"][0] for r in endpoint["relabelings"]} == {
        k: v for k, v in contract["target_labels"].items() if v.startswith("__meta")}


def test_no_node_agent_lands_on_the_system_nodes(all_pools, operator):
    """A DaemonSet reaches the system nodes only if it tolerates CriticalAddonsOnly and nothing selects it away."""
    placements = {
        "nvidia-device-plugin": all_pools.values("nvidia-device-plugin"),
        "aws-efa-k8s-device-plugin": all_pools.values("aws-efa-k8s-device-plugin"),
        "neuron devicePlugin": all_pools.values("aws-neuron")["devicePlugin"],
        "neuron npd": all_pools.values("aws-neuron")["npd"],
        "nfd worker": operator.values("nvidia-gpu-operator")["node-feature-discovery"]["worker"],
        "neuron-monitor": next(o for o in operator.objects("neuron-monitor")
                               if o["kind"] == "DaemonSet")["spec"]["template"]["spec"],
    }
    for name, placement in placements.items():
        assert all(t["key"] != "CriticalAddonsOnly" for t in placement["tolerations"]), name
        selector = placement.get("nodeSelector", {})
        terms = (placement.get("affinity", {}).get("nodeAffinity", {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", []))
        # Every placement requires a pool label the system nodes (mlplat.io/pool=system) do not carry.
        required = set(selector) | {e["key"] for t in terms for e in t["matchExpressions"] if e["operator"] == "In"}
        assert required & {"mlplat.io/accelerator", "mlplat.io/efa"}, name
    # The GPU operator's operands follow NFD's nvidia.com/gpu.present label, which only the NFD workers above set.
    operands = operator.values("nvidia-gpu-operator")["daemonsets"]
    assert all(t["key"] != "CriticalAddonsOnly" for t in operands["tolerations"]) and "nodeSelector" not in operands


@pytest.mark.parametrize("release, reference", [("nvidia-device-plugin", "nvidia-device-plugin"),
                                                ("aws-neuron", "aws-neuron-helm-chart")])
def test_values_exist_in_the_reference_chart_at_the_pinned_version(all_pools, operator, release, reference):
    chart = by_name()[release].chart
    assert chart_version(reference) == chart.version, f"../shared/reference has {reference} {chart_version(reference)}"
    for s in (all_pools, operator):
        if release in s.releases():
            assert list(unknown_keys(s.values(release), chart_defaults(reference))) == []


def test_values_exist_in_the_verified_keys_of_charts_outside_the_reference(all_pools, operator):
    assert list(unknown_keys(operator.values("nvidia-gpu-operator"), GPU_OPERATOR_KEYS)) == []
    assert list(unknown_keys(all_pools.values("aws-efa-k8s-device-plugin"), EFA_DEVICE_PLUGIN_KEYS)) == []
    # The key sets must be able to fail.
    assert list(unknown_keys({"operator": {"nodeSelector": {}}}, GPU_OPERATOR_KEYS)) == ["operator.nodeSelector"]


def test_offline_checks_pass_with_every_accelerator_add_on(all_pools, operator):
    from mlplat.checks import check_kubernetes_stack

    for s in (all_pools, operator):
        report = check_kubernetes_stack(s.outdir / "stacks" / "mlplat-kubernetes" / "cdk.tf.json")
        assert report.problems == []
        assert report.core_objects_validated > 0
