"""An in-process fake of the Kubernetes API server, for tests: a stdlib HTTP server on loopback that the official
`kubernetes` client talks to unchanged.

It serves exactly the resources the cluster cleanup and the `status` and `open` commands use (core/v1 Services, Nodes,
Namespaces, PersistentVolumeClaims, Pods and their logs, Secrets; networking.k8s.io/v1 Ingresses; apps/v1 StatefulSets;
batch/v1 Jobs; argoproj.io Applications; Karpenter NodePools and NodeClaims; Kubeflow Trainer TrainJobs; KubeRay
RayJobs) with the API's shapes, status codes and semantics, as read from the
apiserver's source (k8s.io/apiserver registry/generic/registry/store.go, endpoints/handlers, storage/cacher;
apiextensions-apiserver registry/customresource):

- every write bumps one cluster-wide resourceVersion counter; objects get uid, creationTimestamp and (custom resources,
  Ingresses, StatefulSets) generation;
- DELETE of an object with finalizers sets deletionTimestamp and answers 200 with the object, which stays until its
  finalizers are gone; DELETE without finalizers removes it and answers with the object (Services, PVCs) or a Success
  Status naming it (Ingresses, Nodes, custom resources: their stores do not return the deleted object);
  propagationPolicy adds or removes the garbage collector's `foregroundDeletion`/`orphan` finalizers as the apiserver
  does, and a minimal garbage collector honours them and ownerReferences;
- PATCH (merge patch, JSON patch) and PUT with resourceVersion preconditions (409 on a stale one; custom resources
  refuse an update without one, 422); emptying the finalizers of a deleting object removes it;
- 404/409/410/422 answers are `Status` objects with the apiserver's reasons and messages;
- label selectors (=, ==, !=, exists, !key, in, notin, >, <) and field selectors (metadata.name, metadata.namespace and
  a few per-kind fields; others are refused with 400 as the apiserver does);
- lists `{"kind": "<Kind>List", ...}` whose items carry apiVersion/kind only for custom resources (typed lists omit
  them); `?watch=1` streams newline-delimited events from a resourceVersion and closes at timeoutSeconds; a
  resourceVersion older than the compaction horizon (`compact()`) gets the watch cache's 410 Expired ERROR event;
- Secrets: `stringData` is merged into `data` on every write and never read back, `type` defaults to Opaque and cannot
  change, `data` must be base64 (the API's JSON encoding of bytes);
- pods/portforward over WebSockets (the `v4.channel.k8s.io` protocol the official client speaks, as
  k8s.io/apimachinery util/httpstream/wsstream and kubelet cri/streaming/portforward/websocket.go implement it): two
  channels per port (data 2i, error 2i+1), each opened by a frame with the port in little-endian, bytes relayed to the
  address a test registers for the pod's port (`serve_pod_port`) as the kubelet relays them into the pod, a failed
  connection reported on the error channel, the session closed once every port's stream has ended.

Controllers are modelled as test hooks, driven by polls (a GET or LIST of the object's resource): Karpenter lets a
NodeClaim (and its Node) go N polls after its NodePool is deleted; Argo CD deletes an Application's resources and
removes its resources finalizer N polls after the Application is deleted, or never (stuck); the load balancer
controllers release Services and Ingresses; the pvc-protection controller releases a claim no Pod uses. Every request
is recorded (method, path, query, body) for tests to assert on.

Workloads (for `mlplat pipeline run`): a Job gets the API's defaults (backoffLimit 6, completions/parallelism 1,
completionMode NonIndexed); Kueue's webhook suspends a Job, TrainJob or RayJob carrying the `kueue.x-k8s.io/queue-name` label
and admits it (unsuspends) after `kueue_admission_polls`, or never (`kueue_admits_after(..., None)`); the Job
controller creates pods with the controller's labels and ownerReferences, retries failed pods up to backoffLimit and
sets SuccessCriteriaMet+Complete or FailureTarget+Failed with the upstream reasons and messages; the TrainJob
controller (Trainer v2 over JobSet) creates `<name>-node-0-<i>` pods and sets Complete or Failed with JobSet's
messages; the RayJob controller (KubeRay, K8sJobMode) creates a head, workers and a submitter pod labelled
`ray.io/originated-from-cr-name` and sets jobStatus/jobDeploymentStatus from the submitter's outcome, deleting the
cluster's pods at the end with shutdownAfterJobFinishes. A `PodScript` says how a workload's pods go (phases per poll, log lines, exit code, or unschedulable with
the scheduler's PodScheduled condition, or scheduled with its sidecars crash-looping); the kubelet advances pods one
phase per LIST of pods. A pod's sidecars (init containers with restartPolicy Always) run beside its main containers
and are stopped when those exit: its phase, and so the Job's verdict, follows the main containers alone.
`pods/{name}/log`
answers as the kubelet does: 400 while the container waits to start or when the container is missing or must be
named, `follow=true` streams until the container terminates.

Deliberately not modelled (an honest 501 where a client would notice): pod graceful deletion, namespace deletion,
deletecollection, subresources other than pods/portforward and pods/log (and the port-forward over SPDY, or with the base64 WebSocket
protocol), strategic merge patch, server-side apply, pagination (`limit` is ignored, which the API allows),
managedFields, protobuf, and watch bookmarks / sendInitialEvents.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, Iterator, Mapping
from urllib.parse import parse_qsl, urlsplit

# Finalizers and labels of the controllers the fake models.
ARGOCD_FINALIZERS = (
    "resources-finalizer.argocd.argoproj.io",
    "resources-finalizer.argocd.argoproj.io/foreground",
    "resources-finalizer.argocd.argoproj.io/background",
)
ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
KARPENTER_TERMINATION = "karpenter.sh/termination"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
SERVICE_LB_FINALIZERS = ("service.kubernetes.io/load-balancer-cleanup", "service.k8s.aws/resources")
INGRESS_LB_FINALIZERS = ("ingress.k8s.aws/resources",)
PVC_PROTECTION = "kubernetes.io/pvc-protection"
# Helm's default storage driver (helm/helm pkg/storage/driver/secrets.go): one Secret per release revision.
HELM_RELEASE_TYPE = "helm.sh/release.v1"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
# Kueue: a workload carrying this label is suspended on creation by Kueue's webhook and resumed once admitted.
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# The labels the Job controller (kubernetes pkg/controller/job, batch.JobNameLabel ...) and JobSet
# (api/jobset/v1alpha2 JobSetNameKey, ReplicatedJobNameKey) put on the pods they create.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
REPLICATED_JOB_LABEL = "jobset.sigs.k8s.io/replicatedjob-name"
# KubeRay v1.7.0 controllers/ray/utils/constant.go: on every pod a RayJob leads to (cluster and submitter).
RAY_ORIGIN_LABEL = "ray.io/originated-from-cr-name"
RAY_ORIGIN_CRD_LABEL = "ray.io/originated-from-crd"
RAY_NODE_TYPE_LABEL = "ray.io/node-type"
RAY_CLUSTER_LABEL = "ray.io/cluster"
TERMINAL_PHASES = ("Succeeded", "Failed")
QUEUED = ("jobs", "trainjobs", "rayjobs")  # the workloads Kueue's webhook suspends and admits


@dataclass(frozen=True)
class PodScript:
    """What the kubelet (and the container) does with each pod a workload controller creates: the phases it goes
    through, each held for a number of polls of pods (None: for ever), the log lines the container writes while it
    runs (one per poll, the rest when it ends), and its exit code when it fails. A pod never scheduled stays Pending
    with the scheduler's Unschedulable condition."""

    phases: tuple[tuple[str, int | None], ...] = (("Pending", None),)
    log: tuple[str, ...] = ()
    exit_code: int = 1
    unschedulable: str = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    # A pod with sidecars (init containers with restartPolicy Always) whose sidecars never start: scheduled, Pending
    # while its sidecars crash-loop with this message (the kubelet's back-off), its main containers never started.
    sidecar_crash: str | None = None

    @staticmethod
    def succeeds(pending: int = 1, running: int = 2, log: tuple[str, ...] = ()) -> "PodScript":
        return PodScript((("Pending", pending), ("Running", running), ("Succeeded", None)), log)

    @staticmethod
    def fails(pending: int = 1, running: int = 1, log: tuple[str, ...] = (), exit_code: int = 1) -> "PodScript":
        return PodScript((("Pending", pending), ("Running", running), ("Failed", None)), log, exit_code)

    @staticmethod
    def runs_forever(pending: int = 1, log: tuple[str, ...] = ()) -> "PodScript":
        return PodScript((("Pending", pending), ("Running", None)), log)

    @staticmethod
    def sidecar_never_starts(message: str) -> "PodScript":
        return PodScript((("Pending", None),), sidecar_crash=message)


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    custom: bool = False  # served from a CRD: unstructured items, updates need a resourceVersion
    returns_deleted_object: bool = False  # the store's ReturnDeletedObject: DELETE answers the object, not a Status
    status_subresource: bool = True  # updates of the main resource keep the stored status
    generation: bool = False
    http_delete: bool = True  # False: deletion has semantics the fake does not model (graceful pods, namespaces)
    extra_field_labels: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`plural.group`, as the apiserver names a resource in its messages (`plural` for the core group)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def field_labels(self) -> tuple[str, ...]:
        base = ("metadata.name", "metadata.namespace") if self.namespaced else ("metadata.name",)
        return base + self.extra_field_labels


RESOURCES = (
    ResourceType("", "v1", "namespaces", "Namespace", False, http_delete=False, extra_field_labels=("status.phase",)),
    ResourceType("", "v1", "nodes", "Node", False, extra_field_labels=("spec.unschedulable",)),
    ResourceType("", "v1", "services", "Service", True, returns_deleted_object=True),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, returns_deleted_object=True),
    ResourceType("", "v1", "pods", "Pod", True, http_delete=False,
                 extra_field_labels=("spec.nodeName", "status.phase")),
    # Secrets answer a DELETE with a Status (the store does not return the deleted object); `type` is a field label.
    ResourceType("", "v1", "secrets", "Secret", True, extra_field_labels=("type",)),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, generation=True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, generation=True),
    # Argo CD's Application CRD declares no subresources: its controller writes status through the main resource.
    ResourceType("argoproj.io", "v1alpha1", "applications", "Application", True, custom=True, generation=True,
                 status_subresource=False),
    ResourceType("karpenter.sh", "v1", "nodepools", "NodePool", False, custom=True, generation=True),
    ResourceType("karpenter.sh", "v1", "nodeclaims", "NodeClaim", False, custom=True, generation=True),
    ResourceType("batch", "v1", "jobs", "Job", True, generation=True),
    ResourceType("trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob", True, custom=True, generation=True),
    ResourceType("ray.io", "v1", "rayjobs", "RayJob", True, custom=True, generation=True),
)
RESOURCE_BY_PLURAL = {rt.plural: rt for rt in RESOURCES}


