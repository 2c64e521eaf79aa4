"""The AI/ML observability stack: metrics (kube-prometheus-stack, exporters, monitors, alert and recording rules,
Grafana dashboards), logs (Fluent Bit to OpenSearch or Loki), traces (an OpenTelemetry collector in front of Tempo)
and cost (OpenCost).

The dashboards and rules are content under dashboards/; `dashboards/scrape-contract.yaml` says which jobs, ports and
labels they assume, and the monitors below produce exactly those (tests/observability_stack checks it).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import yaml

from mlplat import versions
from mlplat.addons import (
    HELM_VALUES_DIR, NO_PODS, NODE_AGENT, POOLS, ROOT, SYSTEM, AddOn, AddonContext, deep_merge, load_yaml,
)
from mlplat.catalog.accelerators import GP3_CLASS, NVIDIA_GPU
from mlplat.catalog.alerting import alertmanager_values
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.modules import internal_nlb_service
from mlplat.catalog.secrets import (OPENSEARCH_ADMIN_SECRET, OPENSEARCH_DASHBOARDS_CA_DIR,
                                    OPENSEARCH_DASHBOARDS_SECRET, OPENSEARCH_READER_SECRET, OPENSEARCH_WRITER_SECRET,
                                    secret_uses)
from mlplat.errors import MlplatError
from mlplat.nodepools import ACCELERATOR_LABEL, EFA_LABEL, node_agent_tolerations, tolerations_for

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

MONITORING = "monitoring"
LOGGING = "logging"
# Loki's service account (the chart's serviceAccount.name, set so): with loki_storage = "s3" its Pod Identity role
# (modules/loki_aws.py) is the only credential that may use the bucket.
LOKI_SERVICE_ACCOUNT = "loki"
CERT_MANAGER_NAMESPACE = "cert-manager"
# Every volume of the stack is on the encrypted gp3 StorageClass of the storage-classes add-on.
STORAGE_CLASSES_ADDON = "storage-classes"

DASHBOARDS_DIR = ROOT / "dashboards"
RULES_DIR = DASHBOARDS_DIR / "rules"
# Grafana's dashboard sidecar loads every ConfigMap with this label (kube-prometheus-stack's default label).
DASHBOARD_LABEL = "grafana_dashboard"
CONFIGMAP_LIMIT_BYTES = 1024 * 1024
PART_OF = {"app.kubernetes.io/part-of": "mlplat"}

# Service names follow from the release names (each chart's fullname is its release name).
KPS = "kube-prometheus-stack"
OPENSEARCH_SERVICE = "opensearch-cluster-master"  # the chart's <clusterName>-<nodeGroup>
OPENSEARCH_HOST = f"{OPENSEARCH_SERVICE}.{LOGGING}.svc"
OPENSEARCH_VERSION = "3.6.0"  # appVersion of the opensearch chart 3.6.0; the Grafana plugin composes queries for it
LOGS_INDEX_PREFIX = "logs"
LOKI_URL = f"http://loki.{LOGGING}.svc:3100"
TEMPO_HOST = f"tempo.{MONITORING}.svc"

# Secrets: the opensearch-admin credential (ESO, namespace logging) and what the logs clients mount.
OPENSEARCH_TLS_SECRET = "opensearch-tls"  # node certificate, PKCS#8 key (the security plugin reads no PKCS#1)
GRAFANA_OPENSEARCH_SECRET = OPENSEARCH_READER_SECRET  # Grafana's own read-only user (catalog/opensearch_users.py)
GRAFANA_OPENSEARCH_CA_SECRET = "opensearch-ca"
DASHBOARDS_CA_SECRET = "opensearch-dashboards-ca"
DASHBOARDS_SERVICE = "opensearch-dashboards"  # the chart's fullname for a release of that name
GRAFANA_OPENSEARCH_CA_DIR = "/etc/grafana/opensearch-ca"
FLUENT_BIT_CA_DIR = "/fluent-bit/tls"
# Fluent Bit's state on the node (a hostPath, so it outlives the pod): the read positions of every tailed file and
# journal, and the chunks not yet delivered. A restarted or upgraded pod resumes where it stopped, and an outage of
# the logs backend fills this buffer (up to FLUENT_BIT_BUFFER_LIMIT per output) instead of dropping logs.
FLUENT_BIT_STATE_DIR = "/var/fluent-bit/state"
FLUENT_BIT_BUFFER_LIMIT = "2G"
# From the node's journal: the kubelet, containerd, and the kernel (NVIDIA XID, EFA driver and OOM-killer messages).
FLUENT_BIT_JOURNAL_FILTERS = ("_SYSTEMD_UNIT=kubelet.service", "_SYSTEMD_UNIT=containerd.service", "_TRANSPORT=kernel")
LOGS_CA_ISSUER = "mlplat-logs-ca"

# Grafana data source uids; the trace links point at them.
OPENSEARCH_UID = "opensearch-logs"
LOKI_UID = "loki"
TEMPO_UID = "tempo"
# A trace id in a log line: `trace_id=4bf9...`, `"traceId": "4bf9..."`, `traceID: 4bf9...`, and BentoML's
# `(trace=4bf9...,span=...)` (seed 003's example). Grafana's browser code runs it (`line.match(matcherRegex)` in the
# Loki data source's getDerivedFields.ts): a JavaScript RegExp, which has no `(?i)` flag, hence the letter classes.
TRACE_ID_REGEX = r"""[Tt][Rr][Aa][Cc][Ee](?:_?[Ii][Dd])?["']?\s*[:=]\s*["']?([0-9a-fA-F]{16,32})\b"""
# Keys under which JSON log lines carry the trace id: OpenTelemetry's log data model and OTLP JSON (trace_id,
# traceId), Go's and others' traceID, Python's logging instrumentation (otelTraceID).
TRACE_ID_JSON_KEYS = ("trace_id", "traceId", "traceID", "otelTraceID")
# The span attributes the collector's k8sattributes processor sets, and the Loki labels Fluent Bit writes for the
# same pod: Tempo's "logs for this span" query filters by them.
TRACE_TO_LOG_TAGS = ({"key": "k8s.namespace.name", "value": "namespace"}, {"key": "k8s.pod.name", "value": "pod"})
# Fluent Bit nests the fields of JSON log lines under this key (top-level keys would collide in the index mapping).
PARSED_LOG_KEY = "log_processed"
# The matched value as the link's query. Grafana expands $VAR/${VAR} from its environment in provisioning files; `$$`
# keeps the `$` of its own link variable.
TRACE_LINK = "$${__value.raw}"

# StatefulSet claims are deleted with the StatefulSet (helm uninstall), kept when it scales down.
DELETE_CLAIMS_WITH_STATEFULSET = {"whenDeleted": "Delete", "whenScaled": "Retain"}
# kube-prometheus-stack's CRD upgrade job: docker.io/busybox, the 1.37.0 release (2024-09) instead of "latest".
BUSYBOX_TAG = "1.37.0"
# CloudWatch exporter (YACE): FSx for Lustre throughput; its Pod Identity role is in the AWS layer.
YACE_RELEASE = "yace"
YACE_CHART = "prometheus-yet-another-cloudwatch-exporter"
YACE_SERVICE_ACCOUNT = "yace"
# The contract's FSx job (cloudwatch-fsx.requires): per-minute sums, which the panels divide by 60.
FSX_METRICS = ("DataReadBytes", "DataWriteBytes")
FSX_PERIOD_SECONDS = 60
# CloudWatch publishes a minute late: look back five periods, YACE exports the newest datapoint.
FSX_LENGTH_SECONDS = 300
EFA_EXPORTER = "efa-node-exporter"
EFA_EXPORTER_PORT = 9100  # the pod's own network namespace: no clash with node-exporter's host port 9100

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
# Where applications send OTLP: the collector chart's Service (fullname = the release name, which contains the
# chart name), ports `otlp` (gRPC) and `otlp-http`. examples/bentoml-otel sends to it.
OTEL_COLLECTOR_RELEASE = "opentelemetry-collector"
OTEL_COLLECTOR_HOST = f"{OTEL_COLLECTOR_RELEASE}.{MONITORING}.svc"
ALERTMANAGER_STORAGE_GIB = 10

# --- monitors --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scrape:
    """One scrape job: which Services (ServiceMonitor) or Pods (PodMonitor) in which namespaces, and how."""

    job: str
    kind: str  # ServiceMonitor | PodMonitor
    selector: dict[str, str]
    port: str
    namespaces: tuple[str, ...] = ()  # empty: every namespace (user workloads)
    scheme: str = "http"
    honor_labels: bool = False
    node_label: bool = False  # add `node` from the pod's node name
    target_labels: tuple[str, ...] = ()  # Service/Pod labels copied onto every series
    bearer_token: bool = False  # send Prometheus' ServiceAccount token (controller-runtime secure metrics)
    skip_tls_verify: bool = False  # self-signed serving certificate nobody can verify
    path: str = "/metrics"


def scrapes(bp: "Blueprint") -> list[Scrape]:
    out = [
        Scrape("karpenter", "ServiceMonitor", {"app.kubernetes.io/name": "karpenter",
                                               "app.kubernetes.io/instance": "karpenter"},
               "http-metrics", namespaces=("kube-system",)),
        Scrape("opencost", "ServiceMonitor", {"app.kubernetes.io/name": "opencost",
                                              "app.kubernetes.io/instance": "opencost"},
               "http", namespaces=(MONITORING,), honor_labels=True),
        Scrape("ray-head", "ServiceMonitor", {"ray.io/node-type": "head"}, "metrics",
               target_labels=("ray.io/cluster",)),
        Scrape("ray-workers", "PodMonitor", {"ray.io/node-type": "worker"}, "metrics",
               target_labels=("ray.io/cluster",), node_label=True),
        Scrape("vllm", "PodMonitor", {"app.kubernetes.io/component": "vllm"}, "http"),
        Scrape("triton", "PodMonitor", {"app.kubernetes.io/component": "triton"}, "metrics"),
        # BentoML serves /metrics (bentoml_service_*) on its API port (3000); examples/bentoml-otel.
        Scrape("bentoml", "PodMonitor", {"app.kubernetes.io/component": "bentoml"}, "http"),
    ]
    if bp.pools_offering(NVIDIA_GPU):
        out.append(Scrape("dcgm-exporter", "ServiceMonitor", {"app.kubernetes.io/name": "dcgm-exporter",
                                                              "app.kubernetes.io/instance": "dcgm-exporter"},
                          "metrics", namespaces=(MONITORING,), node_label=True))
    if needs_cloudwatch_exporter(bp):
        out.append(Scrape("yace", "ServiceMonitor", {"app.kubernetes.io/name": YACE_CHART,
                                                     "app.kubernetes.io/instance": YACE_RELEASE},
                          "http", namespaces=(MONITORING,)))
    # Fluent Bit's own counters (output errors and retries), from its built-in HTTP server on the chart's `http' port.
    out.append(Scrape("fluent-bit", "ServiceMonitor", {"app.kubernetes.io/name": "fluent-bit",
                                                       "app.kubernetes.io/instance": "fluent-bit"},
                      "http", namespaces=(LOGGING,), node_label=True, path="/api/v1/metrics/prometheus"))
    if bp.efa_pools:
        out.append(Scrape("efa-node-exporter", "ServiceMonitor", {"app.kubernetes.io/name": EFA_EXPORTER},
                          "metrics", namespaces=(MONITORING,), node_label=True))
    if bp.enable_kueue:
        # Kueue serves metrics over HTTPS with a self-signed certificate and checks the caller's token
        # (kube-prometheus-stack's Prometheus ClusterRole may GET /metrics).
        out.append(Scrape("kueue", "ServiceMonitor", {"app.kubernetes.io/name": "kueue",
                                                      "app.kubernetes.io/component": "metrics-service"},
                          "https", namespaces=("kueue-system",), scheme="https", bearer_token=True,
                          skip_tls_verify=True))
    return sorted(out, key=lambda s: s.job)


NODE_RELABELING = {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}


def monitor(scrape: Scrape) -> dict[str, Any]:
    # The job label is set by a relabeling, not derived from a Service name, so it cannot drift with chart renames.
    relabelings = [{"action": "replace", "targetLabel": "job", "replacement": scrape.job}]
    if scrape.node_label:
        relabelings.append(dict(NODE_RELABELING))
    endpoint: dict[str, Any] = {"port": scrape.port, "path": scrape.path, "scheme": scrape.scheme,
                                "honorLabels": scrape.honor_labels, "relabelings": relabelings}
    if scrape.bearer_token:
        endpoint["bearerTokenFile"] = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    if scrape.skip_tls_verify:
        endpoint["tlsConfig"] = {"insecureSkipVerify": True}
    namespaces = {"matchNames": list(scrape.namespaces)} if scrape.namespaces else {"any": True}
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(scrape.selector)}, "namespaceSelector": namespaces}
    if scrape.kind == "ServiceMonitor":
        spec["endpoints"] = [endpoint]
        if scrape.target_labels:
            spec["targetLabels"] = list(scrape.target_labels)
    else:
        spec["podMetricsEndpoints"] = [endpoint]
        if scrape.target_labels:
            spec["podTargetLabels"] = list(scrape.target_labels)
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": scrape.kind,
            "metadata": {"name": scrape.job, "namespace": MONITORING, "labels": dict(PART_OF)}, "spec": spec}


