"""The cluster-side phase of a safe destroy: remove what the cluster created outside terraform's state before terraform
destroys the cluster, so that nothing is left running, billing, or holding the VPC.

Terraform knows the Helm releases, not what the controllers behind them made in AWS: the load balancers of
LoadBalancer Services and Ingresses, the EC2 instances Karpenter launched, the EBS volumes of PersistentVolumeClaims.
Deleting the EKS cluster strands all of them, and the load balancers' and instances' network interfaces then keep the
subnets and security groups from being deleted, so the destroy stops half-way. Hence, in this order:

1. Argo CD Applications (every namespace), so Argo CD deletes what it deployed and cannot re-create what the next steps
   delete; each is deleted in the foreground, and Argo CD's resources finalizer holds it until its resources are gone.
   A bounded wait; Applications still there after it are reported, and their Argo CD finalizers are stripped only when
   the caller asks (what they manage is then left in place, for the next steps and terraform).
2. Services of type LoadBalancer and all Ingresses: their controllers delete the AWS load balancers, then release them.
3. Karpenter NodePools: Karpenter drains and terminates every node of theirs; wait until no NodeClaim (and no node
   Karpenter launched) is left, reporting progress at each poll.
4. PersistentVolumeClaims of the platform's StatefulSets: only with `delete_volumes` (their EBS volumes, data
   included, are deleted with them); otherwise listed as kept, and their volumes outlive the cluster.

Each wait re-lists what it waits for and deletes anything that appeared since (an ApplicationSet's new Application, a
Service an operator re-created), so a step ends with none left rather than with the ones it first saw gone.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import urllib3
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api
from kubernetes.client.exceptions import ApiException

from mlplat.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, MlplatError

APPLICATIONS_STEP = "applications"
LOAD_BALANCERS_STEP = "load-balancers"
NODE_POOLS_STEP = "node-pools"
VOLUMES_STEP = "volumes"

ARGOCD_FINALIZER_PREFIXES = ("resources-finalizer.argocd.argoproj.io", "post-delete-finalizer.argocd.argoproj.io")
ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
KARPENTER_NAMESPACE = "kube-system"  # where the catalog installs Karpenter


@dataclass(frozen=True)
class CleanupConfig:
    # Namespaces of the platform's add-ons: only their StatefulSets' claims are the platform's volumes.
    platform_namespaces: tuple[str, ...] = ()
    dry_run: bool = False
    delete_volumes: bool = False
    remove_stuck_finalizers: bool = False
    argocd_namespace: str = "argocd"
    poll_interval_seconds: float = 5.0
    applications_timeout_seconds: float = 600.0
    load_balancers_timeout_seconds: float = 600.0
    # Karpenter waits for a node's pods up to the NodePool's terminationGracePeriod before it terminates the node.
    nodes_timeout_seconds: float = 1200.0
    volumes_timeout_seconds: float = 120.0
    finalizer_removal_timeout_seconds: float = 60.0
    request_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("poll_interval_seconds", "applications_timeout_seconds", "load_balancers_timeout_seconds",
                     "nodes_timeout_seconds", "volumes_timeout_seconds", "finalizer_removal_timeout_seconds",
                     "request_timeout_seconds"):
            if not getattr(self, name) > 0:
                raise MlplatError(f"cluster cleanup: {name} must be positive, not {getattr(self, name)!r}",
                                  exit_code=EXIT_BAD_INPUT)


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class StepResult:
    step: str
    found: tuple[ObjectRef, ...] = ()  # what the step acts on, including what appeared while it waited
    to_delete: tuple[ObjectRef, ...] = ()  # what goes in this step (with dry_run: what would go)
    deleted: tuple[ObjectRef, ...] = ()  # confirmed gone
    still_present: tuple[ObjectRef, ...] = ()  # still there when the wait's bound passed
    kept: tuple[ObjectRef, ...] = ()  # left in place on purpose
    finalizers_removed: tuple[ObjectRef, ...] = ()
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step}
        for name in ("found", "to_delete", "deleted", "still_present", "kept", "finalizers_removed"):
            out[name] = [str(ref) for ref in getattr(self, name)]
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class CleanupResult:
    dry_run: bool
    steps: tuple[StepResult, ...]

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.step == name)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "steps": [s.as_dict() for s in self.steps]}


@dataclass(frozen=True)
class Progress:
    """One poll of a wait: how many objects of each kind are still there."""
    step: str
    poll: int
    elapsed_seconds: float
    remaining: Mapping[str, int]


class ClusterCleanupError(MlplatError):
    """A step could not finish; `result` holds the steps so far, the unfinished one last (also in --json output)."""

    def __init__(self, message: str, result: CleanupResult, *, exit_code: int | None = None) -> None:
        super().__init__(message, exit_code=exit_code)
        self.result = result
        self.details = {"cluster_cleanup": result.as_dict()}


def clean_up_cluster(api_client: ApiClient, config: CleanupConfig, *,
                     on_progress: Callable[[Progress], None] | None = None) -> CleanupResult:
    """Run the four steps in order (see the module's docstring); raises ClusterCleanupError naming what is stuck and
    how to look into it, or MlplatError when the API cannot be reached or refuses the caller."""
    run = _Run(_Api(api_client, config.request_timeout_seconds), config, on_progress or (lambda progress: None))
    # Before Argo CD deletes the StatefulSets it manages: their claims outlive them and are still the platform's.
    run.remember_claim_templates()
    done: list[StepResult] = []
    steps = ((APPLICATIONS_STEP, run.applications), (LOAD_BALANCERS_STEP, run.load_balancers),
             (NODE_POOLS_STEP, run.node_pools), (VOLUMES_STEP, run.volumes))
    for name, step in steps:
        try:
            done.append(step())
        except _StepStuck as stuck:
            raise ClusterCleanupError(stuck.message, CleanupResult(config.dry_run, (*done, stuck.result))) from None
        except KeyboardInterrupt:
            raise ClusterCleanupError(
                f"interrupted during the cluster cleanup's {name} step: the deletions already asked for go on in the "
                f"cluster, and nothing of terraform's was touched yet. Running the destroy again picks up where this "
                f"one stopped", CleanupResult(config.dry_run, tuple(done)), exit_code=EXIT_INTERRUPTED) from None
    return CleanupResult(config.dry_run, tuple(done))


# ----------------------------------------------------------------------------------------------- talking to the API

@dataclass(frozen=True)
class _Kind:
    kind: str
    plural: str
    group: str
    version: str
    namespaced: bool

    @property
    def custom(self) -> bool:
        return self.group not in ("", "apps", "networking.k8s.io")

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


APPLICATIONS = _Kind("Application", "applications", "argoproj.io", "v1alpha1", True)
SERVICES = _Kind("Service", "services", "", "v1", True)
INGRESSES = _Kind("Ingress", "ingresses", "networking.k8s.io", "v1", True)
NODEPOOLS = _Kind("NodePool", "nodepools", "karpenter.sh", "v1", False)
NODECLAIMS = _Kind("NodeClaim", "nodeclaims", "karpenter.sh", "v1", False)
NODES = _Kind("Node", "nodes", "", "v1", False)
STATEFULSETS = _Kind("StatefulSet", "statefulsets", "apps", "v1", True)
CLAIMS = _Kind("PersistentVolumeClaim", "persistentvolumeclaims", "", "v1", True)

# The typed client's methods for the built-in kinds: (API class attribute, list every namespace, delete one).
_TYPED = {
    "services": ("core", "list_service_for_all_namespaces", "delete_namespaced_service"),
    "ingresses": ("networking", "list_ingress_for_all_namespaces", "delete_namespaced_ingress"),
    "nodes": ("core", "list_node", None),
    "statefulsets": ("apps", "list_stateful_set_for_all_namespaces", None),
    "persistentvolumeclaims": ("core", "list_persistent_volume_claim_for_all_namespaces",
                               "delete_namespaced_persistent_volume_claim"),
}


class _Status(Exception):
    """An API answer the caller handles itself (a 404, a failed JSON patch test)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Api:
    """The few calls the cleanup makes, on raw JSON (the same shape for built-in and custom kinds), every failure
    turned into an MlplatError that says what was being done."""

    def __init__(self, api_client: ApiClient, request_timeout: float) -> None:
        self.host = api_client.configuration.host
        self.timeout = request_timeout
        self.core = CoreV1Api(api_client)
        self.networking = NetworkingV1Api(api_client)
        self.apps = AppsV1Api(api_client)
        self.custom = CustomObjectsApi(api_client)

    def list(self, kind: _Kind, label_selector: str | None = None) -> list[dict[str, Any]]:
        """Every object of `kind` in every namespace; none when the cluster does not serve the kind (its CRD is not
        installed: no Argo CD, say)."""
        kwargs = {"label_selector": label_selector} if label_selector else {}
        try:
            if kind.custom:
                answer = self._call(f"listing {kind.qualified}", self.custom.list_cluster_custom_object,
                                    kind.group, kind.version, kind.plural, passthrough=(404,), **kwargs)
            else:
                api, list_all, _ = _TYPED[kind.plural]
                answer = self._call(f"listing {kind.qualified}", getattr(getattr(self, api), list_all),
                                    passthrough=(404,), **kwargs)
        except _Status:
            return []
        return list(answer.get("items") or [])

    def get(self, kind: _Kind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call(f"reading {_ref(kind, namespace, name)}", self.custom.get_namespaced_custom_object,
                              kind.group, kind.version, namespace, kind.plural, name, passthrough=(404,))
        except _Status:
            return None

    def delete(self, kind: _Kind, obj: Mapping[str, Any], propagation: str | None = None) -> None:
        """Delete (an object already gone is fine)."""
        namespace, name = _namespace(obj), _name(obj)
        kwargs = {"propagation_policy": propagation} if propagation else {}
        action = f"deleting {_ref(kind, namespace, name)}"
        try:
            if kind.custom and kind.namespaced:
                self._call(action, self.custom.delete_namespaced_custom_object, kind.group, kind.version, namespace,
                           kind.plural, name, passthrough=(404,), **kwargs)
            elif kind.custom:
                self._call(action, self.custom.delete_cluster_custom_object, kind.group, kind.version, kind.plural,
                           name, passthrough=(404,), **kwargs)
            else:
                api, _, delete = _TYPED[kind.plural]
                self._call(action, getattr(getattr(self, api), delete), name, namespace, passthrough=(404,),
                           **kwargs)
        except _Status:
            pass

    def json_patch(self, kind: _Kind, obj: Mapping[str, Any], operations: list[dict[str, Any]]) -> None:
        namespace, name = _namespace(obj), _name(obj)
        self._call(f"patching {_ref(kind, namespace, name)}", self.custom.patch_namespaced_custom_object, kind.group,
                   kind.version, namespace, kind.plural, name, operations, passthrough=(404, 409, 422),
                   _content_type="application/json-patch+json")

    def _call(self, action: str, method: Callable[..., Any], *args: Any, passthrough: tuple[int, ...] = (),
              **kwargs: Any) -> Any:
        try:
            response = method(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            try:
                data = response.data
            finally:
                response.release_conn()
            return json.loads(data) if data else {}
        except ApiException as exc:
            if exc.status in passthrough:
                raise _Status(exc.status) from None
            raise _api_error(action, exc, self.host) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise MlplatError(
                f"cannot reach the cluster's API at {self.host} while {action}: {exc}. The endpoint is private: run "
                f"from inside the VPC (or a peered network), or list your egress range in "
                f"cluster_endpoint_public_access_cidrs and run `mlplat deploy` first") from None
        except ValueError as exc:
            raise MlplatError(f"the cluster's API at {self.host} answered {action} with something that is not "
                              f"JSON: {exc}") from None


def _api_error(action: str, exc: ApiException, host: str) -> MlplatError:
    message = _status_message(exc.body)
    admin = ("The cluster cleanup needs cluster admin: an EKS access entry for your IAM identity with "
             "AmazonEKSClusterAdminPolicy. Add the role or user to admin_principal_arns in the blueprint and run "
             "`mlplat deploy` (or have an admin run `aws eks create-access-entry` and `aws eks "
             "associate-access-policy` for it), then run the destroy again.")
    if exc.status == 401:
        return MlplatError(f"the cluster's API at {host} did not accept the credentials while {action} "
                           f"(401 Unauthorized): the token expired, or your IAM identity has no access entry on the "
                           f"cluster. {admin}")
    if exc.status == 403:
        return MlplatError(f"the cluster's API at {host} refused {action} (403 Forbidden: {message or exc.reason}). "
                           f"{admin}")
    return MlplatError(f"the cluster's API at {host} answered {exc.status} {exc.reason} while {action}"
                       + (f": {message}" if message else ""))


def _status_message(body: Any) -> str:
    try:
        return str(json.loads(body).get("message") or "")
    except (TypeError, ValueError, AttributeError):
        return ""


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or f"{_namespace(obj)}/{_name(obj)}")


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _ref(kind: _Kind, namespace: str, name: str) -> ObjectRef:
    return ObjectRef(kind.kind, namespace, name)


def _refs(kind: _Kind, objects: list[dict[str, Any]]) -> list[ObjectRef]:
    return [_ref(kind, _namespace(o), _name(o)) for o in objects]


# ------------------------------------------------------------------------------------------------------- the steps

class _StepStuck(Exception):
    def __init__(self, message: str, result: StepResult) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


@dataclass
class _Tracker:
    """What a step saw of one kind over all its polls, by uid (an object re-created under the same name is another
    object)."""
    kind: _Kind
    seen: dict[str, ObjectRef] = field(default_factory=dict)
    last: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for obj in objects:
            self.seen.setdefault(_uid(obj), _ref(self.kind, _namespace(obj), _name(obj)))
        self.last = objects
        return objects

    @property
    def found(self) -> list[ObjectRef]:
        return sorted(set(self.seen.values()))

    @property
    def present(self) -> list[ObjectRef]:
        return sorted({self.seen[_uid(o)] for o in self.last})

    @property
    def gone(self) -> list[ObjectRef]:
        still = {_uid(o) for o in self.last}
        return sorted({ref for uid, ref in self.seen.items() if uid not in still})


class _Run:
    def __init__(self, api: _Api, config: CleanupConfig, on_progress: Callable[[Progress], None]) -> None:
        self.api = api
        self.config = config
        self.on_progress = on_progress
        self.claim_prefixes: set[tuple[str, str]] = set()  # (namespace, "<template>-<statefulset>")

    def remember_claim_templates(self) -> None:
        namespaces = set(self.config.platform_namespaces)
        self.claim_prefixes |= {(_namespace(s), f"{t}-{_name(s)}") for s in self.api.list(STATEFULSETS)
                                if _namespace(s) in namespaces for t in _claim_templates(s)}

    def _wait(self, step: str, probes: Mapping[str, Callable[[], list[dict[str, Any]]]], timeout: float) -> bool:
        """Poll until every probe comes back empty (True) or `timeout` has passed (False), reporting each poll."""
        start = time.monotonic()
        poll = 0
        while True:
            poll += 1
            counts = {label: len(probe()) for label, probe in probes.items()}
            elapsed = time.monotonic() - start
            self.on_progress(Progress(step, poll, round(elapsed, 3), counts))
            if not any(counts.values()):
                return True
            if elapsed >= timeout:
                return False
            time.sleep(min(self.config.poll_interval_seconds, max(0.0, timeout - elapsed)))

    def _converge(self, tracker: _Tracker, list_now: Callable[[], list[dict[str, Any]]],
                  propagation: str | None = None) -> Callable[[], list[dict[str, Any]]]:
        """A probe that lists, and deletes whatever is not deleting yet (it appeared since the step began)."""
        def probe() -> list[dict[str, Any]]:
            objects = tracker.observe(list_now())
            for obj in objects:
                if not _deleting(obj):
                    self.api.delete(tracker.kind, obj, propagation)
            return objects
        return probe

    # 1 -------------------------------------------------------------------------------------------------------------
    def applications(self) -> StepResult:
        apps = _Tracker(APPLICATIONS)
        listed = apps.observe(self.api.list(APPLICATIONS))
        if self.config.dry_run:
            return StepResult(APPLICATIONS_STEP, found=tuple(apps.found), to_delete=tuple(apps.found))
        # Parents first, so an app of apps cannot re-create a child that is already going.
        for app in sorted(listed, key=lambda a: (self._is_child(a, listed), _namespace(a), _name(a))):
            if not _deleting(app):
                # Foreground: the Application stays until what it owns is gone (Argo CD's finalizer does the work).
                self.api.delete(APPLICATIONS, app, "Foreground")
        probe = self._converge(apps, lambda: self.api.list(APPLICATIONS), "Foreground")
        if self._wait(APPLICATIONS_STEP, {"applications": probe}, self.config.applications_timeout_seconds):
            return StepResult(APPLICATIONS_STEP, found=tuple(apps.found), to_delete=tuple(apps.found),
                              deleted=tuple(apps.found))
        stuck = list(apps.last)
        result = StepResult(APPLICATIONS_STEP, found=tuple(apps.found), to_delete=tuple(apps.found),
                            deleted=tuple(apps.gone), still_present=tuple(apps.present))
        if not self.config.remove_stuck_finalizers:
            raise _StepStuck(self._stuck_applications_message(stuck), result)
        stripped = [_ref(APPLICATIONS, _namespace(a), _name(a)) for a in stuck if self._strip_argocd_finalizers(a)]
        done = self._wait(APPLICATIONS_STEP, {"applications": lambda: apps.observe(self.api.list(APPLICATIONS))},
                          self.config.finalizer_removal_timeout_seconds)
        result = replace(result, deleted=tuple(apps.gone), still_present=tuple(apps.present),
                         finalizers_removed=tuple(sorted(stripped)),
                         note="Argo CD's finalizer was removed from the Applications that did not finish deleting: "
                              "what they managed was left in place (the next steps still delete load balancers "
                              "and node pools; terraform deletes its Helm releases)")
        if not done:
            names = ", ".join(sorted(f"{_namespace(a)}/{_name(a)} (finalizers: {', '.join(_finalizers(a)) or 'none'})"
                                     for a in apps.last))
            raise _StepStuck(f"Argo CD Applications still present after their Argo CD finalizer was removed: {names}. "
                             f"Another finalizer holds them; `kubectl get applications -A` and `kubectl -n NAMESPACE "
                             f"get application NAME -o yaml` show which", result)
        return result

    def _is_child(self, app: Mapping[str, Any], apps: list[dict[str, Any]]) -> bool:
        """Managed by another listed Application (Argo CD's tracking annotation or instance label names it)."""
        meta = app.get("metadata") or {}
        tracking = (meta.get("annotations") or {}).get(ARGOCD_TRACKING_ANNOTATION, "")
        owners = {tracking.split(":", 1)[0]} if tracking else set()
        owners.add((meta.get("labels") or {}).get(ARGOCD_INSTANCE_LABEL, ""))
        names = set()
        for other in apps:
            if other is app:
                continue
            ns, name = _namespace(other), _name(other)
            names.add(name if ns == self.config.argocd_namespace else f"{ns}_{name}")
        return bool(owners & names)

    def _strip_argocd_finalizers(self, app: Mapping[str, Any]) -> bool:
        """Remove Argo CD's finalizers, guarded by a JSON patch test so a concurrent change is not overwritten."""
        current: Mapping[str, Any] | None = app
        for _ in range(5):
            if current is None:
                return False
            finalizers = _finalizers(current)
            keep = [f for f in finalizers if not f.startswith(ARGOCD_FINALIZER_PREFIXES)]
            if keep == finalizers:
                return False
            try:
                self.api.json_patch(APPLICATIONS, current, [
                    {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                    {"op": "replace", "path": "/metadata/finalizers", "value": keep}])
                return True
            except _Status as status:
                if status.status == 404:
                    return False
                current = self.api.get(APPLICATIONS, _namespace(app), _name(app))  # changed meanwhile: read again
        raise MlplatError(f"could not remove Argo CD's finalizer from Application {_namespace(app)}/{_name(app)}: "
                          f"its finalizers kept changing while it was patched")

    def _stuck_applications_message(self, stuck: list[dict[str, Any]]) -> str:
        names = ", ".join(sorted(f"{_namespace(a)}/{_name(a)}" for a in stuck))
        ns = self.config.argocd_namespace
        return (f"Argo CD Applications still deleting after {self.config.applications_timeout_seconds:g} s: {names}. "
                f"Argo CD removes its resources finalizer once it has deleted everything the Application manages; "
                f"see what holds it up in the Application's status (`kubectl -n NAMESPACE get application NAME -o "
                f"yaml`) and in the controller's logs (`kubectl -n {ns} logs statefulset/argocd-application-"
                f"controller`). If Argo CD cannot finish (it is not running, or a resource cannot be deleted), "
                f"run the destroy again with --remove-stuck-finalizers: it strips Argo CD's finalizer and leaves "
                f"what those Applications manage to the next steps and terraform")

    # 2 -------------------------------------------------------------------------------------------------------------
    def load_balancers(self) -> StepResult:
        services, ingresses = _Tracker(SERVICES), _Tracker(INGRESSES)

        def lb_services() -> list[dict[str, Any]]:
            return [s for s in self.api.list(SERVICES) if (s.get("spec") or {}).get("type") == "LoadBalancer"]

        services.observe(lb_services())
        ingresses.observe(self.api.list(INGRESSES))
        found = tuple(services.found + ingresses.found)
        if self.config.dry_run:
            return StepResult(LOAD_BALANCERS_STEP, found=found, to_delete=found)
        for tracker in (services, ingresses):
            for obj in tracker.last:
                if not _deleting(obj):
                    self.api.delete(tracker.kind, obj)
        probes = {"services": self._converge(services, lb_services),
                  "ingresses": self._converge(ingresses, lambda: self.api.list(INGRESSES))}
        done = self._wait(LOAD_BALANCERS_STEP, probes, self.config.load_balancers_timeout_seconds)
        found = tuple(services.found + ingresses.found)
        result = StepResult(LOAD_BALANCERS_STEP, found=found, to_delete=found,
                            deleted=tuple(services.gone + ingresses.gone),
                            still_present=tuple(services.present + ingresses.present))
        if not done:
            held = "; ".join(f"{_ref(t.kind, _namespace(o), _name(o))} "
                             f"(finalizers: {', '.join(_finalizers(o)) or 'none'})"
                             for t in (services, ingresses) for o in t.last)
            raise _StepStuck(
                f"load balancers still present after {self.config.load_balancers_timeout_seconds:g} s: {held}. The "
                f"controller that made each load balancer deletes it in AWS and then removes its finalizer: EKS's "
                f"cloud controller for Services (it runs in the control plane; the Service's events show what it "
                f"did: `kubectl -n NAMESPACE describe service NAME`), the AWS Load Balancer Controller for Ingresses "
                f"and Services it manages (`kubectl -n NAMESPACE describe ingress NAME`, `kubectl -n kube-system logs "
                f"deployment/aws-load-balancer-controller`). Do not remove those finalizers: the load balancer would "
                f"stay in AWS, and its network interfaces would stop the VPC's "
                f"deletion", result)
        return result

    # 3 -------------------------------------------------------------------------------------------------------------
    def node_pools(self) -> StepResult:
        pools, claims, nodes = _Tracker(NODEPOOLS), _Tracker(NODECLAIMS), _Tracker(NODES)

        def karpenter_nodes() -> list[dict[str, Any]]:
            return self.api.list(NODES, label_selector=NODEPOOL_LABEL)

        pools.observe(self.api.list(NODEPOOLS))
        claims.observe(self.api.list(NODECLAIMS))
        nodes.observe(karpenter_nodes())
        found = tuple(pools.found + claims.found + nodes.found)
        if self.config.dry_run:
            return StepResult(NODE_POOLS_STEP, found=found, to_delete=found)
        for pool in pools.last:
            if not _deleting(pool):
                # The garbage collector deletes the pool's NodeClaims (they name it as owner); Karpenter drains and
                # terminates each claim's node before it lets the claim go.
                self.api.delete(NODEPOOLS, pool)
        probes = {"nodepools": self._converge(pools, lambda: self.api.list(NODEPOOLS)),
                  # A claim left without its pool (or never part of one) is deleted directly.
                  "nodeclaims": self._converge(claims, lambda: self.api.list(NODECLAIMS)),
                  "nodes": lambda: nodes.observe(karpenter_nodes())}
        done = self._wait(NODE_POOLS_STEP, probes, self.config.nodes_timeout_seconds)
        found = tuple(pools.found + claims.found + nodes.found)
        result = StepResult(NODE_POOLS_STEP, found=found, to_delete=found,
                            deleted=tuple(pools.gone + claims.gone + nodes.gone),
                            still_present=tuple(pools.present + claims.present + nodes.present))
        if not done:
            stuck = [f"NodeClaim {_name(c)}" + (f" (node {node})" if (node := (c.get("status") or {}).get("nodeName"))
                                                else "") for c in claims.last]
            stuck += [f"Node {_name(n)}" for n in nodes.last]
            stuck += [f"NodePool {_name(p)} (finalizers: {', '.join(_finalizers(p)) or 'none'})" for p in pools.last]
            raise _StepStuck(
                f"Karpenter capacity still present after {self.config.nodes_timeout_seconds:g} s: {', '.join(stuck)}. "
                f"Karpenter drains each node and terminates its EC2 instance before it lets the NodeClaim go; pods it "
                f"may not evict (a PodDisruptionBudget that allows no disruption, the karpenter.sh/do-not-disrupt "
                f"annotation) hold a node up to its NodePool's terminationGracePeriod. Look at `kubectl get "
                f"nodeclaims`, `kubectl describe nodeclaim NAME` (its events and conditions) and Karpenter's logs "
                f"(`kubectl -n {KARPENTER_NAMESPACE} logs deployment/karpenter`). Do not remove the "
                f"karpenter.sh/termination finalizer: the instance would keep running, and its network interface "
                f"would stop the VPC's deletion", result)
        return result

    # 4 -------------------------------------------------------------------------------------------------------------
    def volumes(self) -> StepResult:
        self.remember_claim_templates()  # and StatefulSets made since the cleanup began
        claims = _Tracker(CLAIMS)
        claims.observe([c for c in self.api.list(CLAIMS) if _belongs_to(c, self.claim_prefixes)])
        found = tuple(claims.found)
        if not self.config.delete_volumes:
            return StepResult(VOLUMES_STEP, found=found, kept=found,
                              note="kept (delete_volumes is off): their EBS volumes, data included, outlive the "
                                   "cluster; delete them in EC2 once nothing needs them" if found else "")
        if self.config.dry_run:
            return StepResult(VOLUMES_STEP, found=found, to_delete=found)
        for claim in claims.last:
            if not _deleting(claim):
                self.api.delete(CLAIMS, claim)
        uids = set(claims.seen)
        self._wait(VOLUMES_STEP, {"persistentvolumeclaims": lambda: claims.observe(
            [c for c in self.api.list(CLAIMS) if _uid(c) in uids])}, self.config.volumes_timeout_seconds)
        # Not a failure: a claim a running pod mounts stays until the pod stops, which destroying the Kubernetes
        # layer (the StatefulSet) brings about; its volume is then deleted with it.
        return StepResult(VOLUMES_STEP, found=found, to_delete=found, deleted=tuple(claims.gone),
                          still_present=tuple(claims.present),
                          note="still mounted by running pods: they go when the Kubernetes layer is destroyed"
                          if claims.present else "")


def _claim_templates(statefulset: Mapping[str, Any]) -> list[str]:
    return [str((t.get("metadata") or {}).get("name")) for t in
            (statefulset.get("spec") or {}).get("volumeClaimTemplates") or [] if (t.get("metadata") or {}).get("name")]


def _belongs_to(claim: Mapping[str, Any], prefixes: set[tuple[str, str]]) -> bool:
    """The StatefulSet controller names a claim <template>-<statefulset>-<ordinal>."""
    ns, name = _namespace(claim), _name(claim)
    return any(ns == p_ns and re.fullmatch(re.escape(prefix) + r"-\d+", name) for p_ns, prefix in prefixes)
