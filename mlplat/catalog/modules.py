"""Toggleable platform modules: Argo CD, Kueue, MLflow, and the typed objects they need (queues, monitors)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

import yaml

from mlplat import versions
from mlplat.addons import NO_PODS, POOLS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.modules_config import PLATFORM_POOL, QueueQuota, QueueSpec
from mlplat.nodepools import toleration_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

ARGOCD_NAMESPACE = "argocd"
KUEUE_NAMESPACE = "kueue-system"
MLFLOW_NAMESPACE = "mlflow"
MLFLOW_SERVICE_ACCOUNT = "mlflow"
# kube-prometheus-stack's Prometheus selects ServiceMonitors that carry its Helm release name.
PROMETHEUS_LABELS = {"release": "kube-prometheus-stack"}
MANAGED = {"app.kubernetes.io/managed-by": "mlplat"}


def monitor(name: str, namespace: str, selector: dict[str, str], endpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": {**MANAGED, **PROMETHEUS_LABELS}},
        "spec": {"selector": {"matchLabels": selector}, "namespaceSelector": {"matchNames": [namespace]},
                 "endpoints": [{"path": "/metrics", "interval": "30s", **endpoint}]},
    }


def internal_nlb_service(source_cidrs: Iterable[str]) -> dict[str, Any]:
    """A chart's Service values for an internal network load balancer admitting only `source_cidrs`."""
    return {
        "type": "LoadBalancer",
        # The in-tree AWS controller reads the first two, the AWS Load Balancer Controller the last two; both make an
        # internal NLB in the private subnets (tagged kubernetes.io/role/internal-elb).
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
                        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance"},
        "loadBalancerSourceRanges": list(source_cidrs),
    }


# --- Argo CD -----------------------------------------------------------------------------------------------------

# Argo CD stopped inferring an Application's health from its resources (1.8); without this check a parent
# Application would not wait for one sync wave of add-ons to be healthy before starting the next.
APPLICATION_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
APPLICATION_HEALTH_LUA = """\
local health = {status = "Progressing", message = "waiting for the application to report its health"}
if obj.status ~= nil and obj.status.health ~= nil and obj.status.health.status ~= nil then
  health.status = obj.status.health.status
  health.message = obj.status.health.message or ""
end
return health
"""
ARGOCD_METRICS = (  # component values key, the chart's metrics Service name label
    ("controller", "argocd-metrics"), ("server", "argocd-server-metrics"), ("repoServer", "argocd-repo-server-metrics"),
)


def argocd_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    server: dict[str, Any] = {
        # The server creates argocd-secret with a random admin password (and argocd-initial-admin-secret) when it
        # finds none; mounting the ESO-written key keeps the pod from starting before External Secrets wrote it.
        "volumes": [{"name": "admin-password-ready", "secret": {
            "secretName": "argocd-secret", "items": [{"key": "admin.password", "path": "admin.password"}]}}],
        "volumeMounts": [{"name": "admin-password-ready", "mountPath": "/run/mlplat/argocd-admin", "readOnly": True}],
    }
    if bp.argocd_internal_load_balancer:
        server["service"] = internal_nlb_service(bp.argocd_load_balancer_source_cidrs or (bp.vpc_cidr,))
    values: dict[str, Any] = {
        # The chart creates argocd-secret (empty) and keeps it across upgrades; argocd-server adds its session key and
        # TLS pair, and External Secrets merges in the admin hash from Secrets Manager (catalog/secrets.py).
        "configs": {"secret": {"createSecret": True}},
        # The delivery controller must not depend on the capacity it delivers (Karpenter and its NodePools).
        "global": {"nodeSelector": {"kubernetes.io/os": "linux", **SYSTEM_NODES["nodeSelector"]},
                   "tolerations": SYSTEM_NODES["tolerations"]},
        "server": server,
    }
    if bp.addons_delivery == "argocd":
        values["configs"]["cm"] = {APPLICATION_HEALTH_KEY: APPLICATION_HEALTH_LUA}
    if bp.enable_ai_ml_observability_stack:
        for component, _ in ARGOCD_METRICS:
            values.setdefault(component, {})["metrics"] = {"enabled": True}
    return values


def argocd_monitors(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [
        monitor(service, ARGOCD_NAMESPACE,
                 {"app.kubernetes.io/name": service, "app.kubernetes.io/instance": "argo-cd"}, {"port": "http-metrics"})
        for _, service in ARGOCD_METRICS
    ]}


# Helm installs these (and what they depend on) before Argo CD takes over in 'argocd' mode: Argo CD itself, and the
# capacity every other add-on runs on. Karpenter and its node pools run on (or need) only the system nodes, so the
# bootstrap needs nothing but the node group the AWS layer made, and every Application finds nodes to run on.
HELM_BOOTSTRAP_ROOTS = ("argo-cd", "karpenter-nodepools")