class ApiError(Exception):
    """An API answer other than success: an HTTP status and a `Status` body."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = dict(self.details)
        return body


def _details(rt: ResourceType, name: str = "", kind: str | None = None) -> dict[str, Any]:
    # StatusDetails fields are omitempty; `kind` carries the resource (plural), except in Invalid errors.
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if rt.group:
        out["group"] = rt.group
    out["kind"] = kind or rt.plural
    return out


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def _no_such_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _conflict(rt: ResourceType, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
                    _details(rt, name))


def _stale(rt: ResourceType, name: str) -> ApiError:
    return _conflict(rt, name, "the object has been modified; please apply your changes to the latest version and "
                               "try again")


def _invalid(rt: ResourceType, name: str, field: str, cause: str, detail: str) -> ApiError:
    qualified_kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {field}: {detail}',
                    {**_details(rt, name, kind=rt.kind), "causes": [{"reason": cause, "message": detail,
                                                                     "field": field}]})


def _options_invalid(kind: str, field: str, detail: str) -> ApiError:
    return ApiError(422, "Invalid", f'{kind}.meta.k8s.io "" is invalid: {field}: {detail}',
                    {"group": "meta.k8s.io", "kind": kind,
                     "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}]})


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _not_implemented(message: str) -> ApiError:
    # Not an apiserver answer: marks what this fake leaves out, so a test never mistakes it for Kubernetes behaviour.
    return ApiError(501, "NotImplemented", f"fake Kubernetes API: {message}")


# ---------------------------------------------------------------------------------------------------------- selectors

_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(\s*((?:{_VALUE}\s*,\s*)*{_VALUE})\s*\)$")
_EQ_RE = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_CMP_RE = re.compile(rf"^({_KEY})\s*(>|<)\s*(\d+)$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_KEY})$")


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # exists, !exists, =, !=, in, notin, >, <
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present or not (value or "").lstrip("-").isdigit():
            return False
        return int(value or 0) > int(self.values[0]) if self.op == ">" else int(value or 0) < int(self.values[0])


def _split_top_level(selector: str) -> list[str]:
    """Split on the commas that separate requirements, not those inside `in (a,b)`."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts]