def rule_objects() -> list[dict[str, Any]]:
    """One PrometheusRule per dashboards/rules/*.yaml (Prometheus rule-file format: `groups: [...]`)."""
    objects = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data.get("groups"), list):
            raise MlplatError(f"{path}: expected a Prometheus rule file with a `groups` list")
        objects.append({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": f"mlplat-{path.stem}", "namespace": MONITORING, "labels": dict(PART_OF)},
            "spec": {"groups": data["groups"]},
        })
    return objects


def _monitoring_objects(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": [monitor(s) for s in scrapes(ctx.blueprint)] + rule_objects()}


def dashboard_objects() -> list[dict[str, Any]]:
    """One ConfigMap per dashboards/*.json, labelled for Grafana's dashboard sidecar."""
    objects = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise MlplatError(f"{path}: not valid JSON ({exc})") from None
        if len(text.encode()) > CONFIGMAP_LIMIT_BYTES:
            raise MlplatError(f"{path}: {len(text.encode())} bytes exceeds a ConfigMap's 1 MiB; split the dashboard")
        name = "dashboard-" + re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-")
        objects.append({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": MONITORING,
                         "labels": {DASHBOARD_LABEL: "1", **PART_OF}},
            "data": {path.name: text},
        })
    return objects


def _dashboards(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": dashboard_objects()}


# --- kube-prometheus-stack -------------------------------------------------------------------------------------------

# kube-state-metrics labels the dashboards group by (scrape contract: kube-state-metrics.requires).
KSM_LABELS_ALLOWLIST = (
    "nodes=[karpenter.sh/nodepool,karpenter.sh/capacity-type,node.kubernetes.io/instance-type,"
    "topology.kubernetes.io/zone]",
    "pods=[ray.io/cluster,ray.io/node-type]",
)


def _volume(gib: int) -> dict[str, Any]:
    return {"storageClassName": GP3_CLASS, "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{gib}Gi"}}}


