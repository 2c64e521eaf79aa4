"""One regression test per item of ../shared/audits/kubernetes-layer.md (install-blocking B1-B3, silent failures
S1-S13, security and cosmetic notes), named after it."""

from __future__ import annotations

import json

import pytest
import yaml

from mlplat import versions
from mlplat.catalog import REGISTRY
from mlplat.errors import BlueprintError
from tests.modules.blueprints import FULL, GITOPS, applications, parent_application
from tests.support.synth import synth

SYSTEM_TOLERATION = {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}
SYSTEM = {"nodeSelector": {"mlplat.io/pool": "system"}, "tolerations": [SYSTEM_TOLERATION]}
NEURON = {"nodepools": {"neuron": {"enabled": True}, "inferentia1": {"enabled": True}}, "neuron_az": "us-west-2a",
          "enable_kueue": True}


@pytest.fixture(scope="module")
def gitops():
    return synth(GITOPS)


@pytest.fixture(scope="module")
def full():
    return synth(FULL)


@pytest.fixture(scope="module")
def neuron():
    return synth(NEURON)


# --- install-blocking ---------------------------------------------------------------------------------------------------

def test_k8s_audit_B1_external_secrets_runs_on_the_system_nodes(gitops):
    eso = gitops.values("external-secrets")
    for part in (eso, eso["webhook"], eso["certController"]):
        assert {"nodeSelector": part["nodeSelector"], "tolerations": part["tolerations"]} == SYSTEM
    # Argo CD mode: Helm installs only what runs on (or needs) the system nodes, plus Karpenter and its pools.
    assert set(gitops.releases()) == {"karpenter-crd", "karpenter", "karpenter-nodepools", "external-secrets",
                                      "platform-secrets", "argo-cd", "argocd-applications"}


def test_k8s_audit_B2_node_pools_exist_before_any_argocd_wave(gitops):
    parent = gitops.releases()["argocd-applications"]
    nodepools = next(k for k, r in gitops.resources("kubernetes", "helm_release").items()
                     if r["name"] == "karpenter-nodepools")
    assert f"helm_release.{nodepools}" in parent["depends_on"]
    assert "karpenter-nodepools" not in applications(gitops)


def test_k8s_audit_B3_kube_scheduler_tags_exist_upstream():
    from tests.support.paths import ROOT

    record = json.loads((ROOT / "tests" / "upstream" / "eks-distro-kube-scheduler-tags.json").read_text())
    assert versions.KUBE_SCHEDULER_REPOSITORY == record["repository"]
    for minor, tag in versions.KUBE_SCHEDULER_TAGS.items():
        assert tag in record["tags"][minor], f"{minor}: {tag} is not an EKS Distro kube-scheduler tag"
    assert "v1.34.11-eks-1-34-24" not in record["tags"]["1.34"]


def test_k8s_audit_B3_neuron_scheduler_uses_the_pin_of_the_cluster_version():
    s = synth({"nodepools": {"neuron": {"enabled": True}}, "neuron_az": "us-west-2a", "eks_cluster_version": "1.34"})
    image = s.values("aws-neuron")["scheduler"]["customScheduler"]["image"]
    assert image == {"repository": versions.KUBE_SCHEDULER_REPOSITORY, "tag": "v1.34.9-eks-1-34-21"}


# --- silent failures ----------------------------------------------------------------------------------------------------

def test_k8s_audit_S1_argocd_owns_its_secret_and_external_secrets_only_merges(full):
    assert full.values("argo-cd")["configs"]["secret"] == {"createSecret": True}
    [secret] = [o for o in full.objects("platform-secrets")
                if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "argocd-secret"]
    assert secret["spec"]["target"]["creationPolicy"] == "Merge"
    assert sorted(secret["spec"]["target"]["template"]["data"]) == ["admin.password", "admin.passwordMtime"]
    # Every other generated secret is External Secrets' own.
    others = {o["metadata"]["name"]: o["spec"]["target"]["creationPolicy"] for o in full.objects("platform-secrets")
              if o["kind"] == "ExternalSecret" and o["metadata"]["name"] != "argocd-secret"}
    assert set(others.values()) == {"Owner"}