def helm_bootstrap(order: Iterable[AddOn]) -> frozenset[str]:
    """The add-ons Helm installs in 'argocd' mode; Argo CD delivers the rest."""
    by_name = {a.name: a for a in order}
    needed: set[str] = set()
    pending = [root for root in HELM_BOOTSTRAP_ROOTS if root in by_name]
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(by_name[name].dependencies)
    return frozenset(needed)


# --- Kueue -------------------------------------------------------------------------------------------------------

# Job integrations, each on only when the add-on running its operator is installed (None: built into Kubernetes).
# Names as Kueue 0.19.2's chart lists them (charts/kueue/values.yaml). Plain pods queue too (those labelled with a
# queue, in the workload namespaces only); the LeaderWorkerSet integration builds on that one. Kueue sets up an
# integration whose CRD appears after it started once the API is served, so the operators need not install first.
KUEUE_FRAMEWORKS = (("batch/job", None), ("pod", None),
                    ("ray.io/rayjob", "kuberay-operator"), ("ray.io/raycluster", "kuberay-operator"),
                    ("ray.io/rayservice", "kuberay-operator"),
                    # TrainJobs, and the JobSets its chart installs the controller of (a TrainJob's own JobSet is
                    # left to the TrainJob's workload: Kueue skips children of an object it manages).
                    ("trainer.kubeflow.org/trainjob", "kubeflow-trainer"), ("jobset.x-k8s.io/jobset", "kubeflow-trainer"),
                    ("leaderworkerset.x-k8s.io/leaderworkerset", "leader-worker-set"),
                    # KServe (RawDeployment) copies an InferenceService's labels onto the predictor Deployment and
                    # its pod template (v0.20.0 predictor buildObjectMeta); Kueue's Deployment webhook (v0.19.2)
                    # hands the labelled Deployment's pods to the pod integration: each replica is admitted alone.
                    ("deployment", "kserve"))
WORKLOAD_PRIORITIES = (("high", 1000, "Production training and serving; preempts lower priorities."),
                       ("normal", 100, "Default for experiments."),
                       ("low", 10, "Best effort: runs on unused quota and is preempted first."))


def kueue_frameworks(bp: "Blueprint", registry: Iterable[AddOn]) -> list[str]:
    installed = {a.name for a in registry if a.enabled(bp)}
    return [framework for framework, operator in KUEUE_FRAMEWORKS if operator is None or operator in installed]


# Kueue ignores requests for these: scratch space is bounded by the node's disks, and a request for a resource no
# queue covers would make a workload inadmissible.
KUEUE_IGNORED_PREFIXES = ("ephemeral-storage",)


def kueue_values(ctx: AddonContext) -> dict[str, Any]:
    from mlplat.catalog import REGISTRY  # the registry includes this module

    config = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2", "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        # Per-ClusterQueue resource usage and quota series besides the default admission metrics.
        "metrics": {"bindAddress": ":8443", "enableClusterQueueResources": True},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "clientConnection": {"qps": 300, "burst": 500},
        "integrations": {"frameworks": kueue_frameworks(ctx.blueprint, REGISTRY)},
        # Kueue manages (and its webhooks, failurePolicy Fail, intercept) only the users' namespaces: platform Jobs
        # (Helm hooks of cert-manager, kube-prometheus-stack ...) never wait for Kueue or its quota.
        "managedJobsNamespaceSelector": _workload_namespace_selector(ctx.blueprint),
        "fairSharing": {"preemptionStrategies": ["LessThanOrEqualToFinalShare", "LessThanInitialShare"]},
        "resources": {"excludeResourcePrefixes": list(KUEUE_IGNORED_PREFIXES)},
    }
    return {
        "managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(config, sort_keys=False)},
        # Its webhooks admit every Job: it runs with the platform controllers on the system nodes.
        "controllerManager": {**SYSTEM_NODES},
    }


NEURON_CORE = "aws.amazon.com/neuroncore"
EFA = "vpc.amazonaws.com/efa"


def _workload_namespace_selector(bp: "Blueprint") -> dict[str, Any]:
    return {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                  "values": list(bp.queued_namespaces)}]}


def _covered(quota: QueueQuota) -> list[str]:
    """Resources a quota on this pool must cover: a pod requesting an uncovered resource is never admitted. Neuron
    pods ask for devices (aws.amazon.com/neuron) or cores (aws.amazon.com/neuroncore, which the Neuron scheduler
    places), so Neuron pools cover both; pools the EFA device plugin serves also cover their EFA interfaces."""
    accelerator = quota.pool.kind.accelerator
    if accelerator is None:
        return []
    covered = [accelerator, NEURON_CORE] if accelerator == "aws.amazon.com/neuron" else [accelerator]
    return covered + [EFA] if quota.pool.efa_per_device else covered