def parse_label_selector(selector: str) -> tuple[_Requirement, ...]:
    if not selector.strip():
        return ()
    requirements = []
    for part in _split_top_level(selector):
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(3).split(","))
            requirements.append(_Requirement(m.group(1), m.group(2), values))
        elif m := _EQ_RE.match(part):
            requirements.append(_Requirement(m.group(1), "!=" if m.group(2) == "!=" else "=", (m.group(3),)))
        elif m := _CMP_RE.match(part):
            requirements.append(_Requirement(m.group(1), m.group(2), (m.group(3),)))
        elif m := _EXISTS_RE.match(part):
            requirements.append(_Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise _bad_request(f"unable to parse requirement: {part!r}")
    return tuple(requirements)


def parse_field_selector(selector: str, rt: ResourceType) -> tuple[tuple[str, str, str], ...]:
    """(field, op, value) terms; a field the resource does not index is refused as the apiserver refuses it."""
    if not selector.strip():
        return ()
    terms = []
    for part in selector.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise _bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in rt.field_labels:
            raise _bad_request(f"field label not supported: {field}")
        terms.append((field, "!=" if op == "!=" else "=", value))
    return tuple(terms)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


@dataclass(frozen=True)
class _Selection:
    namespace: str | None
    name: str | None
    labels: tuple[_Requirement, ...] = ()
    fields: tuple[tuple[str, str, str], ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        if self.name is not None and meta.get("name") != self.name:
            return False
        labels = meta.get("labels") or {}
        if not all(r.matches(labels) for r in self.labels):
            return False
        return all((_field_value(obj, f) == v) == (op == "=") for f, op, v in self.fields)


# ------------------------------------------------------------------------------------------------------- JSON patches

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class _PatchFailed(Exception):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise _PatchFailed(f"path /{'/'.join(parts)} does not exist")
    return doc


def json_patch(doc: Any, operations: list[Any]) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test) on a copy of `doc`."""
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _PatchFailed(f"invalid operation {op!r}")
        parts = _pointer(op["path"])
        kind = op["op"]
        if kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise _PatchFailed(f"testing value {op['path']} failed")
            continue
        if kind in ("move", "copy"):
            value = copy.deepcopy(_walk(doc, _pointer(op["from"])))
            if kind == "move":
                doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
            kind, op = "add", {**op, "value": value}
        if not parts:
            if kind == "remove":
                raise _PatchFailed("cannot remove the root")
            doc = copy.deepcopy(op.get("value"))
            continue
        parent = _walk(doc, parts[:-1])
        last = parts[-1]
        if isinstance(parent, dict):
            if kind in ("remove", "replace") and last not in parent:
                raise _PatchFailed(f"path {op['path']} does not exist")
            if kind == "remove":
                del parent[last]
            elif kind in ("add", "replace"):
                parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise _PatchFailed(f"unknown operation {kind!r}")
        elif isinstance(parent, list):
            index = len(parent) if (last == "-" and kind == "add") else (int(last) if last.isdigit() else -1)
            limit = len(parent) if kind == "add" else len(parent) - 1
            if not 0 <= index <= limit:
                raise _PatchFailed(f"index {last} out of range at {op['path']}")
            if kind == "add":
                parent.insert(index, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = copy.deepcopy(op.get("value"))
            else:
                raise _PatchFailed(f"unknown operation {kind!r}")
        else:
            raise _PatchFailed(f"path {op['path']} does not exist")
    return doc


# ------------------------------------------------------------------------------------------------------------ secrets

def _write_secret_data(obj: dict[str, Any], current: Mapping[str, Any] | None) -> None:
    """What the API does to a Secret on write (core/v1 conversion, defaulting, validation): `stringData` is merged
    over `data` and dropped, `type` defaults to Opaque and is immutable, `data` values must be base64."""
    name = obj["metadata"].get("name", "")
    data = dict(obj.get("data") or {})
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise _bad_request(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in '
                               f'data[{key!r}]') from None
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        obj["data"] = data
    else:
        obj.pop("data", None)
    obj["type"] = obj.get("type") or "Opaque"
    if current is not None and obj["type"] != current.get("type", "Opaque"):
        raise _invalid(RESOURCE_BY_PLURAL["secrets"], name, "type", "FieldValueInvalid",
                       f'Invalid value: "{obj["type"]}": field is immutable')


# ---------------------------------------------------------------------------------------------------------- the store

@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    resource: str  # the plural the path names, "" when it names none the fake serves
    namespace: str
    name: str
    body: Any  # parsed JSON, or None
    subresource: str = ""  # "portforward" for pods/portforward

    @property
    def verb(self) -> str:
        """The Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection."""
        if self.subresource == "portforward":
            # A WebSocket upgrade is a GET, and since Kubernetes 1.35 it must also be allowed to `create`
            # pods/portforward, as the SPDY POST always was (feature gate AuthorizePodWebsocketUpgradeCreatePermission,
            # beta and on by default; kubernetes/website feature-gates docs). The fake checks only that verb.
            return "create"
        collection = not self.name
        if self.method == "GET":
            return ("watch" if self.query.get("watch") in ("1", "true", "True") else "list") if collection else "get"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "deletecollection" if collection else "delete"}.get(self.method, self.method.lower())


@dataclass(frozen=True)
class _Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rt: ResourceType
    obj: dict[str, Any]
    prev: dict[str, Any] | None


@dataclass(frozen=True)
class _Route:
    rt: ResourceType
    namespace: str | None  # None: cluster-scoped, or every namespace
    name: str | None


@dataclass(frozen=True)
class _DeleteOptions:
    propagation: str | None = None
    orphan: bool | None = None
    dry_run: bool = False
    uid: str | None = None
    resource_version: str | None = None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list(obj["metadata"].get("finalizers") or [])


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def _finished(obj: Mapping[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _condition(kind: str, *, reason: str, message: str) -> dict[str, Any]:
    now = _now()
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastProbeTime": now,
            "lastTransitionTime": now}


def _typed(rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {"apiVersion": rt.api_version, "kind": rt.kind}
    out.update({k: copy.deepcopy(v) for k, v in obj.items() if k not in ("apiVersion", "kind")})
    return out


def _list_item(rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    # Typed (built-in) lists serialize items without apiVersion/kind; CRD lists are unstructured and keep them.
    if rt.custom:
        return _typed(rt, obj)
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("apiVersion", "kind")}


class FakeKubeApi:
    """`with FakeKubeApi() as fake:` serves on `fake.url` until the block ends.

    Poll-driven controllers: `nodeclaim_polls` (Karpenter), `application_polls` (Argo CD; None: never finalizes) and
    `load_balancer_polls` (the load balancer controllers) are the defaults of how many polls of its resource a
    deleting object stays visible for; the `*_after` methods set them per object.
    """

    def __init__(self, *, nodeclaim_polls: int | None = 0, application_polls: int | None = 0,
                 load_balancer_polls: int | None = 0, argocd_namespace: str = "argocd",
                 unserved: tuple[str, ...] = (), user: str = "kubernetes-admin",
                 watch_timeout_seconds: float = 5.0, kueue_admission_polls: int | None = 0,
                 pod_script: PodScript = PodScript()) -> None:
        self.nodeclaim_polls = nodeclaim_polls
        self.kueue_admission_polls = kueue_admission_polls
        self.pod_script = pod_script
        self._admission_rules: dict[tuple[str, str, str], int | None] = {}
        self._pod_scripts: dict[tuple[str, str], PodScript] = {}
        self._pod_progress: dict[str, tuple[int, int]] = {}  # pod uid -> (phase index, polls in that phase)
        self._logs: dict[tuple[str, str], list[str]] = {}
        self.application_polls = application_polls
        self.load_balancer_polls = load_balancer_polls
        self.argocd_namespace = argocd_namespace
        self.user = user
        # The apiserver closes a watch without timeoutSeconds after 30-60 minutes; tests want seconds.
        self.watch_timeout_seconds = watch_timeout_seconds
        # CRDs not installed: `unserved=("applications",)` models a cluster without Argo CD.
        self._served = {rt for rt in RESOURCES if rt.plural not in unserved}
        self._lock = threading.Condition(threading.RLock())
        self._store: dict[ResourceType, dict[tuple[str, str], dict[str, Any]]] = {rt: {} for rt in RESOURCES}
        self._rv = 0
        self._events: list[_Event] = []
        self._horizon = 0  # watches and exact lists from before this resourceVersion are expired
        self._requests: list[RecordedRequest] = []
        self._rules: dict[tuple[str, str, str, str], int | None] = {}
        self._polls_seen: dict[str, int] = {}
        self._forbidden: list[tuple[str, str, str | None]] = []
        self._pod_ports: dict[tuple[str, str, int], tuple[str, int]] = {}
        self._token: str | None = None
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.add(namespace(name))
        # Every cluster has the API's own ClusterIP Service.
        self.add(service("kubernetes", "default", ports=(443,)))

    # ------------------------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeKubeApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("FakeKubeApiHandler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False  # idle keep-alive connections are shut down in stop() instead
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-kube-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            connections = list(self._connections)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Kubernetes API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------------------------------------ test hooks

    def add(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Seed an object as if a client had created it (server-set metadata filled in); returns the stored copy.
        A namespaced object's Namespace is created when missing."""
        with self._lock:
            rt = self._type_of(obj)
            meta = obj.get("metadata") or {}
            if rt.namespaced:
                ns = meta.get("namespace") or "default"
                if ("", ns) not in self._store[RESOURCE_BY_PLURAL["namespaces"]]:
                    self.add(namespace(ns))
            stored = self._create(rt, obj, meta.get("namespace", "default") if rt.namespaced else "", seed=True)
            self._settle()
            return _typed(rt, stored)

    def get(self, resource: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        with self._lock:
            obj = self._store[RESOURCE_BY_PLURAL[resource]].get((namespace, name))
            return None if obj is None else _typed(RESOURCE_BY_PLURAL[resource], obj)

    def names(self, resource: str) -> list[str]:
        """`namespace/name` (or `name`) of every stored object of a resource, in the API's order."""
        with self._lock:
            return [f"{ns}/{n}" if ns else n for ns, n in sorted(self._store[RESOURCE_BY_PLURAL[resource]])]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def finalizer_released_after(self, resource: str, name: str, finalizer: str, polls: int | None, *,
                                 namespace: str = "") -> None:
        """Once the object is deleting, `finalizer` is removed after it has been seen by `polls` GET/LIST requests
        of its resource (0: gone at the first poll); None: never (a stuck controller)."""
        with self._lock:
            self._rules[(resource, namespace, name, finalizer)] = polls
            obj = self._store[RESOURCE_BY_PLURAL[resource]].get((namespace, name))
            if obj is not None:
                self._polls_seen.pop(obj["metadata"]["uid"], None)  # `polls` more, from now

    def nodeclaim_goes_after(self, name: str, polls: int | None) -> None:
        """Karpenter: the NodeClaim, and its Node, go `polls` polls after the NodeClaim starts deleting."""
        self.finalizer_released_after("nodeclaims", name, KARPENTER_TERMINATION, polls)

    def application_goes_after(self, namespace: str, name: str, polls: int | None) -> None:
        """Argo CD: deletes the Application's resources and removes its finalizer `polls` polls after the
        Application starts deleting; None: never (Argo CD stuck, or not running)."""
        for finalizer in ARGOCD_FINALIZERS:
            self.finalizer_released_after("applications", name, finalizer, polls, namespace=namespace)

    def kueue_admits_after(self, resource: str, namespace: str, name: str, polls: int | None) -> None:
        """Kueue admits the queued workload (`jobs` or `trainjobs`) after `polls` polls of its resource; None:
        never (no free quota)."""
        with self._lock:
            self._admission_rules[(resource, namespace, name)] = polls

    def script_pods(self, namespace: str, workload: str, script: PodScript) -> None:
        """How the pods of the Job or TrainJob `workload` behave (the default: the constructor's `pod_script`)."""
        with self._lock:
            self._pod_scripts[(namespace, workload)] = script

    def pod_log(self, namespace: str, pod: str) -> list[str]:
        """The lines the pod's container has written so far."""
        with self._lock:
            return list(self._logs.get((namespace, pod), []))

    def compact(self) -> None:
        """Expire the history so far, as etcd compaction does: older resourceVersions get 410 Expired."""
        with self._lock:
            self._horizon = self._rv

    def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """RBAC denies `verb` ("*" for all) on `resource` (in `namespace`, or anywhere): 403 Forbidden."""
        with self._lock:
            self._forbidden.append((verb, resource, namespace))

    def serve_pod_port(self, namespace: str, pod: str, port: int, address: tuple[str, int]) -> None:
        """The container side of a port-forward: the kubelet connects each forwarded stream of `pod`'s `port` to
        `address` (a server the test runs in the container's place). A port without one refuses the connection."""
        with self._lock:
            self._pod_ports[(namespace, pod, port)] = address

    def require_token(self, token: str) -> None:
        """Requests without `Authorization: Bearer <token>` get 401 Unauthorized."""
        with self._lock:
            self._token = token

    # -------------------------------------------------------------------------------------------------- writes

    def _type_of(self, obj: Mapping[str, Any]) -> ResourceType:
        for rt in RESOURCES:
            if rt.api_version == obj.get("apiVersion") and rt.kind == obj.get("kind"):
                return rt
        raise ValueError(f"the fake serves no {obj.get('apiVersion')} {obj.get('kind')}")

    def _persist(self, rt: ResourceType, obj: dict[str, Any], event: str, prev: dict[str, Any] | None) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        if event == "DELETED":
            self._store[rt].pop(_key(obj), None)
            self._polls_seen.pop(obj["metadata"]["uid"], None)
        else:
            self._store[rt][_key(obj)] = obj
        self._events.append(_Event(self._rv, event, rt, copy.deepcopy(obj), prev))
        self._lock.notify_all()

    def _create(self, rt: ResourceType, body: Mapping[str, Any], namespace: str, *, seed: bool = False,
                dry_run: bool = False) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or ""
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
        if not name:
            raise _invalid(rt, "", "metadata.name", "FieldValueRequired",
                           "Required value: name or generateName is required")
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if (meta.get("namespace", ""), name) in self._store[rt]:
            raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        if rt.generation:
            meta["generation"] = 1
        if not seed:
            # Clients cannot set these on create; a seeded object may start out deleting.
            for server_owned in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
                meta.pop(server_owned, None)
            if rt.status_subresource:
                obj.pop("status", None)
            # What the built-in strategies set on create.
            if rt.plural == "namespaces":
                obj["status"] = {"phase": "Active"}
            elif rt.plural == "pods":
                obj["status"] = {"phase": "Pending"}
        elif meta.get("deletionTimestamp") and not meta.get("finalizers"):
            raise ValueError(f"{rt.kind} {name}: a deleting object needs finalizers")
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if rt.plural == "secrets":
            _write_secret_data(obj, None)
        if rt.plural in QUEUED and not seed:
            spec = obj.setdefault("spec", {})
            if rt.plural == "jobs":
                # The apiserver's defaults for a Job (pkg/apis/batch/v1 defaults.go).
                spec.setdefault("parallelism", 1)
                spec.setdefault("completions", 1)
                spec.setdefault("backoffLimit", 6)
                spec.setdefault("completionMode", "NonIndexed")
                spec.setdefault("suspend", False)
            if KUEUE_QUEUE_LABEL in (meta.get("labels") or {}):
                spec["suspend"] = True  # Kueue's webhook: a queued workload starts suspended
        if rt.plural == "persistentvolumeclaims" and PVC_PROTECTION not in _finalizers(obj):
            # The StorageObjectInUseProtection admission plugin adds it to every claim.
            meta["finalizers"] = _finalizers(obj) + [PVC_PROTECTION]
        if not dry_run:
            self._persist(rt, obj, "ADDED", None)
        return obj

    def _update(self, rt: ResourceType, current: dict[str, Any], new: dict[str, Any], *, require_rv: bool,
                dry_run: bool) -> dict[str, Any]:
        """Store `new` over `current` as the registry's update path does; returns what the API answers."""
        name = current["metadata"]["name"]
        new = copy.deepcopy(new)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise _bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                               f"({name})")
        if meta.get("namespace", "") not in ("", current["metadata"].get("namespace", "")):
            raise _bad_request("the namespace of the provided object does not match the namespace sent on the "
                               "request")
        given_rv = meta.get("resourceVersion")
        if not given_rv and require_rv and rt.custom:
            raise _invalid(rt, name, "metadata.resourceVersion", "FieldValueInvalid",
                           "Invalid value: 0x0: must be specified for an update")
        if given_rv and given_rv != current["metadata"]["resourceVersion"]:
            raise _stale(rt, name)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        if rt.plural == "secrets":
            _write_secret_data(new, current)
        for server_owned in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                             "generation", "namespace", "resourceVersion"):
            if server_owned in current["metadata"]:
                meta[server_owned] = current["metadata"][server_owned]
            else:
                meta.pop(server_owned, None)
        meta["name"] = name
        if rt.status_subresource:
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        added = [f for f in _finalizers(new) if f not in _finalizers(current)]
        if _deleting(current) and added:
            raise _invalid(rt, name, "metadata.finalizers", "FieldValueForbidden",
                           f"Forbidden: no new finalizers can be added if the object is being deleted, found new "
                           f"finalizers {added}")
        if rt.generation:
            ignored = ("metadata", "status") if rt.status_subresource or not rt.custom else ("metadata",)
            if {k: v for k, v in new.items() if k not in ignored} != \
                    {k: v for k, v in current.items() if k not in ignored}:
                meta["generation"] = current["metadata"].get("generation", 0) + 1
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if _deleting(new) and not _finalizers(new):
            # The last finalizer is gone: the update deletes the object (registry ShouldDeleteDuringUpdate).
            if not dry_run:
                self._persist(rt, new, "DELETED", copy.deepcopy(current))
            return new
        if new == current:
            return new  # a no-op update writes nothing and keeps the resourceVersion
        if not dry_run:
            self._persist(rt, new, "MODIFIED", copy.deepcopy(current))
        return new

    def _delete(self, rt: ResourceType, current: dict[str, Any], options: _DeleteOptions) -> tuple[dict, bool]:
        """The registry's Delete: returns (the object as stored or removed, whether it was removed now)."""
        meta = current["metadata"]
        name = meta["name"]
        if options.uid is not None and options.uid != meta["uid"]:
            raise _conflict(rt, name, f"Precondition failed: UID in precondition: {options.uid}, UID in object meta: "
                                      f"{meta['uid']}")
        if options.resource_version is not None and options.resource_version != meta["resourceVersion"]:
            raise _conflict(rt, name, f"Precondition failed: ResourceVersion in precondition: "
                                      f"{options.resource_version}, ResourceVersion in object meta: "
                                      f"{meta['resourceVersion']}")
        finalizers = _gc_finalizers(_finalizers(current), options)
        if finalizers:
            updated = copy.deepcopy(current)
            updated["metadata"]["finalizers"] = finalizers
            if not _deleting(updated):
                if updated["metadata"].get("generation", 0) > 0:
                    updated["metadata"]["generation"] += 1
                updated["metadata"]["deletionTimestamp"] = _now()
            updated["metadata"]["deletionGracePeriodSeconds"] = 0
            if updated != current and not options.dry_run:
                self._persist(rt, updated, "MODIFIED", copy.deepcopy(current))
            return updated, False
        removed = copy.deepcopy(current)
        if not options.dry_run:
            self._persist(rt, removed, "DELETED", copy.deepcopy(current))
        return removed, True

    def _delete_internal(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """A controller's (background) delete."""
        current = self._store[rt].get(_key(obj))
        if current is not None:
            self._delete(rt, current, _DeleteOptions())

    def _remove_finalizers(self, rt: ResourceType, obj: dict[str, Any], remove: set[str]) -> None:
        current = self._store[rt].get(_key(obj))
        if current is None:
            return
        new = copy.deepcopy(current)
        new["metadata"]["finalizers"] = [f for f in _finalizers(current) if f not in remove]
        self._update(rt, current, new, require_rv=False, dry_run=False)

    # --------------------------------------------------------------------------------------------- controllers

    def _all(self) -> Iterator[tuple[ResourceType, dict[str, Any]]]:
        for rt in RESOURCES:
            for obj in list(self._store[rt].values()):
                yield rt, obj

    def _settle(self) -> None:
        """Run the event-driven controllers (garbage collector, Karpenter's reaction to a deleted NodePool,
        pvc-protection) until nothing changes; in a cluster they react within moments of a write."""
        for _ in range(1000):
            before = self._rv
            self._collect_garbage()
            self._mark_nodeclaims_of_deleted_pools()
            self._release_unused_claims()
            self._run_workload_controllers()
            if self._rv == before:
                return
        raise RuntimeError("the fake's controllers did not settle")

    def _dependents(self, uid: str) -> list[tuple[ResourceType, dict[str, Any], dict[str, Any]]]:
        return [(rt, obj, ref) for rt, obj in self._all()
                for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("uid") == uid]

    def _collect_garbage(self) -> None:
        live_uids = {obj["metadata"]["uid"] for _, obj in self._all()}
        for rt, obj in list(self._all()):
            current = self._store[rt].get(_key(obj))
            if current is None:
                continue
            meta = current["metadata"]
            finalizers = _finalizers(current)
            if _deleting(current) and ORPHAN in finalizers:
                for dep_rt, dep, _ in self._dependents(meta["uid"]):
                    new = copy.deepcopy(dep)
                    new["metadata"]["ownerReferences"] = [r for r in dep["metadata"]["ownerReferences"]
                                                          if r.get("uid") != meta["uid"]]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    self._update(dep_rt, dep, new, require_rv=False, dry_run=False)
                self._remove_finalizers(rt, current, {ORPHAN})
            elif _deleting(current) and FOREGROUND in finalizers:
                dependents = self._dependents(meta["uid"])
                for dep_rt, dep, _ in dependents:
                    if not _deleting(dep):
                        self._delete_internal(dep_rt, dep)
                blocking = [1 for dep_rt, dep, ref in self._dependents(meta["uid"]) if ref.get("blockOwnerDeletion")]
                if not blocking:
                    self._remove_finalizers(rt, current, {FOREGROUND})
            elif not _deleting(current):
                owners = [r.get("uid") for r in meta.get("ownerReferences") or []]
                if owners and not any(uid in live_uids for uid in owners):
                    self._delete_internal(rt, current)

    def _mark_nodeclaims_of_deleted_pools(self) -> None:
        # Karpenter's NodeClaims name their NodePool by label (and ownerReference): a deleted pool takes its claims.
        pools = self._store[RESOURCE_BY_PLURAL["nodepools"]]
        claims_rt = RESOURCE_BY_PLURAL["nodeclaims"]
        for claim in list(self._store[claims_rt].values()):
            pool = (claim["metadata"].get("labels") or {}).get(NODEPOOL_LABEL)
            if pool is None or _deleting(claim):
                continue
            if ("", pool) not in pools or _deleting(pools[("", pool)]):
                self._delete_internal(claims_rt, claim)

    def _release_unused_claims(self) -> None:
        pods = self._store[RESOURCE_BY_PLURAL["pods"]].values()
        used = {(p["metadata"]["namespace"], v["persistentVolumeClaim"]["claimName"]) for p in pods
                for v in (p.get("spec") or {}).get("volumes") or [] if v.get("persistentVolumeClaim")}
        pvc_rt = RESOURCE_BY_PLURAL["persistentvolumeclaims"]
        for claim in list(self._store[pvc_rt].values()):
            if _deleting(claim) and PVC_PROTECTION in _finalizers(claim) and _key(claim) not in used:
                self._remove_finalizers(pvc_rt, claim, {PVC_PROTECTION})

    def _release_polls(self, rt: ResourceType, obj: Mapping[str, Any], finalizer: str) -> int | None:
        """How many polls a modelled controller takes to remove `finalizer`; None: no controller removes it."""
        ns, name = _key(obj)
        rule = (rt.plural, ns, name, finalizer)
        if rule in self._rules:
            return self._rules[rule]
        if finalizer == KARPENTER_TERMINATION and rt.plural in ("nodeclaims", "nodes"):
            return self.nodeclaim_polls
        if finalizer in ARGOCD_FINALIZERS and rt.plural == "applications":
            return self.application_polls
        if (rt.plural == "services" and finalizer in SERVICE_LB_FINALIZERS) or \
                (rt.plural == "ingresses" and finalizer in INGRESS_LB_FINALIZERS):
            return self.load_balancer_polls
        return None

    def _poll(self, rt: ResourceType) -> None:
        """A GET or LIST of `rt`: the poll-driven controllers advance on deleting objects of that resource, Kueue
        on queued workloads of it, the kubelet on pods."""
        if rt.plural in QUEUED:
            self._admit(rt)
        if rt.plural == "pods":
            self._kubelet()
        for obj in list(self._store[rt].values()):
            if not _deleting(obj):
                continue
            uid = obj["metadata"]["uid"]
            seen = self._polls_seen.get(uid, 0)
            handled = {f: p for f in _finalizers(obj) if (p := self._release_polls(rt, obj, f)) is not None}
            due = {f for f, polls in handled.items() if seen >= polls}
            if due:
                self._release(rt, obj, due)
            if set(handled) - due and _key(obj) in self._store[rt]:
                self._polls_seen[uid] = seen + 1
        self._settle()

    def _release(self, rt: ResourceType, obj: dict[str, Any], finalizers: set[str]) -> None:
        if rt.plural == "applications" and finalizers & set(ARGOCD_FINALIZERS):
            # Argo CD deletes what the Application manages before it lets the Application go.
            ns, name = _key(obj)
            app_ref = name if ns == self.argocd_namespace else f"{ns}_{name}"
            for other_rt, other in list(self._all()):
                tracking = (other["metadata"].get("annotations") or {}).get(ARGOCD_TRACKING_ANNOTATION, "")
                if tracking.startswith(f"{app_ref}:") and not _deleting(other):
                    self._delete_internal(other_rt, other)
        if rt.plural == "nodeclaims" and KARPENTER_TERMINATION in finalizers:
            # Karpenter deletes the claim's Node (draining it, terminating the instance) before the claim goes.
            node_name = (obj.get("status") or {}).get("nodeName")
            nodes_rt = RESOURCE_BY_PLURAL["nodes"]
            node_obj = self._store[nodes_rt].get(("", node_name)) if node_name else None
            if node_obj is not None:
                self._delete_internal(nodes_rt, node_obj)
                self._remove_finalizers(nodes_rt, node_obj, {KARPENTER_TERMINATION})
        self._remove_finalizers(rt, obj, finalizers)

    # ----------------------------------------------------------------------------------- workloads: Kueue, Job,
    # ----------------------------------------------------------------------------------- Trainer, kubelet

    def _admit(self, rt: ResourceType) -> None:
        """Kueue resumes a suspended queued workload after its admission polls (None: it never has quota)."""
        for obj in list(self._store[rt].values()):
            meta = obj["metadata"]
            if KUEUE_QUEUE_LABEL not in (meta.get("labels") or {}) or _deleting(obj) or \
                    not (obj.get("spec") or {}).get("suspend"):
                continue
            rule = (rt.plural, meta["namespace"], meta["name"])
            polls = self._admission_rules.get(rule, self.kueue_admission_polls)
            if polls is None:
                continue
            seen = self._polls_seen.get(meta["uid"], 0)
            if seen < polls:
                self._polls_seen[meta["uid"]] = seen + 1
                continue
            new = copy.deepcopy(obj)
            new["spec"]["suspend"] = False
            self._update(rt, obj, new, require_rv=False, dry_run=False)
        self._settle()

    def _owned_pods(self, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        return [p for p in self._store[RESOURCE_BY_PLURAL["pods"]].values()
                if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])]

    def _make_pod(self, owner: dict[str, Any], name: str, template: Mapping[str, Any], labels: dict[str, str]
                  ) -> None:
        meta = owner["metadata"]
        pod_obj = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "namespace": meta["namespace"],
                                "labels": {**(template.get("metadata") or {}).get("labels", {}), **labels},
                                "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                                     "name": meta["name"], "uid": meta["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}]},
                   "spec": copy.deepcopy(template.get("spec") or {"containers": [{"name": "main"}]})}
        created = self._create(RESOURCE_BY_PLURAL["pods"], pod_obj, meta["namespace"])
        script = self._pod_scripts.get((meta["namespace"], meta["name"]), self.pod_script)
        self._pod_progress[created["metadata"]["uid"]] = (0, 0)
        self._set_pod_phase(created, script, 0)

    def _run_workload_controllers(self) -> None:
        for job in list(self._store[RESOURCE_BY_PLURAL["jobs"]].values()):
            self._job_controller(job)
        for trainjob in list(self._store[RESOURCE_BY_PLURAL["trainjobs"]].values()):
            self._trainjob_controller(trainjob)
        for rayjob in list(self._store[RESOURCE_BY_PLURAL["rayjobs"]].values()):
            self._rayjob_controller(rayjob)

    def _job_controller(self, job: dict[str, Any]) -> None:
        """kubernetes pkg/controller/job, the parts a pipeline step sees: pods for parallelism until completions
        succeed, a replacement per failure up to backoffLimit, then Complete or Failed (the 1.31+ conditions:
        SuccessCriteriaMet/FailureTarget first), and no pods while suspended."""
        if _deleting(job) or _finished(job):
            return
        spec, meta = job.get("spec") or {}, job["metadata"]
        pods = self._owned_pods(job)
        active = [p for p in pods if p["status"]["phase"] not in TERMINAL_PHASES and not _deleting(p)]
        succeeded = sum(1 for p in pods if p["status"]["phase"] == "Succeeded")
        failed = sum(1 for p in pods if p["status"]["phase"] == "Failed")
        completions, parallelism = spec.get("completions", 1), spec.get("parallelism", 1)
        conditions: list[dict[str, Any]] = []
        if spec.get("suspend"):
            for p in active:
                self._delete_internal(RESOURCE_BY_PLURAL["pods"], p)
            active = []
        elif failed > spec.get("backoffLimit", 6):
            for p in active:
                self._delete_internal(RESOURCE_BY_PLURAL["pods"], p)
            active = []
            why = {"reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
            conditions = [_condition("FailureTarget", **why), _condition("Failed", **why)]
        elif succeeded >= completions:
            why = {"reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}
            conditions = [_condition("SuccessCriteriaMet", **why), _condition("Complete", **why)]
        else:
            template = spec.get("template") or {}
            for _ in range(min(parallelism, completions - succeeded) - len(active)):
                labels = {JOB_NAME_LABEL: meta["name"], JOB_UID_LABEL: meta["uid"], "job-name": meta["name"],
                          "controller-uid": meta["uid"]}
                self._make_pod(job, f"{meta['name']}-{uuid.uuid4().hex[:5]}", template, labels)
            active = [p for p in self._owned_pods(job) if p["status"]["phase"] not in TERMINAL_PHASES]
        status = {"active": len(active), "succeeded": succeeded, "failed": failed}
        if conditions:
            status["conditions"] = conditions
        status = {k: v for k, v in status.items() if v}
        if status != (job.get("status") or {}):
            new = copy.deepcopy(job)
            new["status"] = status
            self._store_status(RESOURCE_BY_PLURAL["jobs"], job, new)

    def _trainjob_controller(self, trainjob: dict[str, Any]) -> None:
        """Kubeflow Trainer with JobSet, shortened: the TrainJob's nodes are made as pods it owns directly (the real
        chain is TrainJob -> JobSet -> Job -> Pod, each owned by the one before, so deleting the TrainJob takes the
        rest as here), named and labelled as JobSet names them; the JobSet's Completed or Failed condition becomes
        the TrainJob's Complete or Failed (pkg/runtime/framework/plugins/jobset Status)."""
        if _deleting(trainjob) or _finished(trainjob):
            return
        spec, meta = trainjob.get("spec") or {}, trainjob["metadata"]
        pods = self._owned_pods(trainjob)
        conditions: list[dict[str, Any]] = []
        if spec.get("suspend"):
            for p in pods:
                self._delete_internal(RESOURCE_BY_PLURAL["pods"], p)
        elif not pods:
            trainer = spec.get("trainer") or {}
            container = {"name": "node", "image": trainer.get("image", "runtime-image"),
                         "command": trainer.get("command", [])}
            for i in range(int(trainer.get("numNodes", 1))):
                labels = {JOBSET_NAME_LABEL: meta["name"], REPLICATED_JOB_LABEL: "node",
                          JOB_NAME_LABEL: f"{meta['name']}-node-0"}
                self._make_pod(trainjob, f"{meta['name']}-node-0-{i}-{uuid.uuid4().hex[:5]}",
                               {"spec": {"containers": [container]}}, labels)
        elif any(p["status"]["phase"] == "Failed" for p in pods):
            for p in pods:
                if p["status"]["phase"] not in TERMINAL_PHASES:
                    self._delete_internal(RESOURCE_BY_PLURAL["pods"], p)
            conditions = [_condition("Failed", reason="FailedJobs",
                                     message="jobset failed due to one or more job failures")]
        elif all(p["status"]["phase"] == "Succeeded" for p in pods):
            conditions = [_condition("Complete", reason="AllJobsCompleted", message="jobset completed successfully")]
        if conditions:
            new = copy.deepcopy(trainjob)
            new["status"] = {**(trainjob.get("status") or {}), "conditions": conditions}
            self._store_status(RESOURCE_BY_PLURAL["trainjobs"], trainjob, new)

    def _rayjob_controller(self, rayjob: dict[str, Any]) -> None:
        """KubeRay's RayJob in K8sJobMode, shortened: a Ray cluster (a head, the worker groups' replicas) and a
        submitter pod, all owned by the RayJob here (really the cluster's pods are the RayCluster's, which the RayJob
        owns) and labelled with its name; the head and workers run until the job ends, the submitter (the Ray job's
        driver output) follows the workload's PodScript. Its outcome becomes jobStatus and jobDeploymentStatus as
        rayjob_controller.go sets them: SUCCEEDED/Complete, or FAILED/Failed with reason AppFailed and Ray's message;
        with shutdownAfterJobFinishes the cluster's pods go."""
        spec, meta, status = rayjob.get("spec") or {}, rayjob["metadata"], rayjob.get("status") or {}
        if _deleting(rayjob) or status.get("jobDeploymentStatus") in ("Complete", "Failed"):
            return
        pods = self._owned_pods(rayjob)
        new_status: dict[str, Any] = dict(status)
        if spec.get("suspend"):
            for p in pods:
                self._delete_internal(RESOURCE_BY_PLURAL["pods"], p)
            new_status["jobDeploymentStatus"] = "Suspended" if status else ""
        elif not pods:
            cluster = f"{meta['name']}-{uuid.uuid4().hex[:5]}"
            origin = {RAY_ORIGIN_LABEL: meta["name"], RAY_ORIGIN_CRD_LABEL: "RayJob"}
            ray = spec.get("rayClusterSpec") or {}
            # The cluster's pods hold until the job ends; the submitter follows the workload's script.
            self._pod_scripts.setdefault((meta["namespace"], cluster), PodScript.runs_forever())
            cluster_owner = {**rayjob, "metadata": {**meta, "name": cluster}}
            head = (ray.get("headGroupSpec") or {}).get("template") or {}
            self._make_pod(cluster_owner, f"{cluster}-head-{uuid.uuid4().hex[:5]}", head,
                           {**origin, RAY_CLUSTER_LABEL: cluster, RAY_NODE_TYPE_LABEL: "head"})
            for group in ray.get("workerGroupSpecs") or []:
                for _ in range(int(group.get("replicas", 1))):
                    self._make_pod(cluster_owner, f"{cluster}-{group['groupName']}-worker-{uuid.uuid4().hex[:5]}",
                                   group.get("template") or {},
                                   {**origin, RAY_CLUSTER_LABEL: cluster, RAY_NODE_TYPE_LABEL: "worker"})
            submitter = {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "ray-job-submitter", "image": (head.get("spec") or {}).get("containers", [{}])[0].get(
                    "image", "ray"), "command": ["/bin/bash", "-ce", "--"],
                 "args": [f"ray job submit --address http://{cluster}-head-svc:8265 -- {spec.get('entrypoint', '')}"]}]}}
            self._make_pod(rayjob, f"{meta['name']}-{uuid.uuid4().hex[:5]}", submitter,
                           {**origin, JOB_NAME_LABEL: meta["name"]})
            new_status.update({"jobDeploymentStatus": "Running", "jobStatus": "RUNNING", "rayClusterName": cluster})
        else:
            submitter = next((p for p in pods if p["metadata"]["labels"].get(JOB_NAME_LABEL) == meta["name"]), None)
            phase = submitter["status"]["phase"] if submitter else None
            if phase == "Succeeded":
                new_status.update({"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete",
                                   "message": "Job finished successfully."})
            elif phase == "Failed":
                new_status.update({"jobStatus": "FAILED", "jobDeploymentStatus": "Failed", "reason": "AppFailed",
                                   "message": "Job entrypoint command failed with exit code 1, last available logs "
                                              "(truncated to 20,000 chars):\n" + "\n".join(
                                                  self._logs.get((meta["namespace"], submitter["metadata"]["name"]),
                                                                 [])[-5:])})
            if phase in TERMINAL_PHASES and spec.get("shutdownAfterJobFinishes"):
                for p in pods:
                    if p is not submitter:
                        self._delete_internal(RESOURCE_BY_PLURAL["pods"], p)
        if new_status != status:
            new = copy.deepcopy(rayjob)
            new["status"] = new_status
            self._store_status(RESOURCE_BY_PLURAL["rayjobs"], rayjob, new)

    def _store_status(self, rt: ResourceType, current: dict[str, Any], new: dict[str, Any]) -> None:
        """A controller's write to the status subresource (the main resource's update path keeps status)."""
        new = copy.deepcopy(new)
        if new != current:
            self._persist(rt, new, "MODIFIED", copy.deepcopy(current))

    def _kubelet(self) -> None:
        """Each controller-made pod advances one poll through its script; its container writes its log."""
        for pod_obj in list(self._store[RESOURCE_BY_PLURAL["pods"]].values()):
            uid = pod_obj["metadata"]["uid"]
            if uid not in self._pod_progress or _deleting(pod_obj):
                continue
            owner = (pod_obj["metadata"].get("ownerReferences") or [{}])[0].get("name", "")
            script = self._pod_scripts.get((pod_obj["metadata"]["namespace"], owner), self.pod_script)
            index, polls = self._pod_progress[uid]
            phase, hold = script.phases[min(index, len(script.phases) - 1)]
            if phase == "Running":
                self._write_log(pod_obj, script, 1)
            if hold is not None and polls + 1 > hold and index + 1 < len(script.phases):
                self._pod_progress[uid] = (index + 1, 0)
                self._set_pod_phase(pod_obj, script, index + 1)
            else:
                self._pod_progress[uid] = (index, polls + 1)
        self._settle()

    def _write_log(self, pod_obj: Mapping[str, Any], script: PodScript, lines: int | None) -> None:
        key = (pod_obj["metadata"]["namespace"], pod_obj["metadata"]["name"])
        written = self._logs.setdefault(key, [])
        remaining = list(script.log[len(written):])
        written.extend(remaining if lines is None else remaining[:lines])
        self._lock.notify_all()

    def _set_pod_phase(self, pod_obj: dict[str, Any], script: PodScript, index: int) -> None:
        """The kubelet's status for the phase. Sidecars (init containers with restartPolicy Always, KEP-753) start
        before the main containers and run beside them; the pod's phase follows its main containers alone, and once
        those have exited the kubelet stops the sidecars (SIGTERM; vLLM and most servers then exit 0). Ordinary init
        containers are taken as having completed before the pod runs."""
        phase = script.phases[min(index, len(script.phases) - 1)][0]
        new = copy.deepcopy(self._store[RESOURCE_BY_PLURAL["pods"]][_key(pod_obj)])
        containers = [(c.get("name", "main"), c.get("image", "")) for c in new["spec"].get("containers", [])]
        inits = [(c.get("name", "init"), c.get("image", ""), c.get("restartPolicy") == "Always")
                 for c in new["spec"].get("initContainers", [])]

        def status(name: str, image: str, state: dict[str, Any], running: bool, **extra: Any) -> dict[str, Any]:
            return {"name": name, "image": image, "imageID": "", "restartCount": 0, "ready": running,
                    "started": running, "state": state, **extra}

        if phase == "Pending" and script.sidecar_crash is not None and any(sidecar for *_, sidecar in inits):
            new["spec"].setdefault("nodeName", "ip-10-0-1-23.us-west-2.compute.internal")
            crash = {"waiting": {"reason": "CrashLoopBackOff", "message": script.sidecar_crash}}
            last = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": _now()}}
            new["status"] = {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"},
                               {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"}],
                "initContainerStatuses": [
                    status(n, image, crash, False, restartCount=3, lastState=last) if sidecar else
                    status(n, image, {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": _now()}},
                           False) for n, image, sidecar in inits],
                "containerStatuses": [status(c, image, {"waiting": {"reason": "PodInitializing"}}, False)
                                      for c, image in containers]}
        elif phase == "Pending":
            new["status"] = {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": script.unschedulable}]}
        else:
            new["spec"].setdefault("nodeName", "ip-10-0-1-23.us-west-2.compute.internal")
            if phase == "Running":
                state = {"running": {"startedAt": _now()}}
            else:
                self._write_log(new, script, None)
                code = 0 if phase == "Succeeded" else script.exit_code
                state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                        "finishedAt": _now()}}
            completed = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": _now()}}
            new["status"] = {"phase": phase, "conditions": [{"type": "PodScheduled", "status": "True"}],
                             "containerStatuses": [status(c, image, state, phase == "Running")
                                                   for c, image in containers]}
            if inits:
                new["status"]["initContainerStatuses"] = [
                    status(n, image, state if sidecar and phase == "Running" else completed,
                           sidecar and phase == "Running") for n, image, sidecar in inits]
        self._store_status(RESOURCE_BY_PLURAL["pods"], self._store[RESOURCE_BY_PLURAL["pods"]][_key(pod_obj)], new)

    def pod_log_stream(self, handler: _Handler) -> None:
        """GET pods/NAME/log: the apiserver's checks (the pod, the container), the kubelet's (the container has
        started), then the log as text; `follow=true` keeps the answer open, sending lines as they are written,
        until the container ends or the pod is gone."""
        url = urlsplit(handler.path)
        match = _POD_LOG_PATH.match(url.path)
        assert match is not None
        ns, name = match.groups()
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        pods = RESOURCE_BY_PLURAL["pods"]
        with self._lock:
            self._requests.append(RecordedRequest("GET", url.path, query, "pods", ns, name, None, subresource="log"))
        try:
            with self._lock:
                self._authorize(handler.headers, _Route(pods, ns, name), "get", subresource="log")
                pod_obj = self._store[pods].get((ns, name))
                if pod_obj is None:
                    raise not_found(pods, name)
                containers = [c.get("name") for c in pod_obj["spec"].get("containers", [])]
                inits = [c.get("name") for c in pod_obj["spec"].get("initContainers", [])]
                container = query.get("container")
                if container is None:
                    # k8s pkg/registry/core/pod strategy.go LogLocation: the only regular container, else name one
                    # (init containers included).
                    if len(containers) != 1:
                        raise _bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                           f"[{' '.join(containers)}]"
                                           + (f" or one of the init containers: [{' '.join(inits)}]" if inits else ""))
                    container = containers[0]
                if container not in containers + inits:
                    raise _bad_request(f"container {container} is not valid for pod {name}")
                if pod_obj["status"].get("phase") == "Pending":
                    raise _bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                                       + ("PodInitializing" if pod_obj["spec"].get("nodeName") and container in
                                          containers else "ContainerCreating"))
                uid = pod_obj["metadata"]["uid"]
        except ApiError as err:
            _write_json(handler, err.code, err.body())
            return
        follow = query.get("follow") in ("true", "1")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sent = 0
        try:
            while True:
                with self._lock:
                    lines = self._logs.get((ns, name), [])
                    chunk, sent = lines[sent:], len(lines)
                    current = self._store[pods].get((ns, name))
                    ended = (current is None or current["metadata"]["uid"] != uid or _deleting(current)
                             or current["status"].get("phase") in TERMINAL_PHASES)
                if chunk:
                    _write_chunk(handler, "".join(line + "\n" for line in chunk).encode())
                if not follow or (ended and sent == len(self._logs.get((ns, name), []))) or self._stopping:
                    break
                with self._lock:
                    self._lock.wait(timeout=0.2)
            _write_chunk(handler, b"")
        except OSError:
            handler.close_connection = True

    # ------------------------------------------------------------------------------------------------- reads

    def _matching(self, rt: ResourceType, selection: _Selection, objects: Mapping[tuple[str, str], dict] | None = None
                  ) -> list[dict[str, Any]]:
        source = self._store[rt] if objects is None else objects
        return [source[k] for k in sorted(source) if selection.matches(source[k])]

    def _state_at(self, rt: ResourceType, rv: int) -> dict[tuple[str, str], dict[str, Any]]:
        """The objects of `rt` as they were at resourceVersion `rv`, replayed from the history."""
        state: dict[tuple[str, str], dict[str, Any]] = {}
        for event in self._events:
            if event.rv > rv:
                break
            if event.rt == rt:
                if event.type == "DELETED":
                    state.pop(_key(event.obj), None)
                else:
                    state[_key(event.obj)] = event.obj
        return state

    # --------------------------------------------------------------------------------------------------- HTTP

    def _route(self, path: str) -> _Route:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _no_such_resource()

        def served(plural: str) -> ResourceType:
            rt = RESOURCE_BY_PLURAL.get(plural)
            if rt is None or rt not in self._served or rt.group != group or rt.version != version:
                raise _no_such_resource()
            return rt

        if len(rest) == 1:
            return _Route(served(rest[0]), None, None)
        if len(rest) == 2:
            rt = served(rest[0])
            if rt.namespaced:
                raise _no_such_resource()
            return _Route(rt, None, rest[1])
        if len(rest) in (3, 4) and rest[0] == "namespaces":
            if len(rest) == 3 and rest[2] in ("status", "finalize"):
                raise _not_implemented(f"the namespaces/{rest[2]} subresource")
            rt = served(rest[2])
            if not rt.namespaced:
                raise _no_such_resource()
            return _Route(rt, rest[1], rest[3] if len(rest) == 4 else None)
        if len(rest) >= 3:
            raise _not_implemented(f"subresource {'/'.join(rest[2:])}")
        raise _no_such_resource()

    def _authorize(self, headers: Mapping[str, str], route: _Route, verb: str, subresource: str = "") -> None:
        if self._token is not None and headers.get("Authorization") != f"Bearer {self._token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        rt = route.rt
        resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
        for denied_verb, denied, ns in self._forbidden:
            if denied_verb in ("*", verb) and denied == resource and ns in (None, route.namespace):
                where = f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope"
                why = f'User "{self.user}" cannot {verb} resource "{resource}" in API group "{rt.group}" {where}'
                subject = f'{rt.qualified} "{route.name}"' if route.name else rt.qualified
                raise ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(rt, route.name or ""))

    def handle(self, handler: _Handler, method: str) -> None:
        url = urlsplit(handler.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        route: _Route | None = None
        try:
            route = self._route(url.path)
        except ApiError as err:
            routing_error = err
        with self._lock:
            request = RecordedRequest(method, url.path, query, route.rt.plural if route else "",
                                      (route.namespace or "") if route else "", (route.name or "") if route else "",
                                      body)
            self._requests.append(request)
        try:
            if route is None:
                raise routing_error
            with self._lock:
                self._authorize(handler.headers, route, request.verb)
            if request.verb == "watch":
                self._watch(handler, route, query)
                return
            with self._lock:
                code, answer = self._dispatch(method, route, query, body, handler.headers.get("Content-Type", ""))
        except ApiError as err:
            code, answer = err.code, err.body()
        _write_json(handler, code, answer)

    def port_forward(self, handler: _Handler) -> None:
        """GET pods/NAME/portforward with a WebSocket upgrade: the apiserver's checks (authorization, the pod, its
        node), then the kubelet's (ports, protocol), then the session. Errors before the upgrade are HTTP answers:
        the apiserver's a Status, the kubelet's (proxied back as they are) plain text."""
        url = urlsplit(handler.path)
        match = _PORT_FORWARD_PATH.match(url.path)
        assert match is not None
        ns, name = match.groups()
        pairs = parse_qsl(url.query, keep_blank_values=True)
        pods = RESOURCE_BY_PLURAL["pods"]
        with self._lock:
            self._requests.append(RecordedRequest("GET", url.path, dict(pairs), "pods", ns, name, None,
                                                  subresource="portforward"))
        try:
            with self._lock:
                self._authorize(handler.headers, _Route(pods, ns, name), "create", subresource="portforward")
                pod = self._store[pods].get((ns, name))
                if pod is None:
                    raise not_found(pods, name)
                if not (pod.get("spec") or {}).get("nodeName"):
                    raise _bad_request(f"pod {name} does not have a host assigned")
                ports = _requested_ports(pairs)
                targets = {port: self._pod_ports.get((ns, name, port)) for port in ports}
                uid = pod["metadata"]["uid"]
        except ApiError as err:
            _write_json(handler, err.code, err.body())
            return
        except _KubeletRefusal as refusal:
            _write_text(handler, refusal.code, refusal.message)
            return
        _PortForwardSession(handler, ports, targets, f"{name}_{ns}", uid).serve()

    def _dispatch(self, method: str, route: _Route, query: Mapping[str, str], body: Any,
                  content_type: str) -> tuple[int, dict[str, Any]]:
        rt = route.rt
        dry_run = _dry_run(query.get("dryRun"))
        if route.name is None:
            if method == "GET":
                return 200, self._list(route, query)
            if method == "POST":
                if route.namespace is None and rt.namespaced:
                    raise ApiError(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource", _details(rt))
                if not isinstance(body, dict):
                    raise _bad_request("the body of the request was not a JSON object")
                _check_body_type(rt, body)
                namespace = route.namespace or ""
                body_ns = (body.get("metadata") or {}).get("namespace")
                if rt.namespaced and body_ns and body_ns != namespace:
                    raise _bad_request("the namespace of the provided object does not match the namespace sent on "
                                       "the request")
                if rt.namespaced and ("", namespace) not in self._store[RESOURCE_BY_PLURAL["namespaces"]]:
                    raise not_found(RESOURCE_BY_PLURAL["namespaces"], namespace)
                created = self._create(rt, body, namespace, dry_run=dry_run)
                self._settle()
                return 201, _typed(rt, created)
            if method == "DELETE":
                raise _not_implemented("deletecollection")
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           _details(rt))
        key = (route.namespace or "", route.name)
        if method == "GET":
            self._poll(rt)
            current = self._store[rt].get(key)
            if current is None:
                raise not_found(rt, route.name)
            return 200, _typed(rt, current)
        current = self._store[rt].get(key)
        if method not in ("PUT", "PATCH", "DELETE"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                           _details(rt))
        if current is None:
            raise not_found(rt, route.name)
        if method == "DELETE":
            if not rt.http_delete:
                raise _not_implemented(f"deleting {rt.plural}")
            options = _delete_options(body, query)
            obj, removed = self._delete(rt, current, options)
            self._settle()
            if removed and not rt.returns_deleted_object:
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {**_details(rt, route.name), "uid": obj["metadata"]["uid"]}}
            # 202 only when the caller asked for cascading by orphanDependents=false (handlers/delete.go).
            return (202 if not removed and options.orphan is False else 200), _typed(rt, obj)
        if method == "PUT":
            if not isinstance(body, dict):
                raise _bad_request("the body of the request was not a JSON object")
            _check_body_type(rt, body)
            updated = self._update(rt, current, body, require_rv=True, dry_run=dry_run)
        else:
            updated = self._update(rt, current, _patched(rt, current, body, content_type), require_rv=False,
                                   dry_run=dry_run)
        self._settle()
        return 200, _typed(rt, updated)

    def _list(self, route: _Route, query: Mapping[str, str]) -> dict[str, Any]:
        rt = route.rt
        selection = _Selection(route.namespace, None, parse_label_selector(query.get("labelSelector", "")),
                               parse_field_selector(query.get("fieldSelector", ""), rt))
        rv_param, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
        if match and match not in ("Exact", "NotOlderThan"):
            raise _options_invalid("ListOptions", "resourceVersionMatch",
                                   f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"')
        if match and not rv_param:
            raise _options_invalid("ListOptions", "resourceVersionMatch",
                                   "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        self._poll(rt)
        list_rv, objects = self._rv, None
        if rv_param not in ("", "0"):
            wanted = _parse_rv(rv_param)
            if wanted > self._rv:
                raise _too_large(wanted, self._rv)
            if match == "Exact":
                if wanted < self._horizon:
                    raise ApiError(410, "Expired", f"too old resource version: {wanted} ({self._horizon})")
                list_rv, objects = wanted, self._state_at(rt, wanted)
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(list_rv)},
                "items": [_list_item(rt, o) for o in self._matching(rt, selection, objects)]}

    def _watch(self, handler: _Handler, route: _Route, query: Mapping[str, str]) -> None:
        rt = route.rt
        selection = _Selection(route.namespace, route.name, parse_label_selector(query.get("labelSelector", "")),
                               parse_field_selector(query.get("fieldSelector", ""), rt))
        timeout = float(query.get("timeoutSeconds") or self.watch_timeout_seconds)
        if query.get("sendInitialEvents") in ("true", "1"):
            raise _not_implemented("sendInitialEvents")
        rv_param = query.get("resourceVersion", "")
        pending: list[dict[str, Any]] = []
        with self._lock:
            if rv_param in ("", "0"):
                # No resourceVersion: the current state as synthetic ADDED events, then changes.
                pending = [{"type": "ADDED", "object": _typed(rt, o)} for o in self._matching(rt, selection)]
                since, finished = self._rv, False
            else:
                since = _parse_rv(rv_param)
                finished = True
                if since < self._horizon:
                    # The watch cache answers 200 and one ERROR event, not an HTTP error.
                    pending = [{"type": "ERROR", "object": ApiError(
                        410, "Expired", f"too old resource version: {since} ({self._horizon})").body()}]
                elif since > self._rv:
                    pending = [{"type": "ERROR", "object": _too_large(since, self._rv).body()}]
                else:
                    finished = False
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Cache-Control", "no-cache, private")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        deadline = time.monotonic() + timeout
        try:
            while True:
                for event in pending:
                    _write_chunk(handler, json.dumps(event, separators=(",", ":")).encode() + b"\n")
                pending = []
                if finished:
                    break
                with self._lock:
                    while not self._stopping and time.monotonic() < deadline and \
                            not (self._events and self._events[-1].rv > since):
                        self._lock.wait(timeout=max(0.0, deadline - time.monotonic()))
                    if self._stopping or time.monotonic() >= deadline:
                        finished = True
                    for event in (e for e in self._events if e.rv > since):
                        since = event.rv
                        if event.rt == rt and (shown := _watch_event(event, selection)) is not None:
                            pending.append(shown)
            _write_chunk(handler, b"")
        except OSError:
            handler.close_connection = True


