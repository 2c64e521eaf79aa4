"""Helm value keys of charts whose values.yaml is not in ../shared/reference, checked by hand against upstream.

../shared/reference/chart-values has kube-prometheus-stack but not its subcharts (grafana, kube-state-metrics), and
none of loki, tempo, opentelemetry-collector, opencost, cert-manager, prometheus-yet-another-cloudwatch-exporter.
For those, each key the platform sets was checked against the chart's values.yaml at the tag named below (2026-08,
read from the upstream repositories); the
tests accept exactly these keys at exactly these versions, so a new key or a version bump fails until someone checks
the new values.yaml and updates this record. A key ending in `/*` is a free-form map (a passthrough of the
application's own configuration): anything below it is accepted.

Keys set by the platform that upstream documents only as a commented example are listed in COMMENTED_KEYS with the
chart template that reads them; the tests confirm the comment is in the reference values.yaml where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verified:
    version: str
    source: str
    keys: frozenset[str]


# kube-prometheus-stack subcharts: the version is the dependency pinned in kube-prometheus-stack's Chart.yaml.
SUBCHARTS: dict[str, Verified] = {
    "grafana": Verified("12.11.1", "grafana-community/helm-charts tag grafana-12.11.1 charts/grafana/values.yaml",
                        frozenset({"plugins", "envValueFrom/*", "extraSecretMounts",
                                   # Checked 2026-12-02 at the same tag; storageClassName is a commented example there
                                   # (templates/pvc.yaml reads it).
                                   "persistence.enabled", "persistence.storageClassName", "persistence.size",
                                   "deploymentStrategy.type", "service.type", "service.annotations/*",
                                   "service.loadBalancerSourceRanges"})),
    "kube-state-metrics": Verified(
        "8.4.0", "prometheus-community/helm-charts tag kube-state-metrics-8.4.0 charts/kube-state-metrics/values.yaml",
        frozenset({"metricLabelsAllowlist"})),
}

CHARTS: dict[str, Verified] = {
    "loki": Verified("18.11.0", "grafana-community/helm-charts tag loki-18.11.0 charts/loki/values.yaml", frozenset({
        "deploymentMode", "loki.auth_enabled", "loki.commonConfig.replication_factor", "loki.storage.type",
        # Rendered verbatim into Loki's configuration (tpl | toYaml): Loki's own keys below them.
        "loki.schemaConfig/*", "loki.limits_config/*", "loki.compactor/*",
        "singleBinary.replicas", "singleBinary.persistence.enabled", "singleBinary.persistence.size",
        "singleBinary.persistence.storageClass", "read.replicas", "write.replicas", "backend.replicas",
        # Checked 2026-11-30 at the same tag: the StatefulSet's persistentVolumeClaimRetentionPolicy, rendered when
        # enableStatefulSetAutoDeletePVC is true.
        "singleBinary.persistence.enableStatefulSetAutoDeletePVC", "singleBinary.persistence.whenDeleted",
        "singleBinary.persistence.whenScaled",
        "gateway.enabled", "chunksCache.enabled", "resultsCache.enabled", "lokiCanary.enabled", "test.enabled",
        # Checked 2026-12-02 at the same tag: object storage on S3 with the pod's own credentials (loki_storage = s3);
        # bucketNames.chunks and .ruler are a commented example there, required by templates/_helpers.tpl.
        "loki.storage.s3.region", "loki.storage.bucketNames.chunks", "loki.storage.bucketNames.ruler",
        "serviceAccount.name",
    })),
    "tempo": Verified("2.2.4", "grafana-community/helm-charts tag tempo-2.2.4 charts/tempo/values.yaml", frozenset({
        "tempo.retention", "tempo.reportingEnabled", "tempo.receivers.jaeger",
        "tempo.receivers.otlp.protocols.grpc.endpoint", "tempo.receivers.otlp.protocols.http.endpoint",
        # storageClassName: a commented example in values.yaml, read by templates/statefulset.yaml.
        "persistence.enabled", "persistence.size", "persistence.storageClassName",
        # Checked 2026-11-30 at the same tag: with persistence on, Delete/Delete claim retention on the StatefulSet.
        "persistence.enableStatefulSetAutoDeletePVC",
    })),
    "opentelemetry-collector": Verified(
        "0.170.0",
        "open-telemetry/opentelemetry-helm-charts tag opentelemetry-collector-0.170.0 "
        "charts/opentelemetry-collector/values.yaml",
        frozenset({
            "mode", "image.repository", "presets.kubernetesAttributes.enabled", "resources/*",
            "ports.jaeger-compact.enabled", "ports.jaeger-thrift.enabled", "ports.jaeger-grpc.enabled",
            "ports.zipkin.enabled",
            "config.receivers.jaeger", "config.receivers.zipkin", "config.receivers.prometheus",
            # The collector's own configuration, merged over the chart's: exporters are named by the user.
            "config.exporters/*",
            "config.service.pipelines.logs", "config.service.pipelines.metrics",
            "config.service.pipelines.traces.receivers", "config.service.pipelines.traces.processors",
            "config.service.pipelines.traces.exporters",
        })),
    "opencost": Verified("2.5.17", "opencost/opencost-helm-chart tag opencost-2.5.17 charts/opencost/values.yaml",
                         frozenset({
                             "clusterName", "opencost.exporter.defaultClusterId",
                             "opencost.metrics.serviceMonitor.enabled", "opencost.prometheus.internal.enabled",
                             "opencost.prometheus.internal.serviceName", "opencost.prometheus.internal.namespaceName",
                             "opencost.prometheus.internal.port",
                         })),
    "prometheus-yet-another-cloudwatch-exporter": Verified(
        "0.47.0",
        "prometheus-community/helm-charts tag prometheus-yet-another-cloudwatch-exporter-0.47.0 "
        "charts/prometheus-yet-another-cloudwatch-exporter/values.yaml",
        frozenset({
            # A string rendered (through tpl) into YACE's config.yml.
            "config",
            "serviceAccount.create", "serviceAccount.name", "portName", "serviceMonitor.enabled",
        })),
    "cert-manager": Verified("v1.21.1", "cert-manager/cert-manager tag v1.21.1 deploy/charts/cert-manager/values.yaml",
                             frozenset({"crds.enabled", "crds.keep",
                                        # Checked 2026-11-30: placement of the controller and its three parts.
                                        "nodeSelector/*", "tolerations", "webhook.nodeSelector/*",
                                        "webhook.tolerations", "cainjector.nodeSelector/*", "cainjector.tolerations",
                                        "startupapicheck.nodeSelector/*", "startupapicheck.tolerations"})),
}

# Charts in ../shared/reference: chart -> {dotted key: the template that reads it}, for keys their values.yaml has
# only as a commented example.
COMMENTED_KEYS: dict[str, dict[str, str]] = {
    "dcgm-exporter": {"customMetrics": "deployment/templates/metrics-configmap.yaml"},
    "opensearch": {"persistence.storageClass": "charts/opensearch/templates/statefulset.yaml"},
}


def accepted(key: str, verified: frozenset[str]) -> bool:
    """A key is accepted when it is recorded, or lies below a recorded free-form map."""
    for entry in verified:
        if entry.endswith("/*"):
            root = entry[:-2]
            if key == root or key.startswith(root + "."):
                return True
        elif key == entry:
            return True
    return False