def datasources(bp: "Blueprint") -> list[dict[str, Any]]:
    """Grafana data sources besides Prometheus (uid `prometheus`) and Alertmanager, which kube-prometheus-stack
    provisions itself."""
    out: list[dict[str, Any]] = []
    if bp.needs_opensearch:
        json_data: dict[str, Any] = {
            "flavor": "opensearch", "version": OPENSEARCH_VERSION, "database": f"{LOGS_INDEX_PREFIX}-*",
            "timeField": "@timestamp", "logMessageField": "log", "pplEnabled": True, "tlsAuthWithCACert": True,
        }
        if bp.needs_tracing:
            # The plugin links a field by its exact name (opensearch-datasource's enhanceDataFrame): one link per
            # key JSON logs carry a trace id under (OpenTelemetry's log record, its SDKs' and logging bridges').
            json_data["dataLinks"] = [{"field": f"{PARSED_LOG_KEY}.{key}", "datasourceUid": TEMPO_UID,
                                       "url": TRACE_LINK} for key in TRACE_ID_JSON_KEYS]
        out.append({
            "name": "OpenSearch logs", "uid": OPENSEARCH_UID, "type": "grafana-opensearch-datasource",
            "access": "proxy", "url": f"https://{OPENSEARCH_HOST}:9200", "editable": False,
            # Grafana expands $__env{} and $__file{} when it provisions: the credential stays in the Secret.
            "basicAuth": True, "basicAuthUser": "$__env{OPENSEARCH_USERNAME}",
            "jsonData": json_data,
            "secureJsonData": {"basicAuthPassword": "$__env{OPENSEARCH_PASSWORD}",
                               "tlsCACert": f"$__file{{{GRAFANA_OPENSEARCH_CA_DIR}/ca.crt}}"},
        })
    if bp.needs_loki:
        loki: dict[str, Any] = {"name": "Loki", "uid": LOKI_UID, "type": "loki", "access": "proxy", "url": LOKI_URL,
                                "editable": False, "jsonData": {}}
        if bp.needs_tracing:
            loki["jsonData"]["derivedFields"] = [{"name": "TraceID", "matcherRegex": TRACE_ID_REGEX,
                                                  "datasourceUid": TEMPO_UID, "url": TRACE_LINK}]
        out.append(loki)
    if bp.needs_tracing:
        tempo_json: dict[str, Any] = {"nodeGraph": {"enabled": True}}
        if bp.needs_loki:
            tempo_json["tracesToLogsV2"] = {"datasourceUid": LOKI_UID, "filterByTraceID": True,
                                            "tags": [dict(t) for t in TRACE_TO_LOG_TAGS]}
        out.append({"name": "Tempo", "uid": TEMPO_UID, "type": "tempo", "access": "proxy",
                    "url": f"http://{TEMPO_HOST}:3200", "editable": False, "jsonData": tempo_json})
    return out


def _secret_env(secret: str, keys: dict[str, str]) -> dict[str, Any]:
    return {env: {"secretKeyRef": {"name": secret, "key": key}} for env, key in keys.items()}


def kube_prometheus_stack_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    grafana: dict[str, Any] = {
        # Admin credentials only from the Secret External Secrets writes; the chart never generates or defaults one.
        "admin": {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"},
        "ingress": {"enabled": False},
        "sidecar": {"dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1"}},
        "additionalDataSources": datasources(bp),
    }
    if bp.grafana_storage_gib:
        # The database on its own volume; a second pod could not attach it (ReadWriteOnce), so upgrades recreate.
        grafana["persistence"] = {"enabled": True, "storageClassName": GP3_CLASS, "size": f"{bp.grafana_storage_gib}Gi"}
        grafana["deploymentStrategy"] = {"type": "Recreate"}
    if bp.grafana_internal_load_balancer:
        grafana["service"] = internal_nlb_service(bp.grafana_load_balancer_source_cidrs or (bp.vpc_cidr,))
    if bp.needs_opensearch:
        grafana["plugins"] = [f"{p}@{v}" for p, v in sorted(versions.GRAFANA_PLUGINS.items())]
        grafana["envValueFrom"] = _secret_env(GRAFANA_OPENSEARCH_SECRET,
                                              {"OPENSEARCH_USERNAME": "username", "OPENSEARCH_PASSWORD": "password"})
        grafana["extraSecretMounts"] = [{
            "name": "opensearch-ca", "secretName": GRAFANA_OPENSEARCH_CA_SECRET, "mountPath": GRAFANA_OPENSEARCH_CA_DIR,
            "readOnly": True, "items": [{"key": "ca.crt", "path": "ca.crt"}],
        }]
    return {
        "grafana": grafana,
        "prometheus": {
            "ingress": {"enabled": False},
            "prometheusSpec": {
                "retention": bp.prometheus_retention,
                # Drop the oldest blocks before the volume fills (Prometheus reads GB as GiB).
                "retentionSize": f"{bp.prometheus_storage_gib * 9 // 10}GB",
                "storageSpec": {"volumeClaimTemplate": {"spec": _volume(bp.prometheus_storage_gib)}},
                # Uninstalling the release deletes its volume too, instead of leaving an EBS volume billed forever.
                "persistentVolumeClaimRetentionPolicy": dict(DELETE_CLAIMS_WITH_STATEFULSET),
                "externalLabels": {"cluster": bp.name},
                # Select every monitor and rule in the cluster, not only those labelled for this release: the
                # platform's own objects and the other add-ons' (neuron-monitor, ...) carry no release label.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
            },
        },
        "alertmanager": deep_merge({"ingress": {"enabled": False}, "alertmanagerSpec": {
            # Silences and the notification log survive restarts, not the release.
            "storage": {"volumeClaimTemplate": {"spec": _volume(ALERTMANAGER_STORAGE_GIB)}},
            "persistentVolumeClaimRetentionPolicy": dict(DELETE_CLAIMS_WITH_STATEFULSET)}}, alertmanager_values(bp)),
        # EKS runs the control plane: no controller-manager, scheduler or etcd pods to scrape, so their ServiceMonitors
        # find nothing and the chart's absent(up{...}) rules (KubeControllerManagerDown, KubeSchedulerDown, critical)
        # would fire forever.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        # Helm never upgrades a chart's crds/: the chart's pre-upgrade job applies them server-side (on the system
        # nodes, with busybox pinned instead of the chart's "latest"; kubectl follows the cluster's version).
        "crds": {"upgradeJob": {"enabled": True, "image": {"busybox": {"tag": BUSYBOX_TAG}},
                                **copy.deepcopy(SYSTEM_NODES)}},
        "kube-state-metrics": {"metricLabelsAllowlist": list(KSM_LABELS_ALLOWLIST)},
        "prometheus-node-exporter": {"prometheus": {"monitor": {"relabelings": [dict(NODE_RELABELING)]}}},
    }