def _watch_event(event: _Event, selection: _Selection) -> dict[str, Any] | None:
    """The event a selective watch shows: an object that moves into or out of the selection is ADDED or DELETED."""
    now = selection.matches(event.obj)
    before = event.prev is not None and selection.matches(event.prev)
    if event.type == "MODIFIED":
        kind = "MODIFIED" if now and before else "ADDED" if now else "DELETED" if before else None
    else:
        kind = event.type if now else None
    return None if kind is None else {"type": kind, "object": _typed(event.rt, event.obj)}


def _parse_rv(value: str) -> int:
    if not value.isdigit():
        raise _bad_request(f"invalid resource version: {value!r}")
    return int(value)


def _too_large(wanted: int, current: int) -> ApiError:
    return ApiError(504, "Timeout", f"Timeout: Too large resource version: {wanted}, current: {current}",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1})


def _dry_run(value: Any) -> bool:
    values = value if isinstance(value, list) else [value] if value else []
    for v in values:
        if v != "All":
            raise _bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _check_body_type(rt: ResourceType, body: Mapping[str, Any]) -> None:
    if body.get("apiVersion") and body["apiVersion"] != rt.api_version:
        raise _bad_request(f"the API version in the data ({body['apiVersion']}) does not match the expected API "
                           f"version ({rt.api_version})")
    if body.get("kind") and body["kind"] != rt.kind:
        raise _bad_request(f"the kind in the data ({body['kind']}) does not match the expected kind ({rt.kind})")


