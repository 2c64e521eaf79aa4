"""The FSx (YACE, CloudWatch) and EFA (node_exporter's EFA build) exporters of the GPU training dashboard: each on
only with the stack and its source (an FSx file system, an EFA pool), as the scrape contract says, least privilege."""

from __future__ import annotations

import json
import re

import yaml

from mlplat import versions
from mlplat.catalog.observability import YACE_CHART
from mlplat.nodepools import tolerations_for
from tests.observability_stack.test_stack import CONTRACT, monitors
from tests.support import k8s

CLOUDWATCH_ROLE = "mlplat-cloudwatch-exporter"
# YACE README "Authentication": the minimum for discovery jobs; AWS/FSx needs nothing service-specific.
YACE_ACTIONS = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
                "tag:GetResources"]


def cloudwatch_access(s):
    """The exporter's role (with its inline policies) and Pod Identity associations in `monitoring`."""
    roles = {k: r for k, r in s.resources("aws", "aws_iam_role").items() if r["name"] == CLOUDWATCH_ROLE}
    ref = {f"${{aws_iam_role.{k}.id}}" for k in roles}
    policies = [p for p in s.resources("aws", "aws_iam_role_policy").values() if p["role"] in ref]
    identities = [i for i in s.resources("aws", "aws_eks_pod_identity_association").values()
                  if i["namespace"] == "monitoring"]
    return roles, policies, identities


