"""Argo CD: hardened, pinned install with the generated admin secret; and the 'argocd' delivery mode, which must
deliver the very add-ons, charts, versions and values the 'helm' mode installs."""

from __future__ import annotations

import pytest
import yaml

from mlplat import versions
from mlplat.addons import LOCAL_CHARTS_DIR, MANIFESTS_CHART
from mlplat.catalog import by_name
from mlplat.catalog.modules import APPLICATION_HEALTH_KEY
from mlplat.catalog.secrets import secret_uses
from tests.modules.blueprints import ARGOCD, FULL, GITOPS, REPO, REVISION, applications, parent_application
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.synth import synth

# The chart copies every configs.cm key into the argocd-cm ConfigMap (a free-form map of Argo CD settings); this one
# is the documented Application health check (docs/operator-manual/health.md, "Argo CD App").
ARGOCD_CM_SETTINGS = {f"configs.cm.{APPLICATION_HEALTH_KEY}"}
SYSTEM = {"nodeSelector": {"kubernetes.io/os": "linux", "mlplat.io/pool": "system"},
          "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}
# Helm installs Argo CD with what it needs, and the capacity every Application runs on (Karpenter and its pools).
BOOTSTRAP = {"argo-cd", "external-secrets", "platform-secrets", "karpenter-crd", "karpenter", "karpenter-nodepools"}


@pytest.fixture(scope="module")
def argocd_only():
    return synth(ARGOCD)


@pytest.fixture(scope="module")
def full():
    return synth(FULL)


@pytest.fixture(scope="module")
def gitops():
    return synth(GITOPS)


def test_release_is_pinned_and_the_pin_matches_the_reference_chart(argocd_only):
    release = argocd_only.releases()["argo-cd"]
    pin = versions.CHARTS["argo-cd"]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "argo-cd", "https://argoproj.github.io/argo-helm", "10.1.1", "argocd")
    assert pin.version == chart_version("argo-cd")


def test_admin_password_comes_from_secrets_manager_and_the_chart_sets_none(argocd_only):
    values = argocd_only.values("argo-cd")
    # The chart makes argocd-secret without a password; External Secrets merges the admin hash in (S1 of the audit).
    assert values["configs"]["secret"] == {"createSecret": True}
    assert "argocdServerAdminPassword" not in str(values)
    # The server creates argocd-initial-admin-secret only when it starts before argocd-secret has a password; the
    # mounted key keeps it from starting until External Secrets wrote it.
    assert values["server"]["volumes"] == [{"name": "admin-password-ready", "secret": {
        "secretName": "argocd-secret", "items": [{"key": "admin.password", "path": "admin.password"}]}}]
    assert values["server"]["volumeMounts"] == [
        {"name": "admin-password-ready", "mountPath": "/run/mlplat/argocd-admin", "readOnly": True}]
    [use] = [u for u in secret_uses(argocd_only.blueprint) if u.purpose == "argocd-admin"]
    assert (use.namespace, use.secret_name) == ("argocd", "argocd-secret")
    assert use.template["admin.password"] == "{{ .password | bcrypt }}"
    eso = {o["metadata"]["name"]: o for o in argocd_only.objects("platform-secrets") if o["kind"] == "ExternalSecret"}
    [key] = eso["argocd-secret"]["spec"]["dataFrom"]
    assert key["extract"]["key"].endswith("secret-argocd-admin_secret_D4F74D6Ename}")
    assert eso["argocd-secret"]["spec"]["target"]["creationPolicy"] == "Merge"
    assert [d.split(".")[1].split("_")[0] for d in argocd_only.releases()["argo-cd"]["depends_on"]] == [
        "platform-secrets"]


