"""GitOps delivery: one registry add-on as an Argo CD Application (same pinned chart, same values as its Helm
release), and the AppProject plus parent Application that sync them.

Sync waves order Applications only inside a parent Application's sync, so the add-ons' Applications are the objects of
a parent ("app of apps") rather than loose objects: the parent applies wave by wave and, with the Application health
check in argocd-cm (catalog/modules.py), waits for each wave to be healthy before the next, so CRD owners come first.

The parent and the in-repo chart's add-ons render `charts/mlplat-manifests` from Git (the blueprint names the repository
and pins the revision): that keeps Argo CD's own Helm rendering of the very chart and values the Helm mode installs.
A config-management plugin that inlined the objects would need a sidecar image with its own pin and trust in the
repo-server, and the objects would still have to come from somewhere Argo CD can re-read on every refresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mlplat.addons import AddOn

IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
# Deleting an add-on's Application (its toggle turned off) deletes what it installed, as `helm uninstall` does.
CASCADE_DELETE = "resources-finalizer.argocd.argoproj.io"
SYNC_OPTIONS = (
    "CreateNamespace=true",
    # Large CRDs (kube-prometheus-stack, Karpenter) exceed the client-side apply annotation limit.
    "ServerSideApply=true",
    "RespectIgnoreDifferences=true",
    "PruneLast=true",
)
RETRY = {"limit": 10, "backoff": {"duration": "15s", "factor": 2, "maxDuration": "5m"}}
# Controllers inject their serving CA into their own webhook and CRD conversion configs; self-heal must not undo it.
IGNORE_DIFFERENCES = (
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
     "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration",
     "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
    {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition",
     "jqPathExpressions": [".spec.conversion.webhook.clientConfig.caBundle"]},
)


@dataclass(frozen=True)
class GitOpsConfig:
    project: str  # the AppProject, named after the platform
    namespace: str  # where Argo CD and its Applications live
    manifests_repo_url: str
    manifests_revision: str
    manifests_path: str

    @property
    def parent_name(self) -> str:
        return f"{self.project}-addons"


def chart_source(addon: AddOn, config: GitOpsConfig) -> dict[str, Any]:
    """Where Argo CD fetches the add-on's chart: the pinned chart repository, or the in-repo chart from Git."""
    chart = addon.chart
    if chart is None:
        return {"repoURL": config.manifests_repo_url, "targetRevision": config.manifests_revision,
                "path": config.manifests_path}
    if chart.repository.startswith("oci://"):
        # Argo CD 3.x reads an OCI Helm chart as an OCI artifact: the chart is the last path segment.
        return {"repoURL": f"{chart.repository}/{chart.chart}", "targetRevision": chart.version, "path": "."}
    return {"repoURL": chart.repository, "chart": chart.chart, "targetRevision": chart.version}


def _sync_policy() -> dict[str, Any]:
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": list(SYNC_OPTIONS),
            "retry": json.loads(json.dumps(RETRY))}


def sync_waves(order: Sequence[AddOn], helm_installed: frozenset[str]) -> dict[str, int]:
    """Each Application's wave: its add-on's `sync_wave`, raised above the waves of the add-ons it depends on where the
    registry declares it lower, so `depends_on` (which orders the Helm mode) orders the Argo CD mode too."""
    waves: dict[str, int] = {}
    for addon in order:  # dependencies first
        if addon.name not in helm_installed:
            waves[addon.name] = max([addon.sync_wave] + [waves[d] + 1 for d in addon.dependencies if d in waves])
    return waves


def application(addon: AddOn, values: Mapping[str, Any], config: GitOpsConfig, wave: int) -> dict[str, Any]:
    source = chart_source(addon, config)
    # A JSON round trip: plain data, no object shared with another add-on's values (YAML would alias it).
    source["helm"] = {"releaseName": addon.name, "valuesObject": json.loads(json.dumps(values))}
    if addon.skip_crds:
        source["helm"]["skipCrds"] = True
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": addon.name, "namespace": config.namespace, "finalizers": [CASCADE_DELETE],
                     "labels": {"app.kubernetes.io/part-of": config.project},
                     "annotations": {SYNC_WAVE: str(wave)}},
        "spec": {
            "project": config.project, "source": source,
            "destination": {"server": IN_CLUSTER, "namespace": addon.namespace},
            "syncPolicy": _sync_policy(),
            "ignoreDifferences": [json.loads(json.dumps(d)) for d in (*IGNORE_DIFFERENCES, *addon.ignore_differences)],
            "revisionHistoryLimit": 5,
        },
    }


def delivery_objects(applications: Sequence[Mapping[str, Any]], config: GitOpsConfig) -> list[dict[str, Any]]:
    """The AppProject that confines the add-ons to their pinned sources, and the parent Application."""
    repos = sorted({a["spec"]["source"]["repoURL"] for a in applications} | {config.manifests_repo_url})
    project = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": config.project, "namespace": config.namespace},
        "spec": {
            "description": "Platform add-ons delivered by mlplat",
            "sourceRepos": repos,
            # Only this cluster; any namespace, since charts also write to kube-system and to the namespaces they
            # create. Add-ons install CRDs, cluster roles and webhooks, hence every cluster-scoped kind.
            "destinations": [{"server": IN_CLUSTER, "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    }
    parent = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        # Deleting the parent cascades to the add-ons' Applications (each with its own finalizer), so destroy removes
        # what Argo CD installed instead of orphaning it (app_deletion.md: no finalizer, no cascade).
        "metadata": {"name": config.parent_name, "namespace": config.namespace, "finalizers": [CASCADE_DELETE],
                     "labels": {"app.kubernetes.io/part-of": config.project}},
        "spec": {
            "project": config.project,
            "source": {"repoURL": config.manifests_repo_url, "targetRevision": config.manifests_revision,
                       "path": config.manifests_path,
                       "helm": {"releaseName": config.parent_name, "valuesObject": {"objects": list(applications)}}},
            "destination": {"server": IN_CLUSTER, "namespace": config.namespace},
            "syncPolicy": _sync_policy(),
        },
    }
    return [project, parent]