def _patched(rt: ResourceType, current: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    media = content_type.split(";")[0].strip()
    if media == "application/merge-patch+json":
        if not isinstance(patch, dict):
            raise _bad_request("error decoding patch: a merge patch must be a JSON object")
        return merge_patch(current, patch)
    if media == "application/json-patch+json":
        if not isinstance(patch, list):
            raise _bad_request("error decoding patch: a JSON patch must be a list of operations")
        try:
            result = json_patch(current, patch)
        except _PatchFailed:
            # The apiserver answers a failed operation (a `test` included) with a generic 422.
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})
        if not isinstance(result, dict):
            raise _bad_request("the patched object is not a JSON object")
        return result
    accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    if media == "application/strategic-merge-patch+json" and not rt.custom:
        raise _not_implemented("strategic merge patch")
    if media == "application/apply-patch+yaml":
        raise _not_implemented("server-side apply")
    if not rt.custom:
        accepted += ", application/strategic-merge-patch+json"
    raise ApiError(415, "UnsupportedMediaType",
                   f"the body of the request was in an unknown format - accepted media types include: {accepted}")


def _delete_options(body: Any, query: Mapping[str, str]) -> _DeleteOptions:
    # As handlers/delete.go: a body (DeleteOptions) wins; only without one are the query parameters read.
    source: Mapping[str, Any] = body if isinstance(body, dict) and body else query
    orphan = source.get("orphanDependents")
    if isinstance(orphan, str):
        orphan = {"true": True, "false": False}.get(orphan.lower())
    policy = source.get("propagationPolicy")
    if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
        raise _options_invalid("DeleteOptions", "propagationPolicy",
                               f'Unsupported value: "{policy}": supported values: "Foreground", "Background", '
                               f'"Orphan"')
    if policy is not None and orphan is not None:
        raise _options_invalid("DeleteOptions", "propagationPolicy",
                               f'Invalid value: "{policy}": orphanDependents and deletionPropagation cannot be both '
                               f'set')
    preconditions = source.get("preconditions") or {}
    return _DeleteOptions(policy, orphan, _dry_run(source.get("dryRun")), preconditions.get("uid"),
                          preconditions.get("resourceVersion"))