def test_hardened_and_private_by_default(argocd_only):
    values = argocd_only.values("argo-cd")
    defaults = chart_defaults("argo-cd")
    assert "service" not in values["server"] and defaults["server"]["service"]["type"] == "ClusterIP"
    assert "params" not in values["configs"]  # server.insecure, TLS-off flags: never set
    assert not any("insecure" in arg for c in ("server", "controller", "repoServer")
                   for arg in values.get(c, {}).get("extraArgs", []))
    assert values["dex"] == {"enabled": False}
    assert values["global"]["nodeSelector"] == SYSTEM["nodeSelector"]
    assert values["global"]["tolerations"] == SYSTEM["tolerations"]
    assert (values["server"]["replicas"], values["server"]["pdb"]) == (2, {"enabled": True, "minAvailable": 1})
    assert (values["repoServer"]["replicas"], values["repoServer"]["pdb"]) == (2, {"enabled": True, "minAvailable": 1})
    assert values["fullnameOverride"] == "argocd"
    assert "cm" not in values["configs"] and "metrics" not in values["server"]
    assert list(unknown_keys(values, defaults)) == []


def test_internal_load_balancer_when_asked_restricted_to_the_given_cidrs(full, argocd_only):
    assert full.values("argo-cd")["server"]["service"] == {
        "type": "LoadBalancer",
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
                        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance"},
        "loadBalancerSourceRanges": ["10.20.0.0/16", "192.168.0.0/24"],
    }
    vpc_only = synth({**ARGOCD, "argocd_internal_load_balancer": True})
    assert vpc_only.values("argo-cd")["server"]["service"]["loadBalancerSourceRanges"] == ["10.1.0.0/16"]
    assert list(unknown_keys(full.values("argo-cd"), chart_defaults("argo-cd"))) == []


def test_metrics_are_scraped_when_the_observability_stack_is_on(full, argocd_only):
    values = full.values("argo-cd")
    assert [values[c]["metrics"] for c in ("controller", "server", "repoServer")] == [{"enabled": True}] * 3
    monitors = full.objects("argocd-monitoring")
    assert [(m["metadata"]["name"], m["spec"]["selector"]["matchLabels"]) for m in monitors] == [
        (name, {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "argo-cd"})
        for name in ("argocd-metrics", "argocd-server-metrics", "argocd-repo-server-metrics")]
    defaults = chart_defaults("argo-cd")
    assert {defaults[c]["metrics"]["service"]["portName"] for c in ("controller", "server", "repoServer")} == {
        m["spec"]["endpoints"][0]["port"] for m in monitors}
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        k8s.validate(monitor)
    assert "argocd-monitoring" not in argocd_only.releases()


# --- the 'argocd' delivery mode -----------------------------------------------------------------------------------

def test_argocd_mode_installs_only_argocd_and_what_it_needs_with_helm(gitops, full):
    assert set(gitops.releases()) == BOOTSTRAP | {"argocd-applications"}
    apps = applications(gitops)
    assert set(apps) | BOOTSTRAP == set(full.releases())
    assert not set(apps) & BOOTSTRAP
    release = gitops.releases()["argocd-applications"]
    assert (release["namespace"], release["chart"].startswith("assets/manifests-chart/")) == ("argocd", True)
    assert any("argo-cd_release" in d for d in release["depends_on"])
    assert any("karpenter-nodepools_release" in d for d in release["depends_on"])


def test_every_application_has_the_chart_version_and_values_of_its_helm_release(gitops, full):
    apps = applications(gitops)
    for name, app in apps.items():
        release, source = full.releases()[name], app["spec"]["source"]
        expected = {"releaseName": name, "valuesObject": full.values(name)}
        assert source["helm"] == expected, name
        assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc",
                                              "namespace": release["namespace"]}, name
        addon = by_name()[name]
        if addon.chart is None:
            assert release["chart"].startswith("assets/manifests-chart/")
            assert {k: v for k, v in source.items() if k != "helm"} == {
                "repoURL": REPO, "targetRevision": REVISION, "path": "charts/mlplat-manifests"}, name
        elif release["repository"].startswith("oci://"):
            assert {k: v for k, v in source.items() if k != "helm"} == {
                "repoURL": f"{release['repository']}/{release['chart']}", "targetRevision": release["version"],
                "path": "."}, name
        else:
            assert {k: v for k, v in source.items() if k != "helm"} == {
                "repoURL": release["repository"], "chart": release["chart"], "targetRevision": release["version"]}, name
    # The chart Argo CD renders from Git is the one the Helm mode installs from this repository.
    chart = yaml.safe_load((LOCAL_CHARTS_DIR / MANIFESTS_CHART / "Chart.yaml").read_text())
    assert chart["version"] == versions.MANIFESTS_CHART_VERSION