def _nominal(quota: QueueQuota, resource: str) -> int | str:
    if resource == "cpu":
        return quota.cpu
    if resource == "memory":
        return f"{quota.memory_gib}Gi"
    if resource == NEURON_CORE and NEURON_CORE in _covered(quota):
        return quota.accelerators * quota.pool.cores_per_device
    if resource == EFA and EFA in _covered(quota):
        # As many interfaces as the quota's accelerators can come with on the pool's best-connected family.
        return math.ceil(quota.accelerators * quota.pool.efa_per_device)
    return quota.accelerators if resource == quota.pool.kind.accelerator else 0


def queue_resources(queue: QueueSpec) -> list[str]:
    """The resources a ClusterQueue covers (a request for any other, unless Kueue ignores it, is never admitted)."""
    return ["cpu", "memory", *sorted({r for q in queue.quotas for r in _covered(q)})]


def kueue_objects(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    labels = {**MANAGED}
    objects: list[dict[str, Any]] = [{
        "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Cohort", "metadata": {"name": bp.name, "labels": labels},
        "spec": {},
    }]
    for pool in bp.enabled_pools:
        objects.append({
            "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor",
            "metadata": {"name": pool.name, "labels": labels},
            # Admitted pods get the pool's node labels as a node selector and its taints tolerated.
            "spec": {"nodeLabels": dict(pool.labels), "tolerations": toleration_for(pool)},
        })
    for queue in bp.kueue_queue_specs:
        covered = queue_resources(queue)
        objects.append({
            "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue",
            "metadata": {"name": queue.name, "labels": labels},
            "spec": {
                "cohortName": bp.name,
                "namespaceSelector": _workload_namespace_selector(bp),
                "queueingStrategy": "BestEffortFIFO",
                "resourceGroups": [{"coveredResources": covered, "flavors": [
                    {"name": quota.pool.name,
                     "resources": [{"name": r, "nominalQuota": _nominal(quota, r)} for r in covered]}
                    for quota in queue.quotas]}],
                # Borrowed quota is reclaimed by fair share; within a queue, priority decides.
                "preemption": {"withinClusterQueue": "LowerPriority", "reclaimWithinCohort": "Any"},
                "fairSharing": {"weight": queue.weight},
            },
        })
    for namespace in bp.workload_namespaces:
        objects += local_queues(bp, namespace)
    for name, value, description in WORKLOAD_PRIORITIES:
        objects.append({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "WorkloadPriorityClass",
                        "metadata": {"name": name, "labels": labels}, "value": value, "description": description})
    return {"objects": objects}


def local_queues(bp: "Blueprint", namespace: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue",
             "metadata": {"name": q.name, "namespace": namespace, "labels": {**MANAGED}},
             "spec": {"clusterQueue": q.name}} for q in bp.kueue_queue_specs]


def workload_namespaces(ctx: AddonContext) -> dict[str, Any]:
    from mlplat.workloads_config import WORKLOAD_SERVICE_ACCOUNT

    # Users' jobs and volumes live here: neither Helm nor Argo CD may delete them with a release.
    keep = {"helm.sh/resource-policy": "keep", "argocd.argoproj.io/sync-options": "Delete=false"}
    bp = ctx.blueprint
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns, "labels": dict(MANAGED), "annotations": dict(keep)}}
                                     for ns in bp.workload_namespaces]
    # The service account that workload_s3_access's Pod Identity association binds the namespace's S3 role to.
    objects += [{"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": WORKLOAD_SERVICE_ACCOUNT, "namespace": ns, "labels": dict(MANAGED)}}
                for ns in sorted(bp.workload_s3_access)]
    return {"objects": objects}


# --- MLflow ------------------------------------------------------------------------------------------------------

MLFLOW_METRICS_DIR = "/tmp/prometheus-metrics"  # /tmp is the chart's writable emptyDir


def on_platform_pool(bp: "Blueprint") -> dict[str, Any]:
    """The nodeSelector of the platform's own services (MLflow, JupyterHub's hub): the general pool when it exists."""
    return {"nodeSelector": {"mlplat.io/pool": PLATFORM_POOL}} if any(
        p.name == PLATFORM_POOL for p in bp.enabled_pools) else {}


