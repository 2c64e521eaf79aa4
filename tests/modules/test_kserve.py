"""KServe (enable_kserve): RawDeployment mode on the system nodes after cert-manager and its own CRD release, pinned at
the release recorded in ../shared/reference, every value key one the chart has, no Ingress; the platform's vLLM
ClusterServingRuntimes on exactly the enabled pools (valid against the v0.20.0 CRD); the controller scraped only with
the observability stack; InferenceServices queued through Kueue's Deployment integration; and `mlplat validate
--workload` knowing the KServe kinds."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from mlplat import versions
from mlplat.addons import AddonGraphError, install_order
from mlplat.blueprint import parse_text
from mlplat.catalog import REGISTRY
from mlplat.catalog.modules import kueue_frameworks
from mlplat.nodepools import NEURON_SCHEDULER, POOL_LABEL, toleration_for
from mlplat.placement import fits, pod_specs
from mlplat.serving_runtimes import RUNTIME_POOLS, render, runtimes_for
from mlplat.workload_check import load_workloads, problems
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import ROOT, reference
from tests.support.synth import blueprint_text, synth

KSERVE = {"enable_kserve": True}
# Both runtimes' pools, Kueue and the observability stack: everything KServe connects to.
CONNECTED = {"enable_kserve": True, "enable_kueue": True, "enable_ai_ml_observability_stack": True,
             "neuron_az": "us-west-2b", "nodepools": {"neuron": {"enabled": True}}}
RELEASES = {"kserve-crd", "kserve", "serving-runtimes"}
SYSTEM = {"nodeSelector": {"mlplat.io/pool": "system"},
          "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}
EXAMPLES = {"kserve-vllm-gpu.yaml": ("qwen-gpu", "vllm-gpu", "gpu"),
            "kserve-neuron.yaml": ("qwen-inf2", "vllm-neuron", "neuron")}
EVERYTHING = (ROOT / "blueprints" / "everything-on.tfvars").read_text()


@pytest.fixture(scope="module")
def off():
    return synth()


@pytest.fixture(scope="module")
def on():
    return synth(KSERVE)


@pytest.fixture(scope="module")
def connected():
    return synth(CONNECTED)


def bp(delta):
    return parse_text(blueprint_text(delta), "bp.tfvars")


def helm_ids(s):
    return {f"helm_release.{k}": r["name"] for k, r in s.resources("kubernetes", "helm_release").items()}


def example(name):
    [doc] = [d for d in yaml.safe_load_all((ROOT / "examples" / name).read_text()) if d]
    return doc


# --- toggle -----------------------------------------------------------------------------------------------------------

def test_off_installs_nothing_of_kserve(off):
    assert not (RELEASES | {"kserve-monitoring", "cert-manager"}) & set(off.releases())


def test_on_installs_exactly_kserve_its_crds_its_runtimes_and_cert_manager(off, on):
    assert set(on.releases()) - set(off.releases()) == RELEASES | {"cert-manager"}
    for name in off.releases():  # nothing else changes
        assert on.values(name) == off.values(name), name


def test_cert_manager_comes_with_kserve_alone_and_keeps_its_values(on, connected):
    assert not on.blueprint.needs_opensearch
    assert on.values("cert-manager") == connected.values("cert-manager")


# --- pins and values --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("release", "chart"), [("kserve-crd", "kserve-crd"), ("kserve", "kserve-resources")])
def test_releases_are_pinned_to_the_reference_charts(on, release, chart):
    pin = versions.CHARTS[chart]
    r = on.releases()[release]
    assert (r["chart"], r["repository"], r["version"], r["namespace"]) == (
        chart, "oci://ghcr.io/kserve/charts", "v0.20.0", "kserve")
    assert pin.version == chart_version(chart)
    row = re.search(rf"^\| chart-values/{chart}/values.yaml \|[^|]*\|[^|]*\|[^|]*\| ([^ |]+) \|",
                    reference("SOURCES.md").read_text(), re.M)
    assert row and row.group(1) == pin.version


def test_every_value_key_exists_in_the_chart_defaults(on, connected):
    for s in (on, connected):
        assert list(unknown_keys(s.values("kserve"), chart_defaults("kserve-resources"))) == []
        assert s.values("kserve-crd") == {}  # the CRD chart has no values (its values.yaml is empty)
    assert chart_defaults("kserve-crd") == {}


def test_raw_deployment_on_the_system_nodes_with_no_ingress(on):
    controller = on.values("kserve")["kserve"]["controller"]
    assert controller == {"deploymentMode": "Standard", "gateway": {"disableIngressCreation": True}, **SYSTEM}
    # The chart's own default is Knative (serverless): the platform must override it.
    assert chart_defaults("kserve-resources")["kserve"]["controller"]["deploymentMode"] == "Knative"
    # Nothing asks for Knative, Istio, a Gateway or a public Service.
    text = yaml.safe_dump(on.values("kserve"))
    assert not re.search(r"LoadBalancer|NodePort|istio|knative|createGateway|enableGatewayApi", text, re.I)


def test_the_runtime_configs_chart_is_not_installed(connected):
    assert not {r["chart"] for r in connected.releases().values()} & {"kserve-runtime-configs"}
    # With its defaults it would render nothing: both of its switches are off.
    kserve = chart_defaults("kserve-runtime-configs")["kserve"]
    assert (kserve["servingruntime"]["enabled"], kserve["llmisvcConfigs"]["enabled"]) == (False, False)


# --- install order ----------------------------------------------------------------------------------------------------

def test_kserve_installs_after_cert_manager_and_its_crds(on):
    ids = {v: k for k, v in helm_ids(on).items()}
    releases = on.releases()
    assert set(releases["kserve"]["depends_on"]) == {ids["cert-manager"], ids["kserve-crd"]}
    assert releases["kserve"]["skip_crds"] is True
    assert releases["serving-runtimes"]["depends_on"] == [ids["kserve"]]
    order = [a.name for a in install_order(REGISTRY, on.blueprint)]
    assert order.index("cert-manager") < order.index("kserve")
    assert order.index("kserve-crd") < order.index("kserve") < order.index("serving-runtimes")


def test_a_missing_crd_release_is_named_with_its_toggle():
    registry = [dataclasses.replace(a, enabled=lambda bp: False) if a.name == "kserve-crd" else a for a in REGISTRY]
    with pytest.raises(AddonGraphError) as err:
        install_order(registry, bp(KSERVE))
    assert str(err.value) == "add-on 'kserve' depends on 'kserve-crd', which is not enabled (set enable_kserve = true)"


def test_a_registry_without_cert_manager_is_refused():
    registry = [a for a in REGISTRY if a.name != "cert-manager"]
    with pytest.raises(AddonGraphError) as err:
        install_order(registry, bp(KSERVE))
    assert str(err.value) == "add-on 'kserve' depends on 'cert-manager', which is not in the registry"


# --- serving runtimes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("delta", "expected"), [
    (KSERVE, ["vllm-gpu"]),  # the gpu pool is on by default
    (CONNECTED, ["vllm-gpu", "vllm-neuron"]),
    ({**KSERVE, "neuron_az": "us-west-2b", "nodepools": {"gpu": {"enabled": False}, "neuron": {"enabled": True}}},
     ["vllm-neuron"]),
    # inf1 runs no vLLM: the inferentia1 pool gets no runtime.
    ({**KSERVE, "nodepools": {"gpu": {"enabled": False}, "inferentia1": {"enabled": True}}}, []),
])
def test_a_runtime_per_enabled_pool_only(delta, expected):
    assert [r.name for r in runtimes_for(bp(delta))] == expected


def test_no_runtime_release_without_a_pool_for_one():
    blueprint = bp({**KSERVE, "nodepools": {"gpu": {"enabled": False}}})
    assert "serving-runtimes" not in {a.name for a in install_order(REGISTRY, blueprint)}
    assert "kserve" in {a.name for a in install_order(REGISTRY, blueprint)}


def test_runtimes_are_valid_and_placed_by_pool_label_and_tolerations(connected):
    objects = {o["metadata"]["name"]: o for o in connected.objects("serving-runtimes")}
    assert sorted(objects) == ["vllm-gpu", "vllm-neuron"]
    pools = {p.name: p for p in connected.blueprint.enabled_pools}
    for name, obj in objects.items():
        k8s.validate(obj)
        assert (obj["apiVersion"], obj["kind"]) == ("serving.kserve.io/v1alpha1", "ClusterServingRuntime")
        spec, pool = obj["spec"], pools[RUNTIME_POOLS[name]]
        assert spec["nodeSelector"] == {POOL_LABEL: pool.name}  # never an instance type
        assert spec["tolerations"] == toleration_for(pool)
        assert spec["supportedModelFormats"] == [{"name": "vllm", "autoSelect": False}]
        [container] = spec["containers"]
        assert container["name"] == "kserve-container"
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert spec["labels"] == {"app.kubernetes.io/component": "vllm"}  # the vLLM PodMonitor's selector
    assert objects["vllm-neuron"]["spec"]["schedulerName"] == NEURON_SCHEDULER
    assert "schedulerName" not in objects["vllm-gpu"]["spec"]
    assert objects["vllm-gpu"]["spec"]["containers"][0]["image"] == versions.KSERVE_VLLM_GPU_IMAGE
    assert objects["vllm-neuron"]["spec"]["containers"][0]["image"] == versions.KSERVE_VLLM_NEURON_IMAGE


def test_a_runtime_pod_fits_exactly_its_pool():
    every = bp(CONNECTED)
    for runtime in runtimes_for(every):
        spec = {k: v for k, v in render(runtime, {})["spec"].items()
                if k in ("nodeSelector", "tolerations", "containers")}
        assert [p.name for p in every.enabled_pools if fits(spec, p)] == [runtime.pool.name]


def test_the_gpu_runtime_runs_the_vllm_image_the_examples_run():
    images = set(re.findall(r"image: (vllm/vllm-openai:\S+)", (ROOT / "examples" / "vllm-multi-node-lws.yaml")
                            .read_text()))
    assert images == {versions.KSERVE_VLLM_GPU_IMAGE}


# --- metrics and queues -----------------------------------------------------------------------------------------------

def test_the_controller_is_scraped_only_with_the_observability_stack(on, connected):
    assert "kserve-monitoring" not in on.releases()
    [monitor] = connected.objects("kserve-monitoring")
    k8s.validate(monitor)
    assert monitor["metadata"]["namespace"] == "kserve"
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "kserve",
                                                          "control-plane": "kserve-controller-manager"}
    # kube-rbac-proxy's HTTPS port on the chart's metrics Service, behind a token check.
    [endpoint] = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["scheme"], endpoint["path"]) == ("https", "https", "/metrics")
    assert endpoint["bearerTokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ids = {v: k for k, v in helm_ids(connected).items()}
    assert set(connected.releases()["kserve-monitoring"]["depends_on"]) == {ids["kserve"], ids["kube-prometheus-stack"]}


def test_kueue_integrates_deployments_only_with_kserve(connected):
    assert "deployment" in kueue_frameworks(connected.blueprint, REGISTRY)
    assert "deployment" not in kueue_frameworks(bp({"enable_kueue": True}), REGISTRY)
    config = yaml.safe_load(connected.values("kueue")["managerConfig"]["controllerManagerConfigYaml"])
    assert {"pod", "deployment"} <= set(config["integrations"]["frameworks"])  # the Deployment one needs pods'


# --- examples and workload checks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_names_its_runtime_and_fits_exactly_its_pool(name):
    every = parse_text(EVERYTHING, "everything-on.tfvars")
    obj = example(name)
    k8s.validate(obj)
    isvc, runtime, pool = EXAMPLES[name]
    assert (obj["metadata"]["name"], obj["spec"]["predictor"]["model"]["runtime"]) == (isvc, runtime)
    runtimes = {r.name: render(r, {}) for r in runtimes_for(every)}
    [spec] = pod_specs(obj, runtimes).values()
    assert [p.name for p in every.enabled_pools if fits(spec, p)] == [pool]
    assert problems(every, load_workloads(ROOT / "examples" / name)) == []


def test_the_neuron_example_uses_the_neuron_scheduler():
    every = parse_text(EVERYTHING, "everything-on.tfvars")
    runtimes = {r.name: render(r, {}) for r in runtimes_for(every)}
    [spec] = pod_specs(example("kserve-neuron.yaml"), runtimes).values()
    assert spec["schedulerName"] == NEURON_SCHEDULER
    assert spec["nodeSelector"] == {POOL_LABEL: "neuron", "karpenter.k8s.aws/instance-family": "inf2"}


def isvc(runtime: str | None = "vllm-gpu", labels: str = "{}") -> str:
    runtime_line = f"\n      runtime: {runtime}" if runtime else ""
    return f"""apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: m
  namespace: ml-workloads
  labels: {labels}