def test_helm_installed_releases_are_identical_but_for_the_application_health_check(gitops, full):
    for name in BOOTSTRAP - {"argo-cd"}:
        assert gitops.values(name) == full.values(name)
    argocd = gitops.values("argo-cd")
    health = argocd["configs"].pop("cm")
    assert argocd == full.values("argo-cd")
    assert list(health) == [APPLICATION_HEALTH_KEY]
    assert "obj.status.health.status" in health[APPLICATION_HEALTH_KEY]
    assert set(unknown_keys(gitops.values("argo-cd"), chart_defaults("argo-cd"))) == ARGOCD_CM_SETTINGS


def test_applications_sync_automatically_with_prune_self_heal_retries_and_cascade_delete(gitops):
    for name, app in applications(gitops).items():
        assert app["metadata"]["namespace"] == "argocd" and app["spec"]["project"] == "mlplat"
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
        assert app["spec"]["syncPolicy"] == {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": ["CreateNamespace=true", "ServerSideApply=true", "RespectIgnoreDifferences=true",
                            "PruneLast=true"],
            "retry": {"limit": 10, "backoff": {"duration": "15s", "factor": 2, "maxDuration": "5m"}},
        }, name
        extra = {"APIService", "Secret"} if name == "metrics-server" else set()  # its helm-generated certificate
        assert {d["kind"] for d in app["spec"]["ignoreDifferences"]} == {
            "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "CustomResourceDefinition", *extra}


def test_sync_waves_put_every_dependency_first(gitops):
    apps = applications(gitops)
    wave = {name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for name, app in apps.items()}
    registry = by_name()
    for name in apps:
        deps = [d for d in registry[name].dependencies if d in apps]
        assert wave[name] == max([registry[name].sync_wave] + [wave[d] + 1 for d in deps]), name
        assert all(wave[d] < wave[name] for d in deps), name
    # CRD owners before their users: Kueue before its queues, Prometheus before every ServiceMonitor (Karpenter and
    # its NodePools are installed by Helm before the first wave).
    assert wave["kueue"] < wave["kueue-queues"] and wave["workload-namespaces"] < wave["kueue-queues"]
    for monitor in ("argocd-monitoring", "monitoring-objects", "mlflow-monitoring"):
        assert wave["kube-prometheus-stack"] < wave[monitor]


def test_parent_application_and_project_confine_the_addons_to_their_pinned_sources(gitops):
    objects = gitops.objects("argocd-applications")
    assert [o["kind"] for o in objects] == ["AppProject", "Application"]
    project, parent = objects
    apps = applications(gitops)
    assert project["metadata"] == {"name": "mlplat", "namespace": "argocd"}
    assert project["spec"]["sourceRepos"] == sorted({a["spec"]["source"]["repoURL"] for a in apps.values()})
    assert REPO in project["spec"]["sourceRepos"]
    assert project["spec"]["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "*"}]
    assert parent == parent_application(gitops)
    assert parent["metadata"]["name"] == "mlplat-addons"
    source = parent["spec"]["source"]
    assert (source["repoURL"], source["targetRevision"], source["path"]) == (REPO, REVISION, "charts/mlplat-manifests")
    assert parent["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # Destroy removes the parent: Argo CD deletes every add-on it delivered, instead of orphaning them (and Karpenter's
    # nodes) behind a deleted Argo CD.
    assert parent["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_every_argocd_object_validates_against_the_crds(gitops):
    objects = gitops.objects("argocd-applications")
    for obj in [*objects, *applications(gitops).values()]:
        k8s.validate(obj)
    assert len(applications(gitops)) >= 10
