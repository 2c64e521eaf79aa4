"""The observability stack in the synthesized Kubernetes layer: every component with the toggle on, none with it
off, each logs backend, tracing on and off, monitors as the scrape contract says, and objects that validate."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from mlplat import versions
from mlplat.addons import install_order
from mlplat.blueprint import parse_text
from mlplat.catalog import REGISTRY, by_name
from mlplat.catalog.observability import (
    DASHBOARDS_DIR, DCGM_COUNTERS, KSM_LABELS_ALLOWLIST, OPENSEARCH_HOST, OPENSEARCH_SERVICE, RULES_DIR,
    TRACE_ID_REGEX, fluent_bit_outputs,
)
from tests.support import k8s
from tests.support.synth import CANONICAL_TEXT

CONTRACT = yaml.safe_load((DASHBOARDS_DIR / "scrape-contract.yaml").read_text())

# yace watches FSx, which the canonical blueprint enables; the EFA exporter needs an EFA pool (test_exporters.py).
METRICS = {"kube-prometheus-stack", "monitoring-objects", "grafana-dashboards", "metrics-server", "dcgm-exporter",
           "opencost", "yace"}
EFA = {"efa-node-exporter"}
OPENSEARCH = {"cert-manager", "opensearch-access", "opensearch", "fluent-bit", "opensearch-dashboards"}
LOKI = {"loki", "fluent-bit"}
TRACING = {"tempo", "opentelemetry-collector"}
EVERY_RELEASE = METRICS | OPENSEARCH | LOKI | TRACING | EFA
NAMESPACES = {**dict.fromkeys(METRICS | TRACING | EFA, "monitoring"), "metrics-server": "kube-system",
              "cert-manager": "cert-manager", **dict.fromkeys(OPENSEARCH - {"cert-manager"} | LOKI, "logging")}
MONITOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
# Kinds whose CRDs ../shared/reference does not carry (it now has cert-manager's and External Secrets').
NO_REFERENCE_SCHEMA: set[tuple[str, str]] = set()


def manifests_objects(s, release=None):
    out = []
    for name, r in s.releases().items():
        if (release is None or name == release) and "manifests-chart" in r["chart"]:
            out.extend(s.objects(name))
    return out


def monitors(s):
    return {o["metadata"]["name"]: o for o in s.objects("monitoring-objects") if o["kind"] in ("ServiceMonitor",
                                                                                                "PodMonitor")}


def datasources(s):
    return {d["uid"]: d for d in s.values("kube-prometheus-stack")["grafana"]["additionalDataSources"]}


# --- on and off -------------------------------------------------------------------------------------------------------

def test_toggle_off_installs_none_of_the_stack_and_generates_no_observability_secret(off):
    assert sorted(EVERY_RELEASE & set(off.releases())) == []
    kinds = sorted({o["kind"] for o in manifests_objects(off)} & MONITOR_KINDS)
    assert kinds == []
    dashboards = [o["metadata"]["name"] for o in manifests_objects(off)
                  if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"].get("labels", {})]
    assert dashboards == []
    secrets = [r["name"] for r in off.resources("aws", "aws_secretsmanager_secret").values()]
    assert [n for n in secrets if "grafana" in n or "opensearch" in n] == []


def test_toggle_on_installs_every_component_pinned_in_its_namespace(stack_on):
    expected = {"opensearch": METRICS | OPENSEARCH, "loki+tracing": METRICS | LOKI | TRACING,
                "opensearch+tracing+kueue": METRICS | OPENSEARCH | TRACING}
    for case, s in stack_on.items():
        releases = s.releases()
        assert sorted(EVERY_RELEASE & set(releases)) == sorted(expected[case]), case
        for name in expected[case]:
            addon = by_name()[name]
            r = releases[name]
            assert (r["namespace"], r["version"], r["atomic"]) == (NAMESPACES[name], addon.chart_version, True), name
            if addon.chart:
                pin = versions.CHARTS[addon.chart.chart]
                assert (r["chart"], r["repository"], r["version"]) == (pin.chart, pin.repository, pin.version), name
    secrets = sorted(r["name_prefix"] for r in
                     stack_on["opensearch"].resources("aws", "aws_secretsmanager_secret").values())
    assert [n for n in secrets if "grafana" in n or "opensearch" in n] == [
        "mlplat/grafana-admin-", "mlplat/opensearch-admin-", "mlplat/opensearch-dashboards-",
        "mlplat/opensearch-logs-reader-",
        "mlplat/opensearch-logs-writer-"]
    loki_secrets = [r["name_prefix"] for r in
                    stack_on["loki+tracing"].resources("aws", "aws_secretsmanager_secret").values()]
    assert [n for n in loki_secrets if "opensearch" in n] == []


def test_install_order_puts_dependencies_first(opensearch_tracing):
    order = [a.name for a in install_order(REGISTRY, opensearch_tracing.blueprint)]

    def before(first, then):
        assert order.index(first) < order.index(then), f"{first} must come before {then}: {order}"

    before("platform-secrets", "kube-prometheus-stack")  # grafana-admin
    before("storage-classes", "kube-prometheus-stack")  # the gp3 class of the Prometheus volume
    for user in ("monitoring-objects", "grafana-dashboards", "dcgm-exporter", "opencost", "yace"):
        before("kube-prometheus-stack", user)  # monitoring.coreos.com CRDs
    before("cert-manager", "opensearch-access")
    before("opensearch-access", "opensearch")
    before("storage-classes", "opensearch")
    before("tempo", "opentelemetry-collector")
    dependents = {a.name: set(a.depends_on) for a in REGISTRY}
    assert dependents["opensearch"] >= {"opensearch-access"} and "loki" in by_name()["opensearch"].conflicts_with
    assert "opensearch" in by_name()["loki"].conflicts_with


def test_no_gpu_pool_means_no_dcgm_exporter_and_no_dcgm_monitor():
    from mlplat.catalog.observability import scrapes

    text = CANONICAL_TEXT + "enable_ai_ml_observability_stack = true\nnodepools = { gpu = { enabled = false } }\n"
    bp = parse_text(text, "bp.tfvars")
    names = {a.name for a in install_order(REGISTRY, bp)}
    assert "dcgm-exporter" not in names and "kube-prometheus-stack" in names
    assert "dcgm-exporter" not in {s.job for s in scrapes(bp)}


# --- objects ----------------------------------------------------------------------------------------------------------

def test_every_custom_object_validates_against_its_schema(stack_on):
    unvalidated = set()
    validated = 0
    for case, s in stack_on.items():
        for release in ("monitoring-objects", "grafana-dashboards", "opensearch-access"):
            if release not in s.releases():
                continue
            for obj in s.objects(release):
                key = (obj["apiVersion"], obj["kind"])
                if key in NO_REFERENCE_SCHEMA:
                    unvalidated.add(key)
                    continue
                k8s.validate(obj)
                validated += 1
    assert validated > 30
    # Named here so that a new kind without a reference schema cannot slip through unvalidated.
    assert unvalidated == NO_REFERENCE_SCHEMA


def test_one_dashboard_configmap_per_dashboard_file_labelled_for_the_sidecar(on):
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert files, "no dashboards/*.json to ship"
    maps = {o["metadata"]["name"]: o for o in on.objects("grafana-dashboards")}
    assert len(maps) == len(files)
    sidecar = on.values("kube-prometheus-stack")["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["enabled"], sidecar["label"], sidecar["labelValue"]) == (True, "grafana_dashboard", "1")
    by_file = {next(iter(m["data"])): m for m in maps.values()}
    for path in files:
        cm = by_file[path.name]
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["data"][path.name] == path.read_text()
        assert json.loads(cm["data"][path.name])["title"]
        assert len(path.read_bytes()) < 1024 * 1024


def test_one_prometheus_rule_per_rule_file_with_its_groups(on):
    files = sorted(RULES_DIR.glob("*.yaml"))
    assert CONTRACT["recording_rules_file"].removeprefix("rules/") in [f.name for f in files]
    rules = {o["metadata"]["name"]: o for o in on.objects("monitoring-objects") if o["kind"] == "PrometheusRule"}
    assert sorted(rules) == sorted(f"mlplat-{f.stem}" for f in files)
    for path in files:
        assert rules[f"mlplat-{path.stem}"]["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"]
    prometheus = on.values("kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    # Rules and monitors are selected cluster-wide, not only those labelled for the release.
    assert {k: v for k, v in prometheus.items() if k.endswith("NilUsesHelmValues")} == {
        "serviceMonitorSelectorNilUsesHelmValues": False, "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False, "probeSelectorNilUsesHelmValues": False,
        "scrapeConfigSelectorNilUsesHelmValues": False}


# --- the scrape contract ----------------------------------------------------------------------------------------------

def test_monitors_produce_the_jobs_ports_and_labels_of_the_scrape_contract(opensearch_tracing, efa):
    exporters = {e["job"]: e for e in CONTRACT["exporters"].values()}
    ours = {**monitors(opensearch_tracing), **monitors(efa)}
    for job, mon in ours.items():
        if job not in exporters:
            continue
        want = exporters[job]
        spec = mon["spec"]
        endpoint = (spec.get("endpoints") or spec["podMetricsEndpoints"])[0]
        relabel_job = [r["replacement"] for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
        got = {"kind": mon["kind"], "job": relabel_job, "port": endpoint["port"], "path": endpoint["path"],
               "scheme": endpoint["scheme"], "honor_labels": endpoint["honorLabels"]}
        assert got == {"kind": want["kind"], "job": [job], "port": want["port"], "path": want["path"],
                       "scheme": want["scheme"], "honor_labels": want["honor_labels"]}, job
        node = [r for r in endpoint["relabelings"] if r.get("targetLabel") == "node"]
        if "node" in want["target_labels"]:
            assert node == [{"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                             "targetLabel": "node"}], job
        copied = spec.get("targetLabels", spec.get("podTargetLabels", []))
        wanted_copies = [re.search(r"\[(.+)\]", v)[1] for v in want["target_labels"].values() if "targetLabels" in v]
        assert copied == wanted_copies, job
    # Contract jobs scraped by the platform's own monitors, by kube-prometheus-stack, and by other add-ons' monitors.
    assert sorted(set(exporters) & set(ours)) == ["bentoml", "dcgm-exporter", "efa-node-exporter", "fluent-bit",
                                                  "karpenter", "kueue", "opencost", "ray-head", "ray-workers", "triton",
                                                  "vllm", "yace"]
    assert sorted(set(exporters) - set(ours)) == ["kube-state-metrics", "kubelet", "neuron-monitor", "node-exporter"]
    assert sorted(set(ours) - set(exporters)) == []


def test_kube_prometheus_stack_jobs_match_the_contract(on):
    from tests.support.chart_values import chart_defaults

    values = on.values("kube-prometheus-stack")
    defaults = chart_defaults("kube-prometheus-stack")
    ksm = CONTRACT["exporters"]["kube-state-metrics"]
    assert values["kube-state-metrics"]["metricLabelsAllowlist"] == list(KSM_LABELS_ALLOWLIST)
    derived = {}
    for entry in KSM_LABELS_ALLOWLIST:
        resource, keys = re.fullmatch(r"(\w+)=\[(.*)\]", entry).groups()
        derived[resource] = ["label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k) for k in keys.split(",")]
    assert derived == ksm["allowlisted_labels"]
    requires = "".join(ksm["requires"][0].split())
    assert "--metric-labels-allowlist=" + ",".join(KSM_LABELS_ALLOWLIST) in requires
    node_exporter = CONTRACT["exporters"]["node-exporter"]
    assert defaults["prometheus-node-exporter"]["podLabels"]["jobLabel"] == node_exporter["job"]
    assert "podLabels" not in values.get("prometheus-node-exporter", {})
    assert values["prometheus-node-exporter"]["prometheus"]["monitor"]["relabelings"] == [
        {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}]
    assert defaults["prometheus-node-exporter"]["service"]["portName"] == node_exporter["port"]


def test_dcgm_exporter_runs_on_gpu_nodes_with_every_counter_the_contract_needs(on):
    values = on.values("dcgm-exporter")
    contract = CONTRACT["exporters"]["dcgm-exporter"]["metrics"]
    assert sorted(DCGM_COUNTERS) == sorted(contract)
    csv_fields = [line.split(",")[0] for line in values["customMetrics"].splitlines()]
    assert sorted(csv_fields) == sorted(contract)
    assert values["serviceMonitor"] == {"enabled": False}  # ours, with job and node
    gpu_taints = sorted((t["key"], t["effect"]) for p in on.blueprint.enabled_pools
                        if p.kind.accelerator == "nvidia.com/gpu" for t in p.taints)
    assert sorted((t["key"], t["effect"]) for t in values["tolerations"]) == sorted(set(gpu_taints))
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "mlplat.io/accelerator", "operator": "In", "values": ["nvidia"]}]}]


# --- Grafana, data sources, nothing public ----------------------------------------------------------------------------

def test_grafana_credentials_come_from_the_external_secret_and_nothing_is_public(stack_on):
    for case, s in stack_on.items():
        grafana = s.values("kube-prometheus-stack")["grafana"]
        assert grafana["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user",
                                    "passwordKey": "admin-password"}, case
        assert "adminPassword" not in grafana
        uses = {o["metadata"]["name"]: o for o in s.objects("platform-secrets") if o["kind"] == "ExternalSecret"}
        assert sorted(uses["grafana-admin"]["spec"]["target"]["template"]["data"]) == ["admin-password", "admin-user"]
        for release in EVERY_RELEASE & set(s.releases()):
            text = json.dumps(s.values(release))
            assert not re.search(r'"type": "(LoadBalancer|NodePort)"', text), (case, release)
            for match in re.finditer(r'"ingress": (\{[^{}]*\})', text):
                assert json.loads(match[1]).get("enabled") is not True, (case, release)
        values = s.values("kube-prometheus-stack")
        assert [values[c]["ingress"]["enabled"] for c in ("grafana", "prometheus", "alertmanager")] == [False] * 3


def test_datasources_follow_the_logs_backend_and_link_trace_ids_to_tempo(on, loki_tracing, opensearch_tracing):
    plain = datasources(on)
    assert sorted(plain) == ["opensearch-logs"]
    opensearch = plain["opensearch-logs"]
    assert opensearch["type"] == CONTRACT["datasources"]["logs"]["type"]
    assert opensearch["url"] == f"https://{OPENSEARCH_HOST}:9200"
    assert (opensearch["basicAuthUser"], opensearch["secureJsonData"]) == (
        "$__env{OPENSEARCH_USERNAME}",
        {"basicAuthPassword": "$__env{OPENSEARCH_PASSWORD}", "tlsCACert": "$__file{/etc/grafana/opensearch-ca/ca.crt}"})
    assert opensearch["jsonData"]["tlsAuthWithCACert"] is True and "dataLinks" not in opensearch["jsonData"]
    grafana = on.values("kube-prometheus-stack")["grafana"]
    plugin = "grafana-opensearch-datasource"
    assert grafana["plugins"] == [f"{plugin}@{versions.GRAFANA_PLUGINS[plugin]}"]
    assert grafana["envValueFrom"]["OPENSEARCH_PASSWORD"] == {"secretKeyRef": {"name": "opensearch-grafana",
                                                                               "key": "password"}}

    linked = datasources(opensearch_tracing)
    assert sorted(linked) == ["opensearch-logs", "tempo"]
    # One link per JSON key a trace id comes under (the plugin matches a field's exact name).
    assert linked["opensearch-logs"]["jsonData"]["dataLinks"] == [
        {"field": f"log_processed.{key}", "datasourceUid": "tempo", "url": "$${__value.raw}"}
        for key in ("trace_id", "traceId", "traceID", "otelTraceID")]

    # Terraform turns $$$ into $$, which Grafana's provisioning turns into the link variable ${__value.raw}.
    assert "$$${__value.raw}" in opensearch_tracing.releases()["kube-prometheus-stack"]["values"][0]

    loki = datasources(loki_tracing)
    assert sorted(loki) == ["loki", "tempo"]
    assert loki["loki"]["url"] == "http://loki.logging.svc:3100"
    assert loki["loki"]["jsonData"]["derivedFields"] == [
        {"name": "TraceID", "matcherRegex": TRACE_ID_REGEX, "datasourceUid": "tempo", "url": "$${__value.raw}"}]
    assert loki["tempo"]["url"] == "http://tempo.monitoring.svc:3200"
    assert loki["tempo"]["jsonData"]["tracesToLogsV2"] == {
        "datasourceUid": "loki", "filterByTraceID": True,
        # span attributes (the collector's k8sattributes) -> the labels Fluent Bit gives Loki streams
        "tags": [{"key": "k8s.namespace.name", "value": "namespace"}, {"key": "k8s.pod.name", "value": "pod"}]}
    loki_output = fluent_bit_outputs(loki_tracing.blueprint)
    assert "namespace=$kubernetes['namespace_name'], pod=$kubernetes['pod_name']" in loki_output
    assert "plugins" not in loki_tracing.values("kube-prometheus-stack")["grafana"]


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
# The forms a trace id takes in log lines: logfmt, JSON (OpenTelemetry's and others' keys), bracketed text, an
# environment-style key, OpenTelemetry's logging instrumentation (otelTraceID) and BentoML's access log (seed 003).
TRACE_LINES = [f"level=info trace_id={TRACE} msg=done", f'{{"traceId": "{TRACE}", "msg": "done"}}',
               f"INFO [traceID: {TRACE}] request served", f"TRACE_ID={TRACE}",
               f"2026-12-02 INFO otelTraceID={TRACE} otelSpanID=00f067aa0ba902b7 served",
               f'INFO [api_server] 10.0.0.7:51234 (scheme=http,method=POST,path=/generate,type=application/json,'
               f'length=52) (status=200,type=application/json,length=1024) 812.3ms (trace={TRACE},'
               f'span=00f067aa0ba902b7,sampled=1,service.name=llm_service)']
NOT_TRACES = ["request_id=4bf92f3577b34da6a3ce929d0e0e4736", "traceparent: 00-zz", "trace=short12"]


def test_trace_id_regex_finds_the_trace_id_in_common_log_formats():
    assert [re.search(TRACE_ID_REGEX, line)[1] for line in TRACE_LINES] == [TRACE] * len(TRACE_LINES)
    assert [re.search(TRACE_ID_REGEX, line) for line in NOT_TRACES] == [None] * len(NOT_TRACES)


def test_trace_id_regex_works_where_grafana_runs_it_in_javascript():
    """Grafana's Loki data source applies the derived field with `line.match(matcherRegex)` in the browser: the
    same lines through Node's RegExp (a `(?i)` flag, for one, is a SyntaxError there)."""
    script = ("const [re, lines] = JSON.parse(process.argv[1]);"
              "console.log(JSON.stringify(lines.map(l => { const m = l.match(re); return m ? m[1] : null; })));")
    out = subprocess.run(["node", "-e", script, json.dumps([TRACE_ID_REGEX, TRACE_LINES + NOT_TRACES])],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [TRACE] * len(TRACE_LINES) + [None] * len(NOT_TRACES)


# --- storage and retention --------------------------------------------------------------------------------------------

def test_volumes_are_gp3_and_sized_by_the_blueprint(on, loki_tracing):
    def claim(spec):
        return spec["storageClassName"], spec["resources"]["requests"]["storage"]

    prometheus = on.values("kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert (prometheus["retention"], prometheus["retentionSize"]) == ("15d", "90GB")
    assert claim(prometheus["storageSpec"]["volumeClaimTemplate"]["spec"]) == ("gp3", "100Gi")
    assert on.values("opensearch")["persistence"] == {"enabled": True, "storageClass": "gp3", "size": "100Gi"}

    sized = loki_tracing.values("kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert (sized["retention"], sized["retentionSize"]) == ("30d", "180GB")
    assert claim(sized["storageSpec"]["volumeClaimTemplate"]["spec"]) == ("gp3", "200Gi")
    # Their claims go with the StatefulSet when the release is uninstalled (kubernetes-layer audit S3).
    assert loki_tracing.values("loki")["singleBinary"]["persistence"] == {
        "enabled": True, "storageClass": "gp3", "size": "50Gi", "enableStatefulSetAutoDeletePVC": True,
        "whenDeleted": "Delete", "whenScaled": "Retain"}
    assert loki_tracing.values("tempo")["persistence"] == {"enabled": True, "storageClassName": "gp3", "size": "20Gi",
                                                           "enableStatefulSetAutoDeletePVC": True}
    alertmanager = loki_tracing.values("kube-prometheus-stack")["alertmanager"]["alertmanagerSpec"]["storage"]
    assert claim(alertmanager["volumeClaimTemplate"]["spec"]) == ("gp3", "10Gi")


# --- logs -------------------------------------------------------------------------------------------------------------

def fluent_bit_output(s):
    text = s.values("fluent-bit")["config"]["outputs"]
    return dict(line.split(None, 1) for line in text.splitlines()[1:])



def test_fluent_bit_ships_to_opensearch_over_verified_tls_with_its_own_generated_credential(on):
    out = fluent_bit_output(on)
    assert {k: out[k] for k in ("Name", "Host", "Port", "tls", "tls.verify", "tls.verify_hostname", "tls.ca_file",
                                "HTTP_User", "HTTP_Passwd")} == {
        "Name": "opensearch", "Host": OPENSEARCH_HOST, "Port": "9200", "tls": "On", "tls.verify": "On",
        "tls.verify_hostname": "On", "tls.ca_file": "/fluent-bit/tls/ca.crt",
        "HTTP_User": "${OPENSEARCH_USERNAME}", "HTTP_Passwd": "${OPENSEARCH_PASSWORD}"}
    values = on.values("fluent-bit")
    assert "verify Off" not in json.dumps(values)
    assert values["env"] == [
        {"name": "OPENSEARCH_USERNAME",
         "valueFrom": {"secretKeyRef": {"name": "opensearch-logs-writer", "key": "username"}}},
        {"name": "OPENSEARCH_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": "opensearch-logs-writer", "key": "password"}}}]
    ca_volume = [v for v in values["daemonSetVolumes"] if v["name"] == "opensearch-ca"]
    assert ca_volume == [{"name": "opensearch-ca", "secret": {"secretName": "opensearch-tls",
                                                              "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    assert {"name": "varlog", "hostPath": {"path": "/var/log"}} in values["daemonSetVolumes"]
    # The log panels' fields (contract datasources.logs.fields) come from the kubernetes filter, log kept.
    filters = values["config"]["filters"]
    assert re.search(r"Keep_Log\s+On", filters) and re.search(r"Name\s+kubernetes", filters)
    assert any(t.get("key") == "nvidia.com/gpu" for t in values["tolerations"])


def fluent_bit_sections(text):
    """A classic-mode Fluent Bit config as [(section, [(key, value), ...]), ...] (keys repeat: Systemd_Filter)."""
    sections = []
    for line in text.splitlines():
        if line.startswith("["):
            sections.append((line.strip("[]"), []))
        elif line.strip():
            key, value = line.split(None, 1)
            sections[-1][1].append((key, value))
    return sections


@pytest.mark.parametrize("backend", ["on", "loki_tracing"])
def test_fluent_bit_buffers_on_disk_resumes_where_it_stopped_and_reads_the_nodes_journal(backend, request):
    values = request.getfixturevalue(backend).values("fluent-bit")
    state = "/var/fluent-bit/state"
    assert {"name": "state", "hostPath": {"path": state, "type": "DirectoryOrCreate"}} in values["daemonSetVolumes"]
    assert {"name": "state", "mountPath": state} in values["daemonSetVolumeMounts"]  # writable
    config = values["config"]
    [(_, service)] = fluent_bit_sections(config["service"])
    service = dict(service)
    assert (service["storage.path"], service["HTTP_Server"], service["HTTP_Port"]) == (
        f"{state}/flb-storage/", "On", "{{ .Values.metricsPort }}")
    inputs = {dict(settings)["Name"]: (dict(settings), settings)
              for _, settings in fluent_bit_sections(config["inputs"])}
    assert sorted(inputs) == ["systemd", "tail"]
    for name, (settings, _) in inputs.items():
        # Positions survive a restart; chunks wait on disk while the backend is away.
        assert settings["DB"].startswith(f"{state}/") and settings["storage.type"] == "filesystem", name
    assert inputs["tail"][0]["multiline.parser"] == "docker, cri"
    journal = [v for k, v in inputs["systemd"][1] if k == "Systemd_Filter"]
    assert journal == ["_SYSTEMD_UNIT=kubelet.service", "_SYSTEMD_UNIT=containerd.service", "_TRANSPORT=kernel"]
    assert inputs["systemd"][0]["Systemd_Filter_Type"] == "Or"  # any of them, not all at once
    filters = [dict(settings) for _, settings in fluent_bit_sections(config["filters"])]
    assert [f["Name"] for f in filters] == ["multiline", "kubernetes"]  # tracebacks joined before parsing
    assert (filters[0]["multiline.key_content"], filters[0]["multiline.parser"]) == ("log", "python, go, java")
    [(_, output)] = fluent_bit_sections(config["outputs"])
    assert (dict(output)["storage.total_limit_size"], dict(output)["Retry_Limit"], dict(output)["Match"]) == (
        "2G", "False", "*")


def test_fluent_bit_ships_to_loki_when_loki_is_the_backend(loki_tracing):
    out = fluent_bit_output(loki_tracing)
    assert (out["Name"], out["Host"], out["Port"]) == ("loki", "loki.logging.svc", "3100")
    labels = dict(pair.strip().split("=", 1) for pair in out["Labels"].split(","))
    assert labels == {"job": "fluent-bit", "namespace": "$kubernetes['namespace_name']",
                      "pod": "$kubernetes['pod_name']", "container": "$kubernetes['container_name']"}
    assert set(CONTRACT["datasources"]["loki"]["labels"]) <= set(labels)  # what the dashboards' Loki panels select
    values = loki_tracing.values("fluent-bit")
    assert "env" not in values and "opensearch" not in json.dumps(values)
    loki = loki_tracing.values("loki")
    assert (loki["deploymentMode"], loki["singleBinary"]["replicas"], loki["loki"]["auth_enabled"]) == (
        "Monolithic", 1, False)


def test_opensearch_runs_with_security_on_its_own_tls_and_only_the_generated_admin(on):
    values = on.values("opensearch")
    assert values["securityConfig"] == {"enabled": True, "internalUsersSecret": "opensearch-admin"}
    assert {"name": "DISABLE_INSTALL_DEMO_CONFIG", "value": "true"} in values["extraEnvs"]
    config = yaml.safe_load(values["config"]["opensearch.yml"])
    assert config["plugins.security.ssl.http.enabled"] is True
    assert config["plugins.security.nodes_dn"] == [f"CN={OPENSEARCH_SERVICE}"]
    assert values["secretMounts"] == [{"name": "node-tls", "secretName": "opensearch-tls",
                                       "path": "/usr/share/opensearch/config/certs"}]
    certs = {o["metadata"]["name"]: o for o in on.objects("opensearch-access") if o["kind"] == "Certificate"}
    node = certs["opensearch-node"]["spec"]
    assert (node["secretName"], node["commonName"], node["privateKey"]["encoding"]) == (
        "opensearch-tls", OPENSEARCH_SERVICE, "PKCS8")  # the security plugin cannot read PKCS#1 keys
    assert OPENSEARCH_HOST in node["dnsNames"]  # the name Fluent Bit verifies
    assert certs["grafana-opensearch-client"]["metadata"]["namespace"] == "monitoring"
    admin = {o["metadata"]["name"]: o for o in on.objects("platform-secrets")}["opensearch-admin"]
    template = admin["spec"]["target"]["template"]["data"]
    assert sorted(template) == ["internal_users.yml", "password", "username"]
    users = yaml.safe_load(template["internal_users.yml"].replace("{{ .username }}", "admin")
                           .replace("{{ .password | bcrypt }}", "HASH"))
    assert users == {"_meta": {"type": "internalusers", "config_version": 2},
                     "admin": {"hash": "HASH", "reserved": True, "backend_roles": ["admin"]}}
    # Grafana reads with its own user (test_opensearch_users.py), not a copy of the admin's credential.
    assert [o for o in on.objects("opensearch-access") if o["kind"] == "ExternalSecret"] == []


# --- traces -----------------------------------------------------------------------------------------------------------

def test_tracing_adds_an_otlp_collector_in_front_of_tempo(loki_tracing, on):
    otel = loki_tracing.values("opentelemetry-collector")
    assert otel["mode"] == "deployment"
    assert otel["config"]["exporters"]["otlp/tempo"]["endpoint"] == "tempo.monitoring.svc:4317"
    assert otel["config"]["service"]["pipelines"]["traces"] == {
        "receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["otlp/tempo"]}
    # The chart's OTLP ports (otlp 4317, otlp-http 4318) stay on; only the Jaeger and Zipkin ports are switched off.
    assert sorted(otel["ports"]) == ["jaeger-compact", "jaeger-grpc", "jaeger-thrift", "zipkin"]
    assert {p["enabled"] for p in otel["ports"].values()} == {False}
    tempo = loki_tracing.values("tempo")["tempo"]["receivers"]
    assert tempo["jaeger"] is None
    assert tempo["otlp"]["protocols"] == {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}
    assert sorted(TRACING & set(on.releases())) == []
