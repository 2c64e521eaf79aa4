"""What is running in the platform's cluster, read through the Kubernetes API: each add-on's release against its pin,
and each node pool's nodes and accelerators.

Helm releases are read from Helm's own records, not from `helm` (no binary needed). As recorded from helm/helm (Helm 3,
2026-11): pkg/storage/driver/secrets.go @02ad2b11 newSecretsObject keeps one Secret per revision of a release in the
release's namespace, labels owner=helm, name=<release>, status, version=<revision>, type helm.sh/release.v1; util.go
@03f9f680 encodeRelease stores under `release` the base64 text of the gzipped release JSON (decodeRelease also reads
payloads stored before compression, told apart by the gzip magic bytes); pkg/release/info.go @131ba9ec spells the
description field "Description". The API carries Secret bytes as base64, so the value arrives base64-encoded twice.
The release is the revision with the highest number, as `helm status` shows it. In 'argocd' delivery mode the add-ons
past the Helm bootstrap are Argo CD Applications; their sync and health are read from the Application instead.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import urllib3
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from mlplat.errors import MlplatError

HELM_OWNER_LABEL = "owner"
HELM_NAME_LABEL = "name"
HELM_REVISION_LABEL = "version"
HELM_RELEASE_TYPE = "helm.sh/release.v1"
GZIP_MAGIC = b"\x1f\x8b\x08"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
ACCELERATORS = ("nvidia.com/gpu", "aws.amazon.com/neuron")
REQUEST_TIMEOUT_SECONDS = 30.0

HELM = "helm"
ARGOCD = "argocd"

# Helm release states (helm/helm pkg/release/status.go) that mean an operation is under way, or was cut off.
PENDING_STATES = ("pending-install", "pending-upgrade", "pending-rollback", "uninstalling")


@dataclass(frozen=True)
class ExpectedAddon:
    """An enabled add-on as the blueprint pins it."""
    name: str  # the release (and Argo CD Application) name
    namespace: str
    chart: str
    pinned_version: str
    delivery: str = HELM  # HELM: a Helm release; ARGOCD: an Argo CD Application of the same chart
    chart_source: bool = True  # False: the in-repo chart from Git, whose Application revision is a Git revision


@dataclass(frozen=True)
class AddonStatus:
    name: str
    namespace: str
    delivery: str
    chart: str
    pinned_version: str
    state: str  # Helm's release status, "<sync>/<health>" for Argo CD, or "not-installed"
    deployed_version: str | None = None
    revision: int | None = None
    updated: str | None = None
    message: str = ""

    @property
    def matches_pin(self) -> bool | None:
        if self.deployed_version is None:
            return None
        return self.deployed_version == self.pinned_version

    @property
    def healthy(self) -> bool:
        if self.delivery == ARGOCD:
            return self.state == "Synced/Healthy" and self.matches_pin is not False
        return self.state == "deployed" and self.matches_pin is True

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "delivery": self.delivery, "chart": self.chart,
                "pinned_version": self.pinned_version, "state": self.state,
                "deployed_version": self.deployed_version, "matches_pin": self.matches_pin,
                "revision": self.revision, "updated": self.updated, "healthy": self.healthy,
                "message": self.message}


@dataclass(frozen=True)
class NodeStatus:
    name: str
    ready: bool
    deleting: bool
    instance_type: str
    capacity_type: str
    zone: str
    accelerators: Mapping[str, int]  # allocatable, only the resources the node has

    def as_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "deleting": self.deleting, "instance_type": self.instance_type,
                "capacity_type": self.capacity_type, "zone": self.zone, "accelerators": dict(self.accelerators)}


@dataclass(frozen=True)
class PoolStatus:
    name: str
    in_cluster: bool  # its NodePool object exists
    nodes: tuple[NodeStatus, ...] = ()
    launching: tuple[str, ...] = ()  # NodeClaims without a node yet

    @property
    def accelerators(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for node in self.nodes:
            for resource, count in node.accelerators.items():
                total[resource] = total.get(resource, 0) + count
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"in_cluster": self.in_cluster, "nodes": {n.name: n.as_dict() for n in self.nodes},
                "ready_nodes": sum(1 for n in self.nodes if n.ready), "launching": list(self.launching),
                "accelerators": self.accelerators}


@dataclass(frozen=True)
class ClusterStatus:
    addons: tuple[AddonStatus, ...]
    pools: tuple[PoolStatus, ...]
    other_nodes: tuple[NodeStatus, ...] = ()  # not Karpenter's: the system node group

    @property
    def healthy(self) -> bool:
        return all(a.healthy for a in self.addons)

    def as_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "addons": {a.name: a.as_dict() for a in self.addons},
                "node_pools": {p.name: p.as_dict() for p in self.pools},
                "other_nodes": {n.name: n.as_dict() for n in self.other_nodes}}


class ClusterApiError(MlplatError):
    """A request the cluster's API refused (`status`: its HTTP status) or that never reached it (None)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def api_call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One request to the cluster's API, as parsed JSON; a failure becomes a ClusterApiError that says what was
    being read and how to look into it."""
    try:
        response = fn(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)
        return json.loads(response.data)
    except ApiException as exc:
        if exc.status == 401:
            raise ClusterApiError(
                f"{what}: the cluster's API refused the credentials (401 Unauthorized): the token is signed with your "
                f"current AWS identity, which needs an EKS access entry on the cluster (admin_principal_arns in the "
                f"blueprint)", 401) from None
        if exc.status == 403:
            raise ClusterApiError(
                f"{what}: forbidden (403): {_status_message(exc)}; your identity's access entry needs a policy that "
                f"allows it (AmazonEKSClusterAdminPolicy, or AmazonEKSAdminViewPolicy for reading)", 403) from None
        raise ClusterApiError(f"{what}: the cluster's API answered {exc.status} {exc.reason}: "
                              f"{_status_message(exc)}", exc.status) from None
    except urllib3.exceptions.HTTPError as exc:
        raise ClusterApiError(
            f"{what}: the cluster's API cannot be reached ({exc}); a private endpoint is reachable only from inside "
            f"the VPC or through the cluster access node (mlplat kubeconfig --tunnel-port)", None) from None


def _status_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "").get("message") or exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


def cluster_status(api_client: ApiClient, addons: list[ExpectedAddon], pools: list[str],
                   argocd_namespace: str = "argocd") -> ClusterStatus:
    core, custom = CoreV1Api(api_client), CustomObjectsApi(api_client)
    statuses = tuple(_helm_status(core, a) if a.delivery == HELM else _application_status(custom, a, argocd_namespace)
                     for a in addons)
    nodes = api_call("listing the cluster's nodes", core.list_node).get("items") or []
    claims = _list_custom(custom, "karpenter.sh", "v1", "nodeclaims", "listing Karpenter's NodeClaims")
    nodepools = {_name(p) for p in _list_custom(custom, "karpenter.sh", "v1", "nodepools",
                                                 "listing Karpenter's NodePools")}
    by_pool: dict[str, list[NodeStatus]] = {}
    other: list[NodeStatus] = []
    for node in sorted(nodes, key=_name):
        pool = _labels(node).get(NODEPOOL_LABEL)
        (by_pool.setdefault(pool, []) if pool else other).append(_node_status(node))
    launching: dict[str, list[str]] = {}
    for claim in sorted(claims, key=_name):
        if not (claim.get("status") or {}).get("nodeName"):
            launching.setdefault(_labels(claim).get(NODEPOOL_LABEL, ""), []).append(_name(claim))
    # The blueprint's pools first, then any other pool the cluster has (made by hand, or left from an older blueprint).
    names = list(dict.fromkeys([*pools, *sorted(nodepools), *sorted(by_pool), *sorted(n for n in launching if n)]))
    pool_statuses = tuple(PoolStatus(name, name in nodepools, tuple(by_pool.get(name, [])),
                                     tuple(launching.get(name, []))) for name in names)
    return ClusterStatus(statuses, pool_statuses, tuple(other))


def _list_custom(custom: CustomObjectsApi, group: str, version: str, plural: str, what: str) -> list[dict[str, Any]]:
    try:
        return api_call(what, custom.list_cluster_custom_object, group, version, plural).get("items") or []
    except ClusterApiError as exc:
        if exc.status == 404:  # the CRD is not installed (Karpenter not deployed yet)
            return []
        raise


def _helm_status(core: CoreV1Api, addon: ExpectedAddon) -> AddonStatus:
    selector = f"{HELM_OWNER_LABEL}=helm,{HELM_NAME_LABEL}={addon.name}"
    records = api_call(f"reading Helm's records of {addon.name} in {addon.namespace}",
                       core.list_namespaced_secret, addon.namespace, label_selector=selector).get("items") or []
    records = [r for r in records if r.get("type") == HELM_RELEASE_TYPE]
    base = AddonStatus(addon.name, addon.namespace, HELM, addon.chart, addon.pinned_version, "not-installed")
    if not records:
        return replace(base, message="no Helm release: the Kubernetes layer has not installed it (mlplat deploy)")
    latest = max(records, key=_revision)
    try:
        release = decode_release(((latest.get("data") or {}).get("release")) or "")
    except ValueError as exc:
        return replace(base, state="unreadable", revision=_revision(latest),
                        message=f"Helm's record {_name(latest)} cannot be decoded ({exc})")
    info = release.get("info") or {}
    metadata = (release.get("chart") or {}).get("metadata") or {}
    state = str(info.get("status") or _labels(latest).get("status") or "unknown")
    version = metadata.get("version")
    # Helm's JSON spells the field "Description" (pkg/release/info.go).
    description = str(info.get("Description") or info.get("description") or "")
    message = ""
    if state == "failed":
        message = f"the last Helm operation failed: {description}"
    elif state in PENDING_STATES:
        message = (f"a Helm operation is under way, or was cut off ({description or state}); if nothing is running, "
                   f"`helm -n {addon.namespace} history {addon.name}` shows the revisions, and `helm rollback` ends "
                   f"the pending one")
    elif version is not None and version != addon.pinned_version:
        message = f"chart {metadata.get('name', addon.chart)} {version} is running, the blueprint pins " \
                  f"{addon.pinned_version}: mlplat deploy brings it to the pin"
    return replace(base, state=state, deployed_version=None if version is None else str(version),
                    revision=int(release.get("version") or _revision(latest)),
                    updated=info.get("last_deployed") or None, message=message)


def decode_release(value: str) -> dict[str, Any]:
    """Helm's release JSON from a record's `release` value as the API returns it (base64 of Helm's base64 text)."""
    try:
        stored = base64.b64decode(value, validate=True)
        payload = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if payload[:3] == GZIP_MAGIC:
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError) as exc:
            raise ValueError(f"not gzip: {exc}") from None
    try:
        release = json.loads(payload)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(release, dict):
        raise ValueError("not a release object")
    return release