def _gc_finalizers(finalizers: list[str], options: _DeleteOptions) -> list[str]:
    """The finalizers a DELETE leaves on an object: the garbage collector's two follow the propagation policy, else
    the existing ones (store.go deletionFinalizersForGarbageCollection, for kinds whose default policy is to delete
    dependents in the background)."""
    existing = next((f for f in finalizers if f in (ORPHAN, FOREGROUND)), None)
    if options.orphan is not None:
        orphan, foreground = options.orphan, False
    elif options.propagation is not None:
        orphan, foreground = options.propagation == "Orphan", options.propagation == "Foreground"
    else:
        orphan, foreground = existing == ORPHAN, existing == FOREGROUND
    updated = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    updated += [ORPHAN] if orphan else []
    updated += [FOREGROUND] if foreground else []
    return finalizers if set(updated) == set(finalizers) else updated


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle's algorithm each answer would wait for a delayed ACK.
    disable_nagle_algorithm = True
    fake: FakeKubeApi

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # the request log is the fake's `requests`

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's dispatch names
        if _PORT_FORWARD_PATH.match(urlsplit(self.path).path):
            self.fake.port_forward(self)
        elif _POD_LOG_PATH.match(urlsplit(self.path).path):
            self.fake.pod_log_stream(self)
        else:
            self.fake.handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.fake.handle(self, "POST")

    def do_PUT(self) -> None:  # noqa: N802
        self.fake.handle(self, "PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self.fake.handle(self, "PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self.fake.handle(self, "DELETE")


def _write_json(handler: BaseHTTPRequestHandler, code: int, body: Mapping[str, Any]) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _write_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


# ------------------------------------------------------------------------------------------------- pods/portforward

_PORT_FORWARD_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/portforward$")
_POD_LOG_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_V4_BINARY = "v4.channel.k8s.io"
_V4_BASE64 = "v4.base64.channel.k8s.io"
# The kubelet's port-forward WebSocket protocols; "" is a client that asks for none (binary framing).
_PORT_FORWARD_PROTOCOLS = ("", _V4_BINARY, _V4_BASE64)
_OP_CONTINUATION, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_CLOSE_NORMAL, _CLOSE_PROTOCOL_ERROR = 1000, 1002
# After the server's close frame, how long the client has to answer with its own before the socket is closed.
_CLOSE_WAIT_SECONDS = 5.0


class _KubeletRefusal(Exception):
    """An answer of the kubelet's before the upgrade: plain text, proxied to the client by the apiserver."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _requested_ports(pairs: list[tuple[str, str]]) -> list[int]:
    """`ports` as the apiserver converts it (repeated, or comma-separated in one value) and the kubelet checks it."""
    raw = [p for key, value in pairs if key == "ports" for p in value.split(",")]
    ports = []
    for value in raw:
        if not re.fullmatch(r"[+-]?\d+", value.strip()):
            raise _bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax')
        ports.append(int(value))
    if not ports:
        raise _KubeletRefusal(400, 'query parameter "port" is required')
    for port in ports:
        if port < 1:
            raise _KubeletRefusal(400, f'port "{port}" must be > 0')
        if port > 65535:
            raise _KubeletRefusal(400, f'unable to parse "{port}" as a port: strconv.ParseUint: parsing "{port}": '
                                       f'value out of range')
    return ports


def _write_text(handler: BaseHTTPRequestHandler, code: int, text: str) -> None:
    data = (text + "\n").encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    """One unfragmented server frame (servers never mask)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


class _FrameError(Exception):
    pass


def _read_ws_frame(stream: BinaryIO) -> tuple[bool, int, bytes] | None:
    """(fin, opcode, unmasked payload) of the client's next frame; None when the connection ended."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    fin, opcode, masked, size = bool(head[0] & 0x80), head[0] & 0x0F, bool(head[1] & 0x80), head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", stream.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", stream.read(8))[0]
    if not masked:
        raise _FrameError("a client frame must be masked (RFC 6455 section 5.1)")
    mask = stream.read(4)
    payload = stream.read(size)
    if len(mask) < 4 or len(payload) < size:
        return None
    key = (mask * (size // 4 + 1))[:size]
    data = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big") if size else b""
    return fin, opcode, data


class _PortForwardSession:
    """One upgraded pods/portforward connection: the kubelet's websocketStreamHandler, modelled."""

    def __init__(self, handler: _Handler, ports: list[int], targets: Mapping[int, tuple[str, int] | None],
                 pod: str, uid: str) -> None:
        self.handler = handler
        self.ports = ports
        self.targets = targets
        self.pod = pod
        self.uid = uid
        self.write_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.finished: set[int] = set()
        self.close_sent = False
        self.upstream: dict[int, socket.socket] = {}

    def serve(self) -> None:
        handler = self.handler
        self.handler.close_connection = True
        headers = handler.headers
        if "upgrade" not in (headers.get("Connection") or "").lower() or \
                (headers.get("Upgrade") or "").lower() != "websocket":
            # Without a WebSocket upgrade the kubelet expects SPDY, which the fake does not speak.
            _write_json(handler, 501, _not_implemented("pods/portforward over SPDY").body())
            return
        key = headers.get("Sec-WebSocket-Key")
        if not key or headers.get("Sec-WebSocket-Version") != "13":
            handler.send_response(400)
            handler.send_header("Sec-WebSocket-Version", "13")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        offered = [p.strip() for p in (headers.get("Sec-WebSocket-Protocol") or "").split(",")] or [""]
        protocol = next((p for p in offered if p in _PORT_FORWARD_PROTOCOLS), None)
        if protocol is None:
            _write_text(handler, 403, f"requested protocol(s) are not supported: {offered}; supports "
                                      f"{list(_PORT_FORWARD_PROTOCOLS)}")
            return
        if protocol == _V4_BASE64:
            _write_json(handler, 501, _not_implemented(f"the {_V4_BASE64} protocol").body())
            return
        accept = base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        if protocol:
            handler.send_header("Sec-WebSocket-Protocol", protocol)
        handler.end_headers()
        pumps = []
        for index, port in enumerate(self.ports):
            # Each channel opens with its port, two bytes little-endian, before any data.
            self._send(_OP_BINARY, bytes([2 * index]) + struct.pack("<H", port))
            self._send(_OP_BINARY, bytes([2 * index + 1]) + struct.pack("<H", port))
        # Connected before the first client frame is read: the kubelet buffers what arrives meanwhile, the fake
        # must not drop it.
        for index, port in enumerate(self.ports):
            sock = self._connect(index, port)
            if sock is not None:
                pump = threading.Thread(target=self._relay_pod_bytes, args=(index, sock), daemon=True,
                                        name=f"fake-kube-api-portforward-{port}")
                pump.start()
                pumps.append(pump)
        try:
            self._relay_client_frames()
        finally:
            with self.state_lock:
                upstream = list(self.upstream.values())
            for sock in upstream:
                _shutdown(sock)
            for pump in pumps:
                pump.join(timeout=5)

    def _send(self, opcode: int, payload: bytes) -> bool:
        try:
            with self.write_lock:
                self.handler.wfile.write(_ws_frame(opcode, payload))
            return True
        except OSError:
            return False

    def _connect(self, index: int, port: int) -> socket.socket | None:
        """The kubelet's PortForward for one port: a connection into the pod, or the error on the error channel."""
        target = self.targets.get(port)
        try:
            if target is None:
                raise ConnectionRefusedError(111, "connection refused")
            sock = socket.create_connection(target, timeout=5)
            sock.settimeout(None)
        except OSError as exc:
            # The kubelet's wording up to the colon; what follows is the fake's.
            message = (f"error forwarding port {port} to pod {self.pod}, uid {self.uid}: failed to connect to "
                       f"localhost:{port} inside the pod's network namespace: {exc.strerror or exc}")
            self._send(_OP_BINARY, bytes([2 * index + 1]) + message.encode())
            self._port_finished(index)
            return None
        with self.state_lock:
            self.upstream[index] = sock
        return sock

    def _relay_pod_bytes(self, index: int, sock: socket.socket) -> None:
        try:
            while True:
                data = sock.recv(65536)
                if not data or not self._send(_OP_BINARY, bytes([2 * index]) + data):
                    break
        except OSError:
            pass
        finally:
            _shutdown(sock)
            self._port_finished(index)

    def _port_finished(self, index: int) -> None:
        # Once every port's stream has ended the kubelet's handler returns, closing the WebSocket.
        with self.state_lock:
            self.finished.add(index)
            done = len(self.finished) == len(self.ports) and not self.close_sent
            if done:
                self.close_sent = True
        if done:
            self._send(_OP_CLOSE, struct.pack("!H", _CLOSE_NORMAL))
            try:
                self.handler.connection.settimeout(_CLOSE_WAIT_SECONDS)
            except OSError:
                pass

    def _relay_client_frames(self) -> None:
        message: list[bytes] = []
        message_opcode = 0
        while True:
            try:
                frame = _read_ws_frame(self.handler.rfile)
            except _FrameError:
                self._close(_CLOSE_PROTOCOL_ERROR)
                return
            except OSError:  # reset, or no close answer within _CLOSE_WAIT_SECONDS
                return
            if frame is None:
                return
            fin, opcode, payload = frame
            if opcode == _OP_CLOSE:
                self._close(_CLOSE_NORMAL)
                return
            if opcode == _OP_PING:
                self._send(_OP_PONG, payload)
                continue
            if opcode == _OP_PONG:
                continue
            if opcode != _OP_CONTINUATION:
                message, message_opcode = [], opcode
            message.append(payload)
            if not fin:
                continue
            data = b"".join(message)
            # The binary protocol reads text and binary messages alike: channel byte, then data. Writes to an error
            # channel (odd) or to a channel no port has are dropped, as wsstream drops them.
            if message_opcode in (_OP_TEXT, _OP_BINARY) and data and data[0] % 2 == 0 and \
                    data[0] // 2 < len(self.ports):
                with self.state_lock:
                    sock = self.upstream.get(data[0] // 2)
                if sock is not None and len(data) > 1:
                    try:
                        sock.sendall(data[1:])
                    except OSError:
                        _shutdown(sock)

    def _close(self, code: int) -> None:
        with self.state_lock:
            answer = not self.close_sent
            self.close_sent = True
        if answer:
            self._send(_OP_CLOSE, struct.pack("!H", code))


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


# ---------------------------------------------------------------------------------------------- objects for seeding

def _metadata(name: str, namespace: str | None = None, labels: Mapping[str, str] | None = None,
              annotations: Mapping[str, str] | None = None, finalizers: tuple[str, ...] = ()) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return meta


def namespace(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": _metadata(name, labels={"kubernetes.io/metadata.name": name, **(labels or {})}),
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def service(name: str, ns: str, *, type: str = "ClusterIP", ports: tuple[int, ...] = (80,),  # noqa: A002
            finalizers: tuple[str, ...] | None = None, annotations: Mapping[str, str] | None = None
            ) -> dict[str, Any]:
    """A Service; one of type LoadBalancer carries the cloud controller's cleanup finalizer unless told otherwise."""
    if finalizers is None:
        finalizers = (SERVICE_LB_FINALIZERS[0],) if type == "LoadBalancer" else ()
    status: dict[str, Any] = {"loadBalancer": {}}
    if type == "LoadBalancer":
        status["loadBalancer"] = {"ingress": [{"hostname": f"{name}-0123456789.elb.us-west-2.amazonaws.com"}]}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _metadata(name, ns, annotations=annotations, finalizers=finalizers),
            "spec": {"type": type, "ports": [{"port": p, "protocol": "TCP", "targetPort": p} for p in ports],
                     "selector": {"app.kubernetes.io/name": name}},
            "status": status}


def ingress(name: str, ns: str, *, finalizers: tuple[str, ...] = INGRESS_LB_FINALIZERS,
            annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": _metadata(name, ns, annotations=annotations, finalizers=finalizers),
            "spec": {"ingressClassName": "alb",
                     "defaultBackend": {"service": {"name": name, "port": {"number": 80}}}}}


def node(name: str, labels: Mapping[str, str] | None = None, finalizers: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": _metadata(name, labels={"kubernetes.io/hostname": name, **(labels or {})},
                                  finalizers=finalizers),
            "spec": {"providerID": f"aws:///us-west-2a/i-{uuid.uuid4().hex[:17]}"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def karpenter_node(name: str, pool: str) -> dict[str, Any]:
    """A Node Karpenter launched: labelled with its NodePool, held by Karpenter's termination finalizer."""
    return node(name, {NODEPOOL_LABEL: pool, "karpenter.sh/registered": "true"}, (KARPENTER_TERMINATION,))


def nodepool(name: str) -> dict[str, Any]:
    return {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": _metadata(name),
            "spec": {"template": {"spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}},
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "30s"}},
            "status": {"nodes": 1}}


def nodeclaim(name: str, pool: Mapping[str, Any] | str, node_name: str | None = None) -> dict[str, Any]:
    """A NodeClaim of `pool` (the stored NodePool, for the ownerReference Karpenter sets, or only its name)."""
    pool_name = pool if isinstance(pool, str) else pool["metadata"]["name"]
    meta = _metadata(name, labels={NODEPOOL_LABEL: pool_name}, finalizers=(KARPENTER_TERMINATION,))
    if not isinstance(pool, str):
        meta["ownerReferences"] = [{"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "name": pool_name,
                                    "uid": pool["metadata"]["uid"], "blockOwnerDeletion": True}]
    claim: dict[str, Any] = {
        "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": meta,
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                 "requirements": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]},
        "status": {}}
    if node_name:
        claim["status"] = {"nodeName": node_name, "providerID": f"aws:///us-west-2a/i-{uuid.uuid4().hex[:17]}"}
    return claim


def application(name: str, ns: str = "argocd", *, finalizers: tuple[str, ...] = (ARGOCD_FINALIZERS[0],),
                tracked_by: str | None = None) -> dict[str, Any]:
    """An Argo CD Application; `tracked_by` names the parent Application that manages it (app of apps)."""
    annotations = {ARGOCD_TRACKING_ANNOTATION: f"{tracked_by}:argoproj.io/Application:{ns}/{name}"} \
        if tracked_by else None
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": _metadata(name, ns, annotations=annotations, finalizers=finalizers),
            "spec": {"project": "default",
                     "source": {"repoURL": "https://example.com/charts", "chart": name, "targetRevision": "1.0.0"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": name}}}


def tracked(obj: Mapping[str, Any], app: str) -> dict[str, Any]:
    """`obj` as Argo CD's annotation tracking marks a resource of Application `app` (in Argo CD's namespace)."""
    out = copy.deepcopy(dict(obj))
    meta = out["metadata"]
    group = out["apiVersion"].split("/")[0] if "/" in out["apiVersion"] else ""
    meta.setdefault("annotations", {})[ARGOCD_TRACKING_ANNOTATION] = \
        f"{app}:{group}/{out['kind']}:{meta.get('namespace', '')}/{meta['name']}"
    return out


def statefulset(name: str, ns: str, *, claim_templates: tuple[str, ...] = ("data",), replicas: int = 1
                ) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _metadata(name, ns, labels=labels),
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": "public.ecr.aws/docker/busybox"}]}},
                     "volumeClaimTemplates": [
                         {"metadata": {"name": t},
                          "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}
                         for t in claim_templates]}}


def pvc(name: str, ns: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _metadata(name, ns, labels=labels),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                     "storageClassName": "gp3"},
            "status": {"phase": "Bound"}}


def pod(name: str, ns: str, *, node_name: str | None = None, claims: tuple[str, ...] = (),
        labels: Mapping[str, str] | None = None, phase: str = "Running", ready: bool | None = None,
        ports: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A Pod; `ready` adds its Ready condition, `ports` names its container's ports (name -> containerPort)."""
    container: dict[str, Any] = {"name": "main", "image": "public.ecr.aws/docker/busybox"}
    if ports:
        container["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports.items()]
    spec: dict[str, Any] = {"containers": [container]}
    if node_name:
        spec["nodeName"] = node_name
    if claims:
        spec["volumes"] = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    status: dict[str, Any] = {"phase": phase}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _metadata(name, ns, labels=labels), "spec": spec,
            "status": status}


def secret(name: str, ns: str, data: Mapping[str, bytes | str], *, type: str = "Opaque",  # noqa: A002
           labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Secret holding `data` (encoded here: the API carries Secret bytes as base64)."""
    encoded = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _metadata(name, ns, labels=labels), "type": type,
            "data": encoded}


def helm_release(name: str, ns: str, *, chart: str, version: str, status: str = "deployed", revision: int = 1,
                 app_version: str = "", description: str = "") -> dict[str, Any]:
    """The Secret Helm's default storage driver keeps for one revision of a release, as helm/helm (v3)
    pkg/storage/driver/secrets.go newSecretsObject and util.go encodeRelease write it: named
    sh.helm.release.v1.<release>.v<revision>, labels owner=helm, name, status and version (the revision), type
    helm.sh/release.v1, and under `release` the base64 text of the gzipped release JSON (pkg/release: name, namespace,
    version, info{status, Description, ...}, chart{metadata{name, version, appVersion}}), which the API carries as
    base64 once more."""
    now = _now()
    release = {"name": name, "namespace": ns, "version": revision,
               "info": {"first_deployed": now, "last_deployed": now, "status": status,
                        "Description": description or {"deployed": "Install complete"}.get(status, status)},
               "chart": {"metadata": {"apiVersion": "v2", "name": chart, "version": version,
                                      "appVersion": app_version}},
               "config": {}, "manifest": ""}
    payload = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    labels = {"owner": "helm", "name": name, "status": status, "version": str(revision),
              "modifiedAt": str(int(time.time()))}
    return secret(f"sh.helm.release.v1.{name}.v{revision}", ns, {"release": payload}, type=HELM_RELEASE_TYPE,
                  labels=labels)