def test_k8s_audit_S2_parent_application_cascades_on_delete(gitops):
    parent = parent_application(gitops)
    assert parent["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_k8s_audit_S3_capacity_consumers_wait_for_the_node_pools(full):
    from mlplat.addons import POOLS

    releases = full.releases()
    ids = {r["name"]: f"helm_release.{k}" for k, r in full.resources("kubernetes", "helm_release").items()}
    on_pools = sorted(a.name for a in REGISTRY if a.placement == POOLS and a.name in releases)
    assert on_pools == ["kube-prometheus-stack", "mlflow", "opencost", "opensearch", "opensearch-dashboards",
                        "opensearch-dashboards-setup", "opensearch-log-retention", "opensearch-users", "yace"]
    for name in on_pools:
        assert ids["karpenter-nodepools"] in releases[name]["depends_on"], name
    # The node pools' uninstall waits for the nodes to drain (which now happens after the consumers are gone).
    assert releases["karpenter-nodepools"]["timeout"] == 1800


def test_k8s_audit_S3_loki_and_tempo_claims_go_with_their_statefulsets():
    s = synth({"enable_ai_ml_observability_stack": True, "observability_logs_backend": "loki",
               "enable_tracing": True})
    loki = s.values("loki")["singleBinary"]["persistence"]
    assert (loki["enableStatefulSetAutoDeletePVC"], loki["whenDeleted"], loki["whenScaled"]) == (True, "Delete",
                                                                                                 "Retain")
    assert s.values("tempo")["persistence"]["enableStatefulSetAutoDeletePVC"] is True


def test_k8s_audit_S4_neuron_queues_cover_neuron_cores(neuron):
    queues = {o["metadata"]["name"]: o for o in neuron.objects("kueue-queues") if o["kind"] == "ClusterQueue"}
    for name, cores_per_device in (("neuron", 2), ("inferentia1", 4)):
        group = queues[name]["spec"]["resourceGroups"][0]
        # trn pools also carry EFA (vpc.amazonaws.com/efa, covered since Kueue stopped ignoring it); inf1 does not.
        efa = ["vpc.amazonaws.com/efa"] if name == "neuron" else []
        assert group["coveredResources"] == ["cpu", "memory", "aws.amazon.com/neuron", "aws.amazon.com/neuroncore",
                                             *efa]
        quotas = {r["name"]: r["nominalQuota"] for r in group["flavors"][0]["resources"]}
        assert quotas["aws.amazon.com/neuroncore"] == quotas["aws.amazon.com/neuron"] * cores_per_device, name


def test_k8s_audit_S5_node_recovery_works_on_karpenter_nodes_or_is_refused():
    with pytest.raises(BlueprintError) as err:
        synth({"enable_neuron_node_recovery": True})
    assert err.value.problems[-1].endswith(
        "enable_neuron_node_recovery: no longer supported: replaced by enable_node_auto_repair: the Neuron node "
        "problem detector's recovery marks an Auto Scaling group instance unhealthy, and Karpenter nodes belong to "
        "none")
    s = synth({"enable_node_auto_repair": True})
    assert s.values("karpenter")["settings"]["featureGates"] == {"nodeRepair": True}
    addons = [a["addon_name"] for a in s.resources("aws", "aws_eks_addon").values()]
    assert "eks-node-monitoring-agent" in addons
    off = synth()
    assert off.values("karpenter")["settings"]["featureGates"] == {"nodeRepair": False}
    assert "eks-node-monitoring-agent" not in [a["addon_name"] for a in off.resources("aws", "aws_eks_addon").values()]
    assert synth(NEURON).values("aws-neuron")["npd"]["nodeRecovery"] == {"enabled": False}


@pytest.mark.parametrize("delta", [{"nvidia_mig_strategy": "mixed"},
                                   {"nodepools": {"gpu": {"mig_config": "all-1g.10gb"}}}])
def test_k8s_audit_S6_mig_is_refused_with_the_reason(delta):
    with pytest.raises(BlueprintError) as err:
        synth({"enable_nvidia_gpu_operator": True, **delta})
    assert err.value.problems[-1].split(": no longer supported: ")[1] == (
        "MIG slices cannot be provisioned on Karpenter pools: Karpenter 1.14 counts whole GPUs per instance type, so "
        "pods asking for slices never launch a node (NodeOverlay, which could declare them, is an alpha feature); "
        "request whole GPUs (nvidia.com/gpu) and remove this key")
    operator = synth({"enable_nvidia_gpu_operator": True}).values("nvidia-gpu-operator")
    assert operator["migManager"] == {"enabled": False} and "mig" not in operator


def test_k8s_audit_S7_metrics_server_certificate_does_not_drift_in_argocd_mode(gitops):
    app = applications(gitops)["metrics-server"]
    assert {"group": "apiregistration.k8s.io", "kind": "APIService",
            "jqPathExpressions": [".spec.caBundle"]} in app["spec"]["ignoreDifferences"]
    assert {"kind": "Secret", "jsonPointers": ["/data"]} in app["spec"]["ignoreDifferences"]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_k8s_audit_S8_no_control_plane_scrapes_eks_cannot_serve(full):
    kps = full.values("kube-prometheus-stack")
    assert {k: kps[k] for k in ("kubeControllerManager", "kubeScheduler", "kubeEtcd")} == {
        "kubeControllerManager": {"enabled": False}, "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False}}


def test_k8s_audit_S9_crds_are_upgraded_with_their_charts(full):
    releases = full.releases()
    crd = releases["karpenter-crd"]
    assert (crd["chart"], crd["repository"], crd["version"]) == ("karpenter-crd", "oci://public.ecr.aws/karpenter",
                                                                  versions.CHARTS["karpenter"].version)
    assert releases["karpenter"]["skip_crds"] is True
    ids = {r["name"]: f"helm_release.{k}" for k, r in full.resources("kubernetes", "helm_release").items()}
    assert ids["karpenter-crd"] in releases["karpenter"]["depends_on"]
    job = full.values("kube-prometheus-stack")["crds"]["upgradeJob"]
    assert (job["enabled"], job["image"]["busybox"]["tag"], job["nodeSelector"], job["tolerations"]) == (
        True, "1.37.0", SYSTEM["nodeSelector"], SYSTEM["tolerations"])


def test_k8s_audit_S10_opensearch_reloads_renewed_certificates(full):
    config = yaml.safe_load(full.values("opensearch")["config"]["opensearch.yml"])
    assert config["plugins.security.ssl.certificates_hot_reload.enabled"] is True
    # Hot reload watches the mounted directory: a whole-Secret mount, not a subPath one.
    [mount] = full.values("opensearch")["secretMounts"]
    assert "subPath" not in mount


def test_k8s_audit_S11_kueue_manages_only_the_workload_namespaces(full):
    config = yaml.safe_load(full.values("kueue")["managerConfig"]["controllerManagerConfigYaml"])
    assert config["managedJobsNamespaceSelector"] == {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ml-workloads"]}]}


def test_k8s_audit_S12_training_pools_never_expire_or_drift_mid_job():
    s = synth({"nodepools": {"gpu-efa": {"enabled": True}, "neuron": {"enabled": True}}, "cuda_efa_az": "us-west-2a",
               "neuron_az": "us-west-2b"})
    pools = {o["metadata"]["name"]: o["spec"] for o in s.objects("karpenter-nodepools") if o["kind"] == "NodePool"}
    for name in ("gpu-efa", "neuron"):
        assert pools[name]["template"]["spec"]["expireAfter"] == "Never", name
        assert pools[name]["disruption"]["budgets"] == [{"nodes": "10%"}, {"nodes": "0", "reasons": ["Drifted"]}]
    for name in ("general", "gpu"):
        assert pools[name]["template"]["spec"]["expireAfter"] == "720h", name
        assert pools[name]["disruption"]["budgets"] == [{"nodes": "10%"}], name


def test_k8s_audit_S13_neuron_scheduler_advice_is_documented():
    from tests.support.paths import ROOT

    readme = (ROOT / "README.md").read_text()
    assert "request whole Neuron devices" in readme


# --- security and cosmetic ----------------------------------------------------------------------------------------------

def test_k8s_audit_X1_node_ami_pin_is_a_recorded_current_release():
    assert versions.AL2023_AMI_ALIAS == "al2023@v20260714"
    assert versions.AL2023_AMI_RELEASE in versions.AL2023_AMI_RELEASES
    assert versions.BOTTLEROCKET_AMI_ALIAS == f"bottlerocket@{versions.BOTTLEROCKET_RELEASE}"


def test_k8s_audit_X2_external_secrets_is_the_release_in_the_reference(full):
    """2.9.0, the newest the audit found (was 1.3.2); its objects validate against the 2.9.0 CRDs (test_stack)."""
    from tests.support.chart_values import chart_version

    assert versions.CHARTS["external-secrets"].version == chart_version("external-secrets") == "2.9.0"
    assert full.releases()["external-secrets"]["version"] == "2.9.0"


def test_k8s_audit_X3_argocd_server_keeps_its_own_keys(full):
    """The S1 fight also regenerated argocd-server's TLS key on every restart; with Merge, its keys stay."""
    [secret] = [o for o in full.objects("platform-secrets") if o["metadata"]["name"] == "argocd-secret"
                and o["kind"] == "ExternalSecret"]
    assert "server.secretkey" not in secret["spec"]["target"]["template"]["data"]
    assert "tls.crt" not in secret["spec"]["target"]["template"]["data"]