def _application_status(custom: CustomObjectsApi, addon: ExpectedAddon, argocd_namespace: str) -> AddonStatus:
    base = AddonStatus(addon.name, addon.namespace, ARGOCD, addon.chart, addon.pinned_version, "not-installed")
    try:
        app = api_call(f"reading Argo CD's Application {addon.name}", custom.get_namespaced_custom_object,
                       "argoproj.io", "v1alpha1", argocd_namespace, "applications", addon.name)
    except ClusterApiError as exc:
        if exc.status == 404:
            return replace(base, message=f"no Argo CD Application {argocd_namespace}/{addon.name}: the parent "
                                          f"Application has not created it yet")
        raise
    status = app.get("status") or {}
    sync, health = (status.get("sync") or {}), (status.get("health") or {})
    state = f"{sync.get('status') or 'Unknown'}/{health.get('status') or 'Unknown'}"
    # For a chart source the synced revision is the chart version; for the in-repo chart it is a Git commit.
    version = sync.get("revision") if addon.chart_source else None
    message = str(health.get("message") or "") if state != "Synced/Healthy" else ""
    if version and version != addon.pinned_version:
        message = f"Argo CD synced chart {version}, the blueprint pins {addon.pinned_version}"
    return replace(base, state=state, deployed_version=version or None,
                    updated=(status.get("operationState") or {}).get("finishedAt"), message=message)


def _node_status(node: Mapping[str, Any]) -> NodeStatus:
    labels = _labels(node)
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    accelerators = {r: int(parse_quantity(allocatable[r])) for r in ACCELERATORS if r in allocatable}
    return NodeStatus(_name(node), ready, bool((node.get("metadata") or {}).get("deletionTimestamp")),
                      labels.get(INSTANCE_TYPE_LABEL, ""), labels.get(CAPACITY_TYPE_LABEL, ""),
                      labels.get(ZONE_LABEL, ""), accelerators)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _revision(record: Mapping[str, Any]) -> int:
    value = _labels(record).get(HELM_REVISION_LABEL, "")
    return int(value) if value.isdigit() else 0