spec:
  predictor:
    model:
      modelFormat:
        name: vllm{runtime_line}
      storageUri: hf://org/model
      resources:
        limits:
          nvidia.com/gpu: 1
"""


@pytest.mark.parametrize(("delta", "text", "expected"), [
    ({}, isvc(), "needs the InferenceService operator: set enable_kserve = true in the blueprint"),
    ({}, "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata:\n  name: m\n",
     "needs the ClusterServingRuntime operator: set enable_kserve = true in the blueprint"),
    (KSERVE, isvc(runtime=None), "spec.predictor.model.runtime is not set: the platform's runtimes are never picked "
                                 "implicitly; name one of: vllm-gpu"),
    (KSERVE, isvc(runtime="vllm-neuron"),
     "runtime 'vllm-neuron' is not installed by this blueprint: enable its pool (nodepools.neuron.enabled = true)"),
    (KSERVE, isvc(labels="{kueue.x-k8s.io/queue-name: gpu}"),
     "is labelled for Kueue queue 'gpu' but Kueue is off: set enable_kueue = true or remove the label"),
    # The user's own runtime: its pods are unknown, but its queue is still checked.
    (KSERVE, isvc(runtime="my-runtime", labels="{kueue.x-k8s.io/queue-name: gpu}"),
     "is labelled for Kueue queue 'gpu' but Kueue is off: set enable_kueue = true or remove the label"),
])
def test_an_inference_service_the_blueprint_cannot_run_is_explained(tmp_path: Path, delta, text, expected):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    kind = yaml.safe_load(text)["kind"]
    assert problems(bp(delta), load_workloads(path)) == [f"{path}:1: {kind}/m: {expected}"]


def test_an_inference_service_on_its_own_runtime_passes_when_unqueued(tmp_path: Path):
    path = tmp_path / "w.yaml"
    path.write_text(isvc(runtime="my-runtime"))
    assert problems(bp(KSERVE), load_workloads(path)) == []


def test_the_everything_on_blueprint_installs_kserve():
    s = synth(text=EVERYTHING)
    assert RELEASES | {"kserve-monitoring", "cert-manager"} <= set(s.releases())
    assert sorted(o["metadata"]["name"] for o in s.objects("serving-runtimes")) == ["vllm-gpu", "vllm-neuron"]


def test_the_predictor_pod_is_the_runtime_pod_under_the_model_and_predictor_fields():
    runtime = render(runtimes_for(bp(KSERVE))[0], {})
    obj = yaml.safe_load(isvc())
    obj["spec"]["predictor"].update({"nodeSelector": {"karpenter.sh/capacity-type": "on-demand"},
                                     "minReplicas": 2, "priorityClassName": "p"})
    obj["spec"]["predictor"]["model"]["args"] = ["--max-model-len=4096"]
    [pod] = pod_specs(obj, {"vllm-gpu": runtime}).values()
    assert pod["nodeSelector"] == {POOL_LABEL: "gpu", "karpenter.sh/capacity-type": "on-demand"}
    assert (pod["priorityClassName"], "minReplicas" in pod) == ("p", False)  # pod fields only
    [container] = pod["containers"]
    assert container["args"] == ["/mnt/models", "--port=8080", "--served-model-name={{.Name}}", "--max-model-len=4096"]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert "storageUri" not in container and "modelFormat" not in container
    # A predictor without a model runs its own containers; a model on an unknown runtime has no known pod.
    own = {"spec": {"predictor": {"containers": [{"name": "c", "image": "i"}], "minReplicas": 1}},
           "kind": "InferenceService"}
    assert pod_specs(own, {}) == {"predictor": {"containers": [{"name": "c", "image": "i"}]}}
    assert pod_specs(yaml.safe_load(isvc(runtime="other")), {"vllm-gpu": runtime}) == {}