# --- exporters -------------------------------------------------------------------------------------------------------

# The DCGM fields the dashboards and rules read (scrape contract: dcgm-exporter.metrics), with their types. The
# chart's default counters lack several of them, so the exporter gets this list as its counters CSV.
DCGM_COUNTERS: dict[str, str] = {
    "DCGM_FI_DEV_GPU_UTIL": "gauge",
    "DCGM_FI_PROF_SM_ACTIVE": "gauge",
    "DCGM_FI_PROF_SM_OCCUPANCY": "gauge",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": "gauge",
    "DCGM_FI_PROF_DRAM_ACTIVE": "gauge",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "gauge",  # utilisation of MIG instances, where GPU_UTIL reads 0
    "DCGM_FI_DEV_FB_USED": "gauge",
    "DCGM_FI_DEV_FB_FREE": "gauge",
    "DCGM_FI_DEV_POWER_USAGE": "gauge",
    "DCGM_FI_DEV_GPU_TEMP": "gauge",
    "DCGM_FI_DEV_MEMORY_TEMP": "gauge",
    "DCGM_FI_DEV_SM_CLOCK": "gauge",
    "DCGM_FI_DEV_THERMAL_VIOLATION": "counter",
    "DCGM_FI_DEV_POWER_VIOLATION": "counter",
    "DCGM_EXP_CLOCK_EVENTS_COUNT": "counter",
    "DCGM_FI_DEV_XID_ERRORS": "gauge",
    "DCGM_EXP_XID_ERRORS_COUNT": "counter",
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": "counter",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "counter",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": "gauge",
    "DCGM_FI_PROF_NVLINK_TX_BYTES": "gauge",
    "DCGM_FI_PROF_NVLINK_RX_BYTES": "gauge",
    "DCGM_FI_PROF_PCIE_TX_BYTES": "gauge",
    "DCGM_FI_PROF_PCIE_RX_BYTES": "gauge",
}


def dcgm_counters_csv() -> str:
    return "".join(f"{field}, {kind}, {field} (mlplat dashboards)\n" for field, kind in DCGM_COUNTERS.items())


def _dcgm_values(ctx: AddonContext) -> dict[str, Any]:
    return {
        "customMetrics": dcgm_counters_csv(),
        "serviceMonitor": {"enabled": False},  # the platform's own ServiceMonitor sets job and node (monitor())
        "tolerations": tolerations_for(ctx.blueprint.pools_offering(NVIDIA_GPU)),
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ACCELERATOR_LABEL, "operator": "In", "values": ["nvidia"]}]}]}}},
    }


# With tls.type helm the chart generates its serving certificate at render time and reuses it through `lookup`, which
# Argo CD's `helm template` cannot do: every render has a new certificate, Secret and APIService caBundle. The first
# sync installs a consistent pair; later renders must not count as drift (or self-heal would rotate it every sync).
METRICS_SERVER_GENERATED = (
    {"group": "apiregistration.k8s.io", "kind": "APIService", "jqPathExpressions": [".spec.caBundle"]},
    {"kind": "Secret", "jsonPointers": ["/data"]},
)


def needs_cloudwatch_exporter(bp: "Blueprint") -> bool:
    """YACE runs (and the AWS layer creates its role) only where there is an FSx file system to watch."""
    return bp.enable_ai_ml_observability_stack and bp.enable_fsx


def yace_config(bp: "Blueprint") -> str:
    """YACE's configuration: one discovery job for AWS/FSx in the platform's region (scrape contract
    cloudwatch-fsx.requires)."""
    metrics = [{"name": m, "statistics": ["Sum"], "period": FSX_PERIOD_SECONDS, "length": FSX_LENGTH_SECONDS}
               for m in FSX_METRICS]
    # Only this platform's file system: the AWS provider tags every resource Platform=<name> (stacks/providers.py).
    job = {"type": "AWS/FSx", "regions": [bp.region],
           "searchTags": [{"key": "Platform", "value": f"^{re.escape(bp.name)}$"}], "metrics": metrics}
    config = {"apiVersion": "v1alpha1", "sts-region": bp.region, "discovery": {"jobs": [job]}}
    return yaml.safe_dump(config, sort_keys=False)


def _yace_values(ctx: AddonContext) -> dict[str, Any]:
    return {
        "config": yace_config(ctx.blueprint),
        # The Pod Identity association in the AWS layer names this service account; credentials come from it only.
        "serviceAccount": {"create": True, "name": YACE_SERVICE_ACCOUNT},
        "portName": "http",  # the contract's port
        "serviceMonitor": {"enabled": False},  # monitor() scrapes it with the contract's job
    }