def yace_metric_name(namespace: str, metric: str, statistic: str) -> str:
    """How YACE names a CloudWatch series: aws_<service>_<metric in snake case>_<statistic>."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", metric).lower()
    return f"aws_{namespace.split('/')[1].lower()}_{snake}_{statistic.lower()}"


# --- YACE -------------------------------------------------------------------------------------------------------------

def test_yace_reads_fsx_sums_per_minute_with_a_pod_identity_role_that_may_only_read_metrics(on):
    bp = on.blueprint
    assert bp.enable_fsx, "the canonical blueprint is expected to enable FSx"
    release = on.releases()["yace"]
    pin = versions.CHARTS[YACE_CHART]
    assert (release["namespace"], release["chart"], release["repository"], release["version"]) == (
        "monitoring", pin.chart, pin.repository, pin.version)
    values = on.values("yace")
    config = yaml.safe_load(values["config"])
    assert config == {"apiVersion": "v1alpha1", "sts-region": bp.region, "discovery": {"jobs": [{
        "type": "AWS/FSx", "regions": [bp.region], "searchTags": [{"key": "Platform", "value": "^mlplat$"}],
        "metrics": [
            {"name": "DataReadBytes", "statistics": ["Sum"], "period": 60, "length": 300},
            {"name": "DataWriteBytes", "statistics": ["Sum"], "period": 60, "length": 300}]}]}}
    exported = sorted(yace_metric_name(job["type"], m["name"], stat) for job in config["discovery"]["jobs"]
                      for m in job["metrics"] for stat in m["statistics"])
    assert exported == sorted(CONTRACT["exporters"]["cloudwatch-fsx"]["metrics"])
    # Credentials only from Pod Identity: no static keys, no secret, no kube2iam role annotation.
    assert "aws" not in values and values["serviceMonitor"] == {"enabled": False}

    roles, policies, identities = cloudwatch_access(on)
    [trust] = [json.loads(r["assume_role_policy"]) for r in roles.values()]
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    conditions = statement["Condition"]["StringEquals"]
    assert (conditions["aws:RequestTag/kubernetes-namespace"], conditions["aws:RequestTag/kubernetes-service-account"]
            ) == ("monitoring", values["serviceAccount"]["name"])  # only YACE's service account may assume it
    assert [json.loads(p["policy"]) for p in policies] == [{"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadCloudWatchMetrics", "Effect": "Allow", "Action": YACE_ACTIONS, "Resource": "*"}]}]
    assert [(i["namespace"], i["service_account"], i["role_arn"]) for i in identities] == [
        ("monitoring", values["serviceAccount"]["name"], f"${{aws_iam_role.{next(iter(roles))}.arn}}")]
    assert values["serviceAccount"]["create"] is True


def test_yace_monitor_selects_the_charts_service_on_the_contracts_port(on):
    mon = monitors(on)["yace"]
    k8s.validate(mon)
    values = on.values("yace")
    # The chart's selector labels: app.kubernetes.io/name is the chart name (no nameOverride), instance the release.
    assert "nameOverride" not in values and "fullnameOverride" not in values
    assert mon["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": YACE_CHART,
                                                       "app.kubernetes.io/instance": "yace"}}
    assert mon["spec"]["namespaceSelector"] == {"matchNames": ["monitoring"]}
    contract = CONTRACT["exporters"]["cloudwatch-fsx"]
    assert (contract["job"], values["portName"], mon["spec"]["endpoints"][0]["port"]) == ("yace", contract["port"],
                                                                                          contract["port"])


def test_no_yace_and_no_cloudwatch_role_without_fsx_or_with_the_stack_off(efa, off):
    for case, s in {"fsx off": efa, "stack off": off}.items():
        assert "yace" not in s.releases(), case
        assert cloudwatch_access(s) == ({}, [], []), case
    assert "yace" not in monitors(efa)
    assert off.blueprint.enable_fsx and not efa.blueprint.enable_fsx


# --- EFA node exporter ------------------------------------------------------------------------------------------------

def test_efa_exporter_runs_the_efa_collector_only_on_efa_nodes(efa):
    objects = {o["kind"]: o for o in efa.objects("efa-node-exporter")}
    assert sorted(objects) == ["DaemonSet", "Service"]
    for obj in objects.values():
        k8s.validate(obj)
        assert obj["metadata"]["namespace"] == "monitoring"
    pod = objects["DaemonSet"]["spec"]["template"]
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"mlplat.io/efa": "true"}
    assert spec["tolerations"] == tolerations_for(efa.blueprint.efa_pools)
    assert sorted(t["key"] for t in spec["tolerations"]) == ["nvidia.com/gpu", "vpc.amazonaws.com/efa"]
    [container] = spec["containers"]
    assert container["image"] == versions.EFA_NODE_EXPORTER_IMAGE
    assert re.fullmatch(r"public\.ecr\.aws/hpc-cloud/efa-node-exporter:[\w.-]+", container["image"])
    assert "latest" not in container["image"]
    assert container["args"][:2] == ["--collector.disable-defaults", "--collector.amazonefa"]
    assert "--path.sysfs=/host/sys" in container["args"]
    assert container["volumeMounts"] == [{"name": "sys", "mountPath": "/host/sys", "readOnly": True}]
    contract = CONTRACT["exporters"]["efa-node-exporter"]
    service = objects["Service"]["spec"]
    assert [p["name"] for p in container["ports"]] == [contract["port"]]
    assert [(p["name"], p["targetPort"]) for p in service["ports"]] == [(contract["port"], contract["port"])]
    assert service["type"] == "ClusterIP"
    assert service["selector"].items() <= pod["metadata"]["labels"].items()

    mon = monitors(efa)["efa-node-exporter"]
    k8s.validate(mon)
    assert mon["spec"]["selector"]["matchLabels"].items() <= objects["Service"]["metadata"]["labels"].items()
    assert mon["spec"]["namespaceSelector"] == {"matchNames": ["monitoring"]}


def test_no_efa_exporter_without_an_efa_pool_or_with_the_stack_off(on, efa_stack_off):
    assert not on.blueprint.efa_pools and efa_stack_off.blueprint.efa_pools
    assert "efa-node-exporter" not in on.releases()
    assert "efa-node-exporter" not in monitors(on)
    assert "efa-node-exporter" not in efa_stack_off.releases()
    assert "monitoring-objects" not in efa_stack_off.releases()
    assert cloudwatch_access(efa_stack_off) == ({}, [], [])