def mlflow_values(ctx: AddonContext) -> dict[str, Any]:
    from modules.mlflow_aws import ARTIFACT_PREFIX, DATABASE_NAME, POSTGRES_PORT

    bp, out = ctx.blueprint, ctx.outputs
    database = {"enabled": True, "host": out["mlflow_db_endpoint"], "port": POSTGRES_PORT, "database": DATABASE_NAME}
    db_secret = {"name": "mlflow-db", "usernameKey": "username", "passwordKey": "password"}
    values: dict[str, Any] = {
        "serviceAccount": {"create": True, "name": MLFLOW_SERVICE_ACCOUNT},  # bound to the S3 role by Pod Identity
        "backendStore": {"databaseMigration": True, "databaseConnectionCheck": True, "postgres": database,
                         "existingDatabaseSecret": db_secret},
        # Clients upload and download through the server: only its role needs the bucket.
        "artifactRoot": {"proxiedArtifactStorage": True,
                         "s3": {"enabled": True, "bucket": out["mlflow_artifact_bucket"], "path": ARTIFACT_PREFIX}},
        "auth": {"enabled": True,
                 "existingAdminSecret": {"name": "mlflow-admin", "usernameKey": "username", "passwordKey": "password"},
                 # Users and permissions live in the same database (own alembic_version_auth table), not in the pod.
                 "postgres": {**database, "existingSecret": dict(db_secret)}},
        # The database refuses plain connections (rds.force_ssl); libpq reads this for every connection.
        "extraEnvVars": {"PGSSLMODE": "require", "AWS_DEFAULT_REGION": bp.region},
        # Sourced after the chart's own per-render key, so this one wins.
        "extraSecretNamesForEnvFrom": ["mlflow-flask-secret-key"],
    }
    if bp.enable_ai_ml_observability_stack:
        values["extraArgs"] = {"exposePrometheus": MLFLOW_METRICS_DIR}
    return {**values, **on_platform_pool(bp)}


def mlflow_monitors(ctx: AddonContext) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}
    # /metrics sits behind MLflow's basic auth like every route but /health.
    auth = {"basicAuth": {"username": {"name": "mlflow-admin", "key": "username"},
                          "password": {"name": "mlflow-admin", "key": "password"}}}
    return {"objects": [monitor("mlflow", MLFLOW_NAMESPACE, selector, {"port": "http", **auth})]}


def _observed(toggle: str) -> Any:
    return lambda bp: getattr(bp, toggle) and bp.enable_ai_ml_observability_stack


ADDONS: list[AddOn] = [
    AddOn("argo-cd", ARGOCD_NAMESPACE, enabled=lambda bp: bp.enable_argocd, chart=versions.CHARTS["argo-cd"],
          depends_on=("platform-secrets",), computed_values=argocd_values, toggle="enable_argocd", sync_wave=-6, placement=SYSTEM),
    AddOn("argocd-monitoring", ARGOCD_NAMESPACE, enabled=_observed("enable_argocd"),
          depends_on=("argo-cd", "kube-prometheus-stack"), computed_values=argocd_monitors, toggle="enable_argocd", placement=NO_PODS),
    AddOn("kueue", KUEUE_NAMESPACE, enabled=lambda bp: bp.enable_kueue, chart=versions.CHARTS["kueue"],
          computed_values=kueue_values, toggle="enable_kueue", sync_wave=-8, placement=SYSTEM),
    # Always on: shared volumes and Kueue's LocalQueues both live in the workload namespaces.
    AddOn("workload-namespaces", "kube-system", enabled=lambda bp: bool(bp.workload_namespaces),
          computed_values=workload_namespaces, sync_wave=-6, placement=NO_PODS),
    AddOn("kueue-queues", KUEUE_NAMESPACE, enabled=lambda bp: bp.enable_kueue,
          depends_on=("kueue", "workload-namespaces"), computed_values=kueue_objects, toggle="enable_kueue",
          sync_wave=-4, placement=NO_PODS),
    # Kueue's metrics are scraped by the observability stack's ServiceMonitor (job `kueue`, scrape contract).
    AddOn("mlflow", MLFLOW_NAMESPACE, enabled=lambda bp: bp.enable_mlflow, chart=versions.CHARTS["mlflow"],
          depends_on=("platform-secrets",), computed_values=mlflow_values, toggle="enable_mlflow", placement=POOLS),
    AddOn("mlflow-monitoring", MLFLOW_NAMESPACE, enabled=_observed("enable_mlflow"),
          depends_on=("mlflow", "kube-prometheus-stack"), computed_values=mlflow_monitors, toggle="enable_mlflow",
          sync_wave=1, placement=NO_PODS),
]

# Not in the registry: in 'argocd' mode the Kubernetes layer installs, with Helm, the AppProject and the parent
# Application that syncs every other add-on's Application in sync-wave order.
# Its uninstall waits for Argo CD to delete every add-on it delivered (the parent's cascade), hence the long timeout.
ARGOCD_APPLICATIONS = AddOn("argocd-applications", ARGOCD_NAMESPACE, enabled=lambda bp: bp.addons_delivery == "argocd",
                            depends_on=("argo-cd",), toggle="addons_delivery", timeout_seconds=1800, placement=NO_PODS)