def efa_exporter_objects(bp: "Blueprint") -> list[dict[str, Any]]:
    """AWS's EFA build of node_exporter on the EFA nodes, with only its EFA collector (node-exporter has the rest)."""
    labels = {"app.kubernetes.io/name": EFA_EXPORTER, **PART_OF}
    selector = {"app.kubernetes.io/name": EFA_EXPORTER}
    container = {
        "name": EFA_EXPORTER, "image": versions.EFA_NODE_EXPORTER_IMAGE,
        "args": ["--collector.disable-defaults", "--collector.amazonefa", "--path.sysfs=/host/sys",
                 f"--web.listen-address=:{EFA_EXPORTER_PORT}"],
        "ports": [{"name": "metrics", "containerPort": EFA_EXPORTER_PORT, "protocol": "TCP"}],
        "volumeMounts": [{"name": "sys", "mountPath": "/host/sys", "readOnly": True}],
        "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
    }
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": EFA_EXPORTER, "namespace": MONITORING, "labels": labels},
        "spec": {"selector": {"matchLabels": selector}, "template": {
            "metadata": {"labels": labels},
            "spec": {"nodeSelector": {EFA_LABEL: "true"}, "tolerations": tolerations_for(bp.efa_pools),
                     "automountServiceAccountToken": False, "containers": [container],
                     "volumes": [{"name": "sys", "hostPath": {"path": "/sys", "type": "Directory"}}]}}},
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": EFA_EXPORTER, "namespace": MONITORING, "labels": labels},
        "spec": {"type": "ClusterIP", "selector": selector,
                 "ports": [{"name": "metrics", "port": EFA_EXPORTER_PORT, "targetPort": "metrics",
                            "protocol": "TCP"}]},
    }
    return [daemonset, service]


def _efa_exporter(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": efa_exporter_objects(ctx.blueprint)}


def _metrics_server_values(ctx: AddonContext) -> dict[str, Any]:
    # A certificate Helm generates and the APIService trusts through caBundle, instead of skipping verification.
    return {"tls": {"type": "helm"}, "apiService": {"insecureSkipTLSVerify": False}, **copy.deepcopy(SYSTEM_NODES)}


def _opencost_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "clusterName": bp.name,
        "opencost": {
            "exporter": {"defaultClusterId": bp.name},
            "prometheus": {"internal": {"enabled": True, "serviceName": f"{KPS}-prometheus",
                                        "namespaceName": MONITORING, "port": 9090}},
            "metrics": {"serviceMonitor": {"enabled": False}},  # monitor() scrapes it with the contract's job
        },
    }


# --- logs ------------------------------------------------------------------------------------------------------------

def _section(name: str, settings: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in settings)
    return f"[{name}]\n" + "".join(f"    {k.ljust(width)} {v}\n" for k, v in settings)


def fluent_bit_service() -> str:
    """The chart's [SERVICE] section (its metrics server included), with filesystem buffering."""
    return _section("SERVICE", [
        ("Daemon", "Off"), ("Flush", "{{ .Values.flush }}"), ("Log_Level", "{{ .Values.logLevel }}"),
        ("Parsers_File", "/fluent-bit/etc/parsers.conf"), ("Parsers_File", "/fluent-bit/etc/conf/custom_parsers.conf"),
        ("HTTP_Server", "On"), ("HTTP_Listen", "0.0.0.0"),
        ("HTTP_Port", "{{ .Values.metricsPort }}"), ("Health_Check", "On"),
        ("storage.path", f"{FLUENT_BIT_STATE_DIR}/flb-storage/"), ("storage.sync", "normal"),
        ("storage.checksum", "off"), ("storage.backlog.mem_limit", "50M"),
    ])


def fluent_bit_inputs() -> str:
    containers = _section("INPUT", [
        ("Name", "tail"), ("Tag", "kube.*"), ("Path", "/var/log/containers/*.log"),
        # containerd splits long lines (cri); the multiline filter then joins stack traces.
        ("multiline.parser", "docker, cri"), ("DB", f"{FLUENT_BIT_STATE_DIR}/flb_container.db"),
        ("DB.locking", "true"), ("storage.type", "filesystem"), ("Mem_Buf_Limit", "50MB"),
        ("Skip_Long_Lines", "On"), ("Refresh_Interval", "10"),
    ])
    journal = _section("INPUT", [
        ("Name", "systemd"), ("Tag", "host.*"),
        *[("Systemd_Filter", f) for f in FLUENT_BIT_JOURNAL_FILTERS], ("Systemd_Filter_Type", "Or"),
        ("Read_From_Tail", "On"), ("DB", f"{FLUENT_BIT_STATE_DIR}/flb_journal.db"), ("DB.locking", "true"),
        ("storage.type", "filesystem"), ("Strip_Underscores", "On"),
    ])
    return containers + "\n" + journal


def fluent_bit_filters() -> str:
    # Python tracebacks (and Go and Java stack traces) arrive one line per record; joined before the kubernetes
    # filter parses the record, a traceback is one log entry.
    multiline = _section("FILTER", [
        ("Name", "multiline"), ("Match", "kube.*"), ("multiline.key_content", "log"),
        ("multiline.parser", "python, go, java"),
    ])
    kubernetes = _section("FILTER", [
        ("Name", "kubernetes"), ("Match", "kube.*"), ("Merge_Log", "On"), ("Merge_Log_Key", PARSED_LOG_KEY),
        ("Keep_Log", "On"), ("K8S-Logging.Parser", "On"), ("K8S-Logging.Exclude", "On"),
    ])
    return multiline + "\n" + kubernetes


def fluent_bit_outputs(bp: "Blueprint") -> str:
    if bp.needs_opensearch:
        return _section("OUTPUT", [
            ("Name", "opensearch"), ("Match", "*"), ("Host", OPENSEARCH_HOST), ("Port", "9200"),
            ("HTTP_User", "${OPENSEARCH_USERNAME}"), ("HTTP_Passwd", "${OPENSEARCH_PASSWORD}"),
            ("tls", "On"), ("tls.verify", "On"), ("tls.verify_hostname", "On"),
            ("tls.ca_file", f"{FLUENT_BIT_CA_DIR}/ca.crt"),
            ("Logstash_Format", "On"), ("Logstash_Prefix", LOGS_INDEX_PREFIX), ("Suppress_Type_Name", "On"),
            ("Replace_Dots", "On"), ("Trace_Error", "On"), ("Retry_Limit", "False"),
            ("storage.total_limit_size", FLUENT_BIT_BUFFER_LIMIT),
        ])
    return _section("OUTPUT", [
        ("Name", "loki"), ("Match", "*"), ("Host", f"loki.{LOGGING}.svc"), ("Port", "3100"),
        ("Labels", "job=fluent-bit, namespace=$kubernetes['namespace_name'], pod=$kubernetes['pod_name'], "
                   "container=$kubernetes['container_name']"),
        ("Line_Format", "json"), ("Retry_Limit", "False"), ("storage.total_limit_size", FLUENT_BIT_BUFFER_LIMIT),
    ])


def _fluent_bit_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    defaults = _fluent_bit_default_mounts()
    values: dict[str, Any] = {
        "config": {"service": fluent_bit_service(), "inputs": fluent_bit_inputs(), "filters": fluent_bit_filters(),
                   "outputs": fluent_bit_outputs(bp)},
        "daemonSetVolumes": defaults["daemonSetVolumes"],
        "daemonSetVolumeMounts": defaults["daemonSetVolumeMounts"],
        # Logs come from every node: every pool taint the platform knows, and the system nodes'.
        "tolerations": node_agent_tolerations() + copy.deepcopy(SYSTEM_NODES["tolerations"]),
    }
    if bp.needs_opensearch:
        # Fluent Bit's own user, which may only write log documents (catalog/opensearch_users.py).
        values["env"] = [{"name": env, "valueFrom": ref} for env, ref in _secret_env(
            OPENSEARCH_WRITER_SECRET, {"OPENSEARCH_USERNAME": "username", "OPENSEARCH_PASSWORD": "password"}).items()]
        # Only the CA certificate of the node certificate's Secret is mounted, never the node's key.
        values["daemonSetVolumes"] = defaults["daemonSetVolumes"] + [{"name": "opensearch-ca", "secret": {
            "secretName": OPENSEARCH_TLS_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
        values["daemonSetVolumeMounts"] = defaults["daemonSetVolumeMounts"] + [
            {"name": "opensearch-ca", "mountPath": FLUENT_BIT_CA_DIR, "readOnly": True}]
    return values


def _fluent_bit_default_mounts() -> dict[str, list[dict[str, Any]]]:
    """The chart's host log volumes, from helm-values/fluent-bit.yaml: Helm replaces lists, so adding a volume means
    restating them."""
    base = load_yaml(HELM_VALUES_DIR / "fluent-bit.yaml")
    return {k: list(base.get(k, [])) for k in ("daemonSetVolumes", "daemonSetVolumeMounts")}


def opensearch_config() -> str:
    certs = "certs"  # relative to the config directory, where secretMounts puts the node certificate
    settings = {
        "cluster.name": "opensearch-cluster",  # the chart's clusterName, which names its Services
        "network.host": "0.0.0.0",
        "plugins.security.ssl.transport.pemcert_filepath": f"{certs}/tls.crt",
        "plugins.security.ssl.transport.pemkey_filepath": f"{certs}/tls.key",
        "plugins.security.ssl.transport.pemtrustedcas_filepath": f"{certs}/ca.crt",
        # Nodes dial each other by pod IP; the chain is still verified against the platform CA.
        "plugins.security.ssl.transport.enforce_hostname_verification": False,
        "plugins.security.ssl.http.enabled": True,
        "plugins.security.ssl.http.pemcert_filepath": f"{certs}/tls.crt",
        "plugins.security.ssl.http.pemkey_filepath": f"{certs}/tls.key",
        "plugins.security.ssl.http.pemtrustedcas_filepath": f"{certs}/ca.crt",
        # The security index is created from the mounted files on first start (internal_users.yml holds only the
        # generated admin); afterwards users change through the REST API.
        "plugins.security.allow_default_init_securityindex": True,
        "plugins.security.nodes_dn": [f"CN={OPENSEARCH_SERVICE}"],
        "plugins.security.authcz.admin_dn": [],
        "plugins.security.restapi.roles_enabled": ["all_access"],
        # cert-manager renews the node certificate every ~75 days into the mounted Secret; without hot reload the
        # nodes would keep serving the old one until it expires (security plugin 2.19+ watches the files).
        "plugins.security.ssl.certificates_hot_reload.enabled": True,
    }
    return yaml.safe_dump(settings, sort_keys=False)


def _opensearch_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        "config": {"opensearch.yml": opensearch_config()},
        # No demo certificates or demo users: TLS from cert-manager, the admin user from the generated Secret.
        "extraEnvs": [{"name": "DISABLE_INSTALL_DEMO_CONFIG", "value": "true"}],
        "securityConfig": {"enabled": True, "internalUsersSecret": OPENSEARCH_ADMIN_SECRET},
        "secretMounts": [{"name": "node-tls", "secretName": OPENSEARCH_TLS_SECRET,
                          "path": "/usr/share/opensearch/config/certs"}],
        "persistence": {"enabled": True, "storageClass": GP3_CLASS, "size": f"{bp.logs_storage_gib}Gi"},
        "protocol": "https",
        "service": {"type": "ClusterIP"},
        "ingress": {"enabled": False},
    }


# The schema period helm-values/loki.yaml declares (filesystem); with S3 the same period on the s3 object store.
LOKI_SCHEMA = {"from": "2024-04-01", "store": "tsdb", "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}


def _loki_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    values: dict[str, Any] = {
        "deploymentMode": "Monolithic",
        "singleBinary": {"replicas": 1, "persistence": {
            "enabled": True, "storageClass": GP3_CLASS, "size": f"{bp.logs_storage_gib}Gi",
            # The claim goes with the StatefulSet (helm uninstall), so no EBS volume outlives the platform.
            "enableStatefulSetAutoDeletePVC": True, **DELETE_CLAIMS_WITH_STATEFULSET}},
        "gateway": {"enabled": False},  # Grafana and Fluent Bit talk to Loki's own Service
        # The compactor (retention_enabled in helm-values/loki.yaml) deletes chunks older than this.
        "loki": {"limits_config": {"retention_period": f"{bp.logs_retention_days * 24}h"}},
        "serviceAccount": {"name": LOKI_SERVICE_ACCOUNT},
    }
    if bp.needs_loki_bucket:
        bucket = ctx.outputs["loki_bucket_name"]
        # Chunks, index, rules and the compactor's delete requests in the platform's bucket; the credentials are the
        # service account's Pod Identity role (no keys in the values). The volume keeps the write-ahead log.
        values["loki"].update({
            "storage": {"type": "s3", "bucketNames": {"chunks": bucket, "ruler": bucket},
                        "s3": {"region": bp.region}},
            "schemaConfig": {"configs": [{**LOKI_SCHEMA, "object_store": "s3"}]},
            "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
        })
    return values


def _certificate(name: str, namespace: str, secret: str, issuer: str, usages: list[str],
                 common_name: str, dns_names: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "secretName": secret, "commonName": common_name, "duration": "2160h", "renewBefore": "360h",
        "privateKey": {"algorithm": "RSA", "size": 2048, "encoding": "PKCS8", "rotationPolicy": "Always"},
        "usages": usages, "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
    }
    if dns_names:
        spec["dnsNames"] = dns_names
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def opensearch_access_objects() -> list[dict[str, Any]]:
    """A private CA (cert-manager), OpenSearch's node certificate and the CA for Grafana."""
    selfsigned = f"{LOGS_CA_ISSUER}-root"
    ca = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
          "metadata": {"name": LOGS_CA_ISSUER, "namespace": CERT_MANAGER_NAMESPACE},
          "spec": {"isCA": True, "commonName": "mlplat logs CA", "secretName": LOGS_CA_ISSUER, "duration": "87600h",
                   "privateKey": {"algorithm": "RSA", "size": 4096},
                   "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": selfsigned}}}
    headless = f"{OPENSEARCH_SERVICE}-headless"
    dns = [OPENSEARCH_SERVICE, f"{OPENSEARCH_SERVICE}.{LOGGING}", OPENSEARCH_HOST, f"{OPENSEARCH_HOST}.cluster.local",
           f"*.{headless}", f"*.{headless}.{LOGGING}.svc", f"*.{headless}.{LOGGING}.svc.cluster.local"]
    return [
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": selfsigned},
         "spec": {"selfSigned": {}}},
        ca,
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": LOGS_CA_ISSUER},
         "spec": {"ca": {"secretName": LOGS_CA_ISSUER}}},
        # Nodes present it to clients (server auth) and to each other (client auth on the transport layer).
        _certificate("opensearch-node", LOGGING, OPENSEARCH_TLS_SECRET, LOGS_CA_ISSUER,
                     ["server auth", "client auth"], OPENSEARCH_SERVICE, dns),
        # Grafana needs only the CA certificate in its namespace; a client certificate is how cert-manager puts it
        # there (the CA's key stays in cert-manager's namespace).
        _certificate("grafana-opensearch-client", MONITORING, GRAFANA_OPENSEARCH_CA_SECRET, LOGS_CA_ISSUER,
                     ["client auth"], "grafana"),
        # The same for OpenSearch Dashboards: the CA in a Secret of its own, not the node's key pair.
        _certificate("dashboards-opensearch-client", LOGGING, DASHBOARDS_CA_SECRET, LOGS_CA_ISSUER,
                     ["client auth"], "opensearch-dashboards"),
    ]


def _opensearch_log_retention(ctx: AddonContext) -> dict[str, Any]:
    from mlplat.catalog.log_retention import retention_objects

    return {"objects": retention_objects(
        ctx.blueprint, namespace=LOGGING, index_prefix=LOGS_INDEX_PREFIX, opensearch_url=f"https://{OPENSEARCH_HOST}:9200",
        admin_secret=OPENSEARCH_ADMIN_SECRET, tls_secret=OPENSEARCH_TLS_SECRET, labels=dict(PART_OF))}


def _dashboards_values(ctx: AddonContext) -> dict[str, Any]:
    """OpenSearch Dashboards next to OpenSearch: its own account (the security plugin's kibana_server role), the
    platform CA to verify OpenSearch, the settings file from its Secret, ClusterIP only."""
    return {
        "opensearchHosts": f"https://{OPENSEARCH_HOST}:9200",
        # Its account as the variables the image maps to opensearch.username/password (the chart's own
        # opensearchAccount would also demand a `cookie` key the image never reads: the cookie key is in the file).
        "extraEnvs": [{"name": variable, "valueFrom": {"secretKeyRef": {"name": OPENSEARCH_DASHBOARDS_SECRET,
                                                                           "key": key}}}
                      for variable, key in (("OPENSEARCH_USERNAME", "username"), ("OPENSEARCH_PASSWORD", "password"))],
        "secretMounts": [
            {"name": "opensearch-ca", "secretName": DASHBOARDS_CA_SECRET,
             "path": f"{OPENSEARCH_DASHBOARDS_CA_DIR}/ca.crt", "subPath": "ca.crt"},
            {"name": "settings", "secretName": OPENSEARCH_DASHBOARDS_SECRET,
             "path": "/usr/share/opensearch-dashboards/config/opensearch_dashboards.yml",
             "subPath": "opensearch_dashboards.yml"},
        ],
        "service": {"type": "ClusterIP"},
        "ingress": {"enabled": False},
    }


def _dashboards_setup(ctx: AddonContext) -> dict[str, Any]:
    from mlplat.catalog.log_retention import admin_env, opensearch_job
    from mlplat.catalog.opensearch_users import INDEX_PATTERN_SCRIPT, index_pattern

    env = {"OPENSEARCH_URL": f"https://{OPENSEARCH_HOST}:9200",
           "DASHBOARDS_URL": f"http://{DASHBOARDS_SERVICE}.{LOGGING}.svc:5601", "PATTERN_FILE": "/config/pattern.json",
           "PATTERN_ID": "mlplat-logs"}
    return {"objects": opensearch_job(
        "opensearch-dashboards-setup", LOGGING, dict(PART_OF), script=INDEX_PATTERN_SCRIPT,
        files={"pattern.json": json.dumps(index_pattern(LOGS_INDEX_PREFIX), indent=2)}, env=env,
        secret_env=admin_env(OPENSEARCH_ADMIN_SECRET), tls_secret=OPENSEARCH_TLS_SECRET)}


def _opensearch_users(ctx: AddonContext) -> dict[str, Any]:
    from mlplat.catalog.opensearch_users import users_objects

    uses = {u.secret_name: u for u in secret_uses(ctx.blueprint)}
    return {"objects": users_objects(
        namespace=LOGGING, index_prefix=LOGS_INDEX_PREFIX, opensearch_url=f"https://{OPENSEARCH_HOST}:9200",
        admin_secret=OPENSEARCH_ADMIN_SECRET, tls_secret=OPENSEARCH_TLS_SECRET,
        writer=uses[OPENSEARCH_WRITER_SECRET], reader=uses[OPENSEARCH_READER_SECRET],
        dashboards=uses[OPENSEARCH_DASHBOARDS_SECRET], outputs=ctx.outputs, labels=dict(PART_OF))}


def _opensearch_access(ctx: AddonContext) -> dict[str, Any]:
    return {"objects": opensearch_access_objects()}


def _cert_manager_values(ctx: AddonContext) -> dict[str, Any]:
    # Its webhook admits every Certificate: it runs with the platform controllers on the system nodes, all four parts.
    system = copy.deepcopy(SYSTEM_NODES)
    return {"crds": {"enabled": True, "keep": True}, **system,
            **{part: copy.deepcopy(system) for part in ("webhook", "cainjector", "startupapicheck")}}


# --- traces ----------------------------------------------------------------------------------------------------------

def _tempo_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    return {
        # The chart's auto-delete deletes the claim with the StatefulSet (and on scale-down; Tempo runs one replica).
        "persistence": {"enabled": True, "storageClassName": GP3_CLASS, "size": f"{bp.tracing_storage_gib}Gi",
                        "enableStatefulSetAutoDeletePVC": True},
        "tempo": {"receivers": {
            "jaeger": None,  # null removes the chart's default Jaeger receivers: OTLP only, from the collector
            "otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                                   "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"}}},
        }},
    }


def _otel_collector_values(ctx: AddonContext) -> dict[str, Any]:
    unused_ports = ("jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin")
    return {
        "mode": "deployment",
        "image": {"repository": "otel/opentelemetry-collector-k8s"},
        "presets": {"kubernetesAttributes": {"enabled": True}},
        "ports": {name: {"enabled": False} for name in unused_ports},
        "config": {
            # null drops the chart's default receivers and pipelines: this collector forwards traces to Tempo.
            "receivers": {"jaeger": None, "zipkin": None, "prometheus": None},
            "exporters": {"debug": None, "otlp/tempo": {"endpoint": f"{TEMPO_HOST}:{OTLP_GRPC_PORT}",
                                                        # Tempo's in-cluster receiver speaks plain OTLP.
                                                        "tls": {"insecure": True}}},
            "service": {"pipelines": {
                "logs": None, "metrics": None,
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                           "exporters": ["otlp/tempo"]},
            }},
        },
    }


# --- registry --------------------------------------------------------------------------------------------------------

def _stack(bp: "Blueprint") -> bool:
    return bp.enable_ai_ml_observability_stack


_TOGGLE = "enable_ai_ml_observability_stack"

ADDONS: list[AddOn] = [
    AddOn(KPS, MONITORING, enabled=_stack, chart=versions.CHARTS[KPS],
          depends_on=("platform-secrets", STORAGE_CLASSES_ADDON), computed_values=kube_prometheus_stack_values,
          toggle=_TOGGLE, sync_wave=-8, placement=POOLS),
    AddOn("monitoring-objects", MONITORING, enabled=_stack, depends_on=(KPS,), computed_values=_monitoring_objects,
          toggle=_TOGGLE, sync_wave=-6, placement=NO_PODS),
    AddOn("grafana-dashboards", MONITORING, enabled=_stack, depends_on=(KPS,), computed_values=_dashboards,
          toggle=_TOGGLE, sync_wave=-6, placement=NO_PODS),
    AddOn("metrics-server", "kube-system", enabled=_stack, chart=versions.CHARTS["metrics-server"],
          computed_values=_metrics_server_values, toggle=_TOGGLE, sync_wave=-8, placement=SYSTEM,
          ignore_differences=METRICS_SERVER_GENERATED),
    AddOn("dcgm-exporter", MONITORING, enabled=lambda bp: _stack(bp) and bool(bp.pools_offering(NVIDIA_GPU)),
          chart=versions.CHARTS["dcgm-exporter"], depends_on=(KPS,), computed_values=_dcgm_values, toggle=_TOGGLE,
          sync_wave=-6, placement=NODE_AGENT),
    AddOn("opencost", MONITORING, enabled=_stack, chart=versions.CHARTS["opencost"], depends_on=(KPS,),
          computed_values=_opencost_values, toggle=_TOGGLE, sync_wave=-6, placement=POOLS),
    AddOn(YACE_RELEASE, MONITORING, enabled=needs_cloudwatch_exporter, chart=versions.CHARTS[YACE_CHART],
          depends_on=(KPS,), computed_values=_yace_values, toggle=_TOGGLE, sync_wave=-6, placement=POOLS),
    AddOn(EFA_EXPORTER, MONITORING, enabled=lambda bp: _stack(bp) and bool(bp.efa_pools), depends_on=(KPS,),
          computed_values=_efa_exporter, toggle=_TOGGLE, sync_wave=-6, placement=NODE_AGENT),
    # Logs: OpenSearch (default) or Loki, and Fluent Bit shipping to whichever is enabled.
    # Also KServe's and the Slurm operator's: their webhook certificates are cert-manager Certificates
    # (catalog/serving.py, catalog/slurm.py).
    AddOn("cert-manager", CERT_MANAGER_NAMESPACE,
          enabled=lambda bp: bp.needs_opensearch or bp.enable_kserve or bp.enable_slurm,
          chart=versions.CHARTS["cert-manager"], computed_values=_cert_manager_values, toggle=_TOGGLE, sync_wave=-9, placement=SYSTEM),
    AddOn("opensearch-access", LOGGING, enabled=lambda bp: bp.needs_opensearch,
          depends_on=("cert-manager", "platform-secrets"), computed_values=_opensearch_access, toggle=_TOGGLE,
          sync_wave=-7, placement=NO_PODS),
    AddOn("opensearch", LOGGING, enabled=lambda bp: bp.needs_opensearch, chart=versions.CHARTS["opensearch"],
          depends_on=("opensearch-access", STORAGE_CLASSES_ADDON), conflicts_with=("loki",),
          computed_values=_opensearch_values, toggle=_TOGGLE, sync_wave=-6, timeout_seconds=900, placement=POOLS),
    AddOn("opensearch-log-retention", LOGGING, enabled=lambda bp: bp.needs_opensearch, depends_on=("opensearch",),
          computed_values=_opensearch_log_retention, toggle=_TOGGLE, sync_wave=-5, placement=POOLS),
    AddOn("opensearch-users", LOGGING, enabled=lambda bp: bp.needs_opensearch, depends_on=("opensearch",),
          computed_values=_opensearch_users, toggle=_TOGGLE, sync_wave=-5, placement=POOLS),
    AddOn("opensearch-dashboards", LOGGING, enabled=lambda bp: bp.needs_opensearch,
          chart=versions.CHARTS["opensearch-dashboards"], depends_on=("opensearch-users",),
          computed_values=_dashboards_values, toggle=_TOGGLE, sync_wave=-4, timeout_seconds=900, placement=POOLS),
    AddOn("opensearch-dashboards-setup", LOGGING, enabled=lambda bp: bp.needs_opensearch,
          depends_on=("opensearch-dashboards",), computed_values=_dashboards_setup, toggle=_TOGGLE, sync_wave=-3,
          placement=POOLS),
    AddOn("loki", LOGGING, enabled=lambda bp: bp.needs_loki, chart=versions.CHARTS["loki"],
          depends_on=(STORAGE_CLASSES_ADDON,), conflicts_with=("opensearch",), computed_values=_loki_values,
          toggle="observability_logs_backend", sync_wave=-6, placement=POOLS),
    # Fluent Bit buffers and retries until its backend answers, so it need not wait for it; its OpenSearch
    # credential and CA come from platform-secrets and opensearch-access (pods wait for those Secrets to mount).
    AddOn("fluent-bit", LOGGING, enabled=_stack, chart=versions.CHARTS["fluent-bit"], depends_on=("platform-secrets",),
          computed_values=_fluent_bit_values, toggle=_TOGGLE, sync_wave=-5, placement=NODE_AGENT),
    # Traces: applications send OTLP to the collector, which forwards to Tempo.
    AddOn("tempo", MONITORING, enabled=lambda bp: bp.needs_tracing, chart=versions.CHARTS["tempo"],
          depends_on=(STORAGE_CLASSES_ADDON,), computed_values=_tempo_values, toggle="enable_tracing", sync_wave=-6, placement=POOLS),
    AddOn(OTEL_COLLECTOR_RELEASE, MONITORING, enabled=lambda bp: bp.needs_tracing,
          chart=versions.CHARTS["opentelemetry-collector"], depends_on=("tempo",),
          computed_values=_otel_collector_values, toggle="enable_tracing", sync_wave=-5, placement=POOLS),
]
