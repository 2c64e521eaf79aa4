"""One regression test per item of ../shared/audits/aws-layer.md (the real-AWS review of the AWS layer), named after
it. Each asserts the behaviour the audit found missing, so reverting the fix fails the test."""

from __future__ import annotations

import json
from datetime import date

import pytest

from mlplat import versions
from mlplat.catalog.core import karpenter_values
from mlplat.errors import BlueprintError
from tests.audit.support import (
    address,
    one,
    plan_errors,
    plan_on_emulator,
    planned_changes,
    ref,
    resources,
    statements,
)
from tests.support.synth import blueprint_text, synth

CLUSTER = "mlplat"


@pytest.fixture(scope="module")
def canonical():
    return synth()


@pytest.fixture(scope="module")
def everything():
    from tests.support.paths import ROOT

    return synth(text=(ROOT / "blueprints" / "everything-on.tfvars").read_text())


def values(s, release: str) -> dict:
    return s.values(release)


# --- 1. Karpenter's region --------------------------------------------------------------------------------------------

def test_aws_audit_01_karpenter_gets_its_region_without_imds(canonical):
    karpenter = values(canonical, "karpenter")
    assert karpenter["controller"]["env"] == [{"name": "AWS_REGION", "value": "us-west-2"}]
    # IMDS stays unreachable from pods: hop limit 1 on the system nodes Karpenter runs on.
    template = one(canonical, "aws_launch_template", "eks/system-template")
    assert template["metadata_options"] == {"http_endpoint": "enabled", "http_put_response_hop_limit": 1,
                                            "http_tokens": "required"}
    assert karpenter["nodeSelector"] == {"mlplat.io/pool": "system"}


def test_aws_audit_01_region_follows_the_blueprint():
    s = synth({"region": "eu-west-1", "availability_zones_count": 2})
    assert values(s, "karpenter")["controller"]["env"] == [{"name": "AWS_REGION", "value": "eu-west-1"}]


# --- 2. instance profiles are created on request tags ----------------------------------------------------------------

def test_aws_audit_02_instance_profile_create(canonical):
    policies = {name.split("/")[-1]: statements(p["policy"])
                for name, p in resources(canonical, "aws_iam_policy").items() if name.startswith("karpenter/")}
    iam = {st["Sid"]: st for st in policies["controller-KarpenterControllerIAMIntegrationPolicy"]}
    create = iam["AllowScopedInstanceProfileCreationActions"]
    assert create["Action"] == ["iam:CreateInstanceProfile"]
    # A profile being created has no tags yet: only request tags can be conditioned on.
    assert set(create["Condition"]["StringEquals"]) == {
        f"aws:RequestTag/kubernetes.io/cluster/{CLUSTER}", "aws:RequestTag/eks:eks-cluster-name",
        "aws:RequestTag/topology.kubernetes.io/region"}
    assert create["Condition"]["StringLike"] == {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}
    assert not any(k.startswith("aws:ResourceTag") for op in create["Condition"].values() for k in op)
    for sid, st in iam.items():
        if sid != "AllowScopedInstanceProfileCreationActions":
            assert "iam:CreateInstanceProfile" not in st["Action"], sid


# --- 3. creator admin ------------------------------------------------------------------------------------------------

def test_aws_audit_03_no_bootstrap_admin_and_one_deduplicated_entry_set(canonical):
    cluster = one(canonical, "aws_eks_cluster", "eks/cluster")
    assert cluster["access_config"]["bootstrap_cluster_creator_admin_permissions"] is False
    entry = one(canonical, "aws_eks_access_entry", "eks/admin")
    creator = address(canonical, "aws_iam_session_context", "eks/creator", block="data")
    assert entry["for_each"] == f"${{toset(toset([{creator}.issuer_arn]))}}"
    assert entry["principal_arn"] == "${each.value}"
    caller = address(canonical, "aws_caller_identity", "eks/caller", block="data")
    assert canonical.aws["data"]["aws_iam_session_context"][creator.split(".")[-1]]["arn"] == f"${{{caller}.arn}}"


def test_aws_audit_03_admins_without_creator_when_turned_off():
    s = synth({"enable_cluster_creator_admin_permissions": False,
               "admin_principal_arns": ["arn:aws:iam::123456789012:role/Admin"]})
    entry = one(s, "aws_eks_access_entry", "eks/admin")
    assert entry["for_each"] == '${toset(toset(["arn:aws:iam::123456789012:role/Admin"]))}'
    assert "aws_iam_session_context" not in s.aws.get("data", {})


def test_aws_audit_03_deployer_listed_as_admin_gets_one_entry_on_the_emulator(tmp_path):
    """The emulator's caller is arn:aws:iam::123456789012:user/moto; listing it too must plan one entry, not two
    (EKS answers the second with 409 ResourceInUseException, and so does the emulator)."""
    s = synth({"admin_principal_arns": ["arn:aws:iam::123456789012:user/moto",
                                        "arn:aws:iam::123456789012:role/Admin"]})
    proc = plan_on_emulator(s, tmp_path)
    assert plan_errors(proc) == []
    entries = sorted(a for a in planned_changes(proc) if a.startswith("aws_eks_access_entry.eks_admin"))
    assert entries == ['aws_eks_access_entry.eks_admin_A91ECF10["arn:aws:iam::123456789012:role/Admin"]',
                       'aws_eks_access_entry.eks_admin_A91ECF10["arn:aws:iam::123456789012:user/moto"]']


# --- 4. EKS versions -------------------------------------------------------------------------------------------------

def test_aws_audit_04_default_is_the_newest_in_standard_support():
    today = date(2026, 11, 30)
    standard = [m for m in versions.EKS_CALENDAR if versions.eks_support(m, today) == "standard"]
    assert versions.EKS_DEFAULT_VERSION == max(standard, key=lambda m: tuple(map(int, m.split("."))))
    assert synth().blueprint.eks_cluster_version == versions.EKS_DEFAULT_VERSION


@pytest.mark.parametrize(("minor", "expected"), [
    ("1.31", "test.tfvars:1: eks_cluster_version: EKS no longer creates or runs clusters on 1.31: its extended "
             "support ended on 2026-11-26; use '1.36' (or one of '1.32', '1.33', '1.34', '1.35', '1.36')"),
    ("1.29", "test.tfvars:1: eks_cluster_version: expected one of '1.32', '1.33', '1.34', '1.35', '1.36', got "
             "'1.29' (this mlplat release records no EKS support dates or pins for it)"),
])
def test_aws_audit_04_versions_eks_no_longer_creates_are_refused(minor, expected, monkeypatch):
    from mlplat.blueprint import parse_text

    monkeypatch.setenv("MLPLAT_TODAY", "2026-11-30")
    with pytest.raises(BlueprintError) as err:
        parse_text(f'eks_cluster_version = "{minor}"\n', "test.tfvars")
    assert err.value.problems == [expected]


def test_aws_audit_04_extended_support_warns_with_the_price(monkeypatch, tmp_path):
    from mlplat.blueprint import load

    monkeypatch.setenv("MLPLAT_TODAY", "2026-11-30")
    path = tmp_path / "old.tfvars"
    path.write_text('name = "old"\neks_cluster_version = "1.33"\n')
    assert load(path).warnings() == [
        f"{path}:2: eks_cluster_version: warning: 1.33 is in EKS extended support (standard support ended on "
        "2026-07-29): the control plane costs $0.60 instead of $0.10 per hour (6x), and EKS upgrades it on "
        "2027-07-29; use '1.36'"]
    path.write_text('name = "new"\neks_cluster_version = "1.36"\n')
    assert load(path).warnings() == []


def test_aws_audit_04_every_offered_version_has_its_pins():
    offered = versions.eks_versions_offered(date(2026, 11, 30))
    assert offered == ("1.32", "1.33", "1.34", "1.35", "1.36")
    for minor in offered:
        assert minor in versions.AL2023_AMI_RELEASES[versions.AL2023_AMI_RELEASE], minor
        assert minor in versions.BOTTLEROCKET_RELEASES[versions.BOTTLEROCKET_RELEASE], minor
        assert minor in versions.KUBE_SCHEDULER_TAGS, minor


# --- 5. zones --------------------------------------------------------------------------------------------------------

def test_aws_audit_05_zones_come_from_the_account(canonical):
    subnets = resources(canonical, "aws_subnet")
    zones = {path: s["availability_zone"] for path, s in subnets.items()}
    data = address(canonical, "aws_availability_zones", "network/zones", block="data") + ".names"
    assert zones == {"network/private-0": f"${{element({data}, 0)}}", "network/private-1": f"${{element({data}, 1)}}",
                     "network/public-0": f"${{element({data}, 0)}}", "network/public-1": f"${{element({data}, 1)}}"}
    zone_data = list(canonical.aws["data"]["aws_availability_zones"].values())[0]
    assert (zone_data["state"], zone_data["filter"]) == (
        "available", [{"name": "opt-in-status", "values": ["opt-in-not-required"]}])


def test_aws_audit_05_zone_ids_and_names_are_accepted_and_checked_offline():
    from mlplat.blueprint import parse_text

    bp = parse_text('azs = ["usw2-az1", "usw2-az3"]\nneuron_az = "usw2-az3"\n'
                    'nodepools = { neuron = { enabled = true } }\n', "z.tfvars")
    assert bp.azs == ("usw2-az1", "usw2-az3")
    with pytest.raises(BlueprintError) as err:
        parse_text('azs = ["us-west-2a", "us-west-2z", "use1-az1"]\n', "z.tfvars")
    assert err.value.problems == [
        "z.tfvars:1: azs[1]: us-west-2 has no zone 'us-west-2z'; its zones are us-west-2a, us-west-2b, us-west-2c, "
        "us-west-2d",
        "z.tfvars:1: azs[2]: expected a zone ID of region 'us-west-2' (such as 'usw2-az1'), got 'use1-az1'"]


def test_aws_audit_05_a_zone_the_account_lacks_stops_the_plan(tmp_path):
    """us-west-1 has two zones per account whose letters differ by account: 'c' passes offline, the plan refuses it."""
    s = synth({"region": "us-west-1", "azs": ["us-west-1a", "us-west-1c"], "enable_fsx": False})
    proc = plan_on_emulator(s, tmp_path)
    errors = plan_errors(proc)
    assert proc.returncode == 1 and len(errors) == 1, proc.stdout[-3000:]
    assert errors[0].startswith("Resource precondition failed: azs: us-west-1a, us-west-1c must all be availability "
                                "zones this account can use in us-west-1; its zones are us-west-1a, us-west-1b (IDs ")


# --- 6. EFA egress ---------------------------------------------------------------------------------------------------

def test_aws_audit_06_node_group_allows_egress_to_itself_for_efa(canonical):
    node_sg = ref(canonical, "aws_security_group", "eks/node-sg", "id")
    egress = {p: r for p, r in resources(canonical, "aws_vpc_security_group_egress_rule").items()
              if r["security_group_id"] == node_sg}
    assert {p: (r.get("referenced_security_group_id"), r.get("cidr_ipv4"), r["ip_protocol"]) for p, r in
            egress.items()} == {"eks/node-to-node-egress": (node_sg, None, "-1"),
                                "eks/node-egress": (None, "0.0.0.0/0", "-1")}


# --- 7. Spot service-linked role -------------------------------------------------------------------------------------

def test_aws_audit_07_spot_service_linked_role_is_an_explicit_opt_in(canonical):
    assert "aws_iam_service_linked_role" not in canonical.aws["resource"]
    s = synth({"create_spot_service_linked_role": True})
    assert [r["aws_service_name"] for r in resources(s, "aws_iam_service_linked_role").values()] == [
        "spot.amazonaws.com"]
    with pytest.raises(BlueprintError) as err:
        synth({"create_spot_service_linked_role": True, "nodepools": {"gpu": {"enabled": False}}})
    assert err.value.problems[-1].endswith(
        "create_spot_service_linked_role: no enabled pool allows spot capacity, so nothing needs the role; remove "
        "this key or add 'spot' to a pool's capacity_types")


# --- 8. policy and rules lag v1.14 (full conformance in tests/foundation/test_karpenter_upstream.py) -----------------

def test_aws_audit_08_instance_status_and_capacity_reservation_interruptions(canonical):
    discovery = {st["Sid"]: st for p in resources(canonical, "aws_iam_policy").values()
                 for st in statements(p["policy"])}
    assert "ec2:DescribeInstanceStatus" in discovery["AllowRegionalReadActions"]["Action"]
    assert f"arn:${{data.aws_partition.partition.partition}}:ec2:us-west-2:*:placement-group/*" in \
        discovery["AllowScopedEC2InstanceAccessActions"]["Resource"]
    rules = {json.loads(r["event_pattern"])["detail-type"][0] for r in resources(canonical, "aws_cloudwatch_event_rule")
             .values()}
    assert "EC2 Capacity Reservation Instance Interruption Warning" in rules


# --- 9. FSx security group -------------------------------------------------------------------------------------------

def test_aws_audit_09_lustre_servers_reach_their_clients(canonical):
    fsx_sg = ref(canonical, "aws_security_group", "fsx/sg", "id")
    node_sg = ref(canonical, "aws_security_group", "eks/node-sg", "id")
    egress = [(r["referenced_security_group_id"], r["ip_protocol"], r.get("from_port"), r.get("to_port"))
              for r in resources(canonical, "aws_vpc_security_group_egress_rule").values()
              if r["security_group_id"] == fsx_sg]
    assert sorted(egress, key=str) == sorted([(node_sg, "tcp", 988, 988), (node_sg, "tcp", 1018, 1023),
                                              (fsx_sg, "-1", None, None)], key=str)
    node_ingress = [(r["from_port"], r["to_port"]) for r in resources(canonical, "aws_vpc_security_group_ingress_rule")
                    .values() if r["security_group_id"] == node_sg and r["referenced_security_group_id"] == fsx_sg]
    assert sorted(node_ingress) == [(988, 988), (1018, 1023)]


# --- 10. IAM ordering around the cluster and the node group ----------------------------------------------------------

def test_aws_audit_10_role_policies_outlive_the_cluster_and_nodes(canonical):
    cluster = one(canonical, "aws_eks_cluster", "eks/cluster")
    assert address(canonical, "aws_iam_role_policy_attachment", "eks/cluster-policy") in cluster["depends_on"]
    group = one(canonical, "aws_eks_node_group", "eks/system")
    for pol in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"):
        assert address(canonical, "aws_iam_role_policy_attachment", f"eks/system-node-{pol}") in group["depends_on"]
    cni = one(canonical, "aws_eks_addon", "eks/addon-vpc-cni")
    assert address(canonical, "aws_iam_role_policy_attachment", "eks/vpc-cni-AmazonEKS_CNI_Policy") in \
        cni["depends_on"]
    assert address(canonical, "aws_eks_addon", "eks/addon-vpc-cni") in group["depends_on"]


# --- 11. destroy and redeploy -----------------------------------------------------------------------------------------

def test_aws_audit_11_buckets_are_emptied_on_destroy_only_when_asked(canonical):
    assert one(canonical, "aws_s3_bucket", "fsx-bucket/bucket")["force_destroy"] is False
    s = synth({"empty_buckets_on_destroy": True, "enable_mlflow": True})
    assert {p: b["force_destroy"] for p, b in resources(s, "aws_s3_bucket").items()} == {
        "fsx-bucket/bucket": True, "mlflow/artifacts/bucket": True}
    rule = one(canonical, "aws_s3_bucket_lifecycle_configuration", "fsx-bucket/lifecycle")["rule"]
    assert rule == [{"id": "expire-old-versions", "status": "Enabled", "filter": [{"prefix": ""}],
                     "noncurrent_version_expiration": [{"noncurrent_days": 30}],
                     "abort_incomplete_multipart_upload": [{"days_after_initiation": 7}]}]


def test_aws_audit_11_final_snapshot_name_is_unique_per_cluster():
    db = one(synth({"enable_mlflow": True}), "aws_rds_cluster", "mlflow/db")
    assert db["final_snapshot_identifier"] == 'mlplat-mlflow-final-${formatdate("YYYYMMDDhhmmss", timestamp())}'
    assert db["lifecycle"]["ignore_changes"] == ["engine_version", "final_snapshot_identifier"]
    assert db["skip_final_snapshot"] is False


def test_aws_audit_11_secret_names_are_fresh_per_deployment(everything):
    secrets = resources(everything, "aws_secretsmanager_secret")
    assert {p: (s.get("name"), s["name_prefix"], s["recovery_window_in_days"]) for p, s in secrets.items()} == {
        f"secret-{purpose}/secret": (None, f"everything/{purpose}-", 7)
        for purpose in ("grafana-admin", "opensearch-admin", "opensearch-logs-writer", "opensearch-logs-reader",
                        "opensearch-dashboards",
                        "argocd-admin", "mlflow-admin", "mlflow-db", "mlflow-flask", "jupyterhub-admin",
                        "jupyterhub-users", "slurm-db", "airflow-db", "airflow-admin")}
    # External Secrets looks them up by the name terraform chose (the AWS layer's output of the secret's name).
    outputs = everything.aws["output"]
    for obj in everything.objects("platform-secrets"):
        if obj["kind"] != "ExternalSecret":
            continue
        key = obj["spec"]["dataFrom"][0]["extract"]["key"]
        output = key.split(".outputs.")[1][:-1]
        assert key.startswith("${data.terraform_remote_state.cross-stack-reference-input-everything-aws.")
        assert outputs[output]["value"].endswith(".name}"), obj["metadata"]["name"]
        assert outputs[output]["value"].startswith("${aws_secretsmanager_secret."), obj["metadata"]["name"]


def test_aws_audit_11_karpenter_capacity_and_statefulset_volumes_go_before_the_cluster(everything):
    # Everything on Karpenter capacity depends on the node pools (destroyed first, they drain nodes empty) ...
    releases = everything.releases()
    nodepools = next(k for k, r in everything.resources("kubernetes", "helm_release").items()
                     if r["name"] == "karpenter-nodepools")
    for name in ("kube-prometheus-stack", "opensearch", "mlflow", "opencost"):
        assert f"helm_release.{nodepools}" in releases[name]["depends_on"], name
    # ... and the StatefulSets' claims go with them.
    kps = everything.values("kube-prometheus-stack")
    retention = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert kps["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"] == retention
    assert kps["alertmanager"]["alertmanagerSpec"]["persistentVolumeClaimRetentionPolicy"] == retention


# --- 12. add-ons and the system node group follow the cluster version -------------------------------------------------

def test_aws_audit_12_addons_and_system_nodes_follow_the_cluster_version(canonical):
    version = ref(canonical, "aws_eks_cluster", "eks/cluster", "version")
    assert one(canonical, "aws_eks_node_group", "eks/system")["version"] == version
    addons = resources(canonical, "aws_eks_addon")
    lookups = {p.split("/")[1]: d for p, d in
               ((i["//"]["metadata"]["path"].split("/", 1)[1], i) for i in
                canonical.aws["data"]["aws_eks_addon_version"].values())}
    for path, addon in addons.items():
        name = addon["addon_name"]
        assert lookups[f"{name}-version"]["kubernetes_version"] == version, name
        assert addon["addon_version"].startswith("${data.aws_eks_addon_version."), name


# --- 13-14. least privilege for Pod Identity roles ---------------------------------------------------------------------

def test_aws_audit_13_fsx_csi_controller_has_no_role(canonical):
    addon = one(canonical, "aws_eks_addon", "eks/addon-aws-fsx-csi-driver")
    assert "pod_identity_association" not in addon
    assert not any("fsx" in p for p in resources(canonical, "aws_iam_role"))


def test_aws_audit_14_pod_identity_roles_trust_one_cluster_namespace_and_service_account(everything):
    roles = resources(everything, "aws_iam_role")
    pod_roles = {}
    for path, role in roles.items():
        [st] = statements(role["assume_role_policy"])
        if st["Principal"] == {"Service": "pods.eks.amazonaws.com"}:
            pod_roles[path] = st["Condition"]["StringEquals"]
    partition, account = "${data.aws_partition.partition.partition}", "${data.aws_caller_identity.account.account_id}"
    cluster = f"arn:{partition}:eks:us-west-2:{account}:cluster/everything"
    assert {p: (c["aws:RequestTag/kubernetes-namespace"], c["aws:RequestTag/kubernetes-service-account"])
            for p, c in pod_roles.items()} == {
        "karpenter/controller-role": ("kube-system", "karpenter"),
        "eks/vpc-cni-role": ("kube-system", "aws-node"),
        "eks/aws-ebs-csi-driver-role": ("kube-system", "ebs-csi-controller-sa"),
        "eks/aws-efs-csi-driver-role": ("kube-system", "efs-csi-controller-sa"),
        "secret-reader/role": ("external-secrets", "external-secrets"),
        "mlflow/role": ("mlflow", "mlflow"),
        "cloudwatch-reader/role": ("monitoring", "yace"),
        "ack-sagemaker/controller/role": ("ack-system", "ack-sagemaker-controller"),
        # One log role for Airflow's five components, each its own service account (the chart's RBAC differs per
        # component: only the scheduler launches task pods), all in the one namespace.
        "airflow/role": ("airflow", ["airflow-api-server", "airflow-dag-processor", "airflow-scheduler",
                                     "airflow-triggerer", "airflow-worker"]),
    }
    assert {c["aws:RequestTag/eks-cluster-arn"] for c in pod_roles.values()} == {cluster}


# --- 15. security baseline ---------------------------------------------------------------------------------------------

def test_aws_audit_15_key_policy_log_encryption_flow_logs_default_sg(canonical):
    key = one(canonical, "aws_kms_key", "kms/key")
    sids = {st["Sid"]: st for st in statements(key["policy"])}
    assert sorted(sids) == ["AccountAdministersThroughIam", "CloudWatchLogsForPlatformLogGroups"]
    logs = sids["CloudWatchLogsForPlatformLogGroups"]
    assert logs["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    assert [a.split(":log-group:")[1] for a in logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]] == [
        "/aws/eks/mlplat/*", "/aws/vpc/mlplat/*"]
    key_arn = ref(canonical, "aws_kms_key", "kms/key", "arn")
    groups = resources(canonical, "aws_cloudwatch_log_group")
    assert {p: g["kms_key_id"] for p, g in groups.items()} == {"eks/logs": key_arn, "network/flow-logs": key_arn}
    flow = one(canonical, "aws_flow_log", "network/flow-log")
    assert (flow["traffic_type"], flow["log_destination"]) == (
        "ALL", ref(canonical, "aws_cloudwatch_log_group", "network/flow-logs", "arn"))
    default_sg = one(canonical, "aws_default_security_group", "network/default-sg")
    assert "ingress" not in default_sg and "egress" not in default_sg


def test_aws_audit_15_flow_logs_toggle_off_creates_nothing():
    s = synth({"enable_vpc_flow_logs": False})
    assert "aws_flow_log" not in s.aws["resource"]
    assert list(resources(s, "aws_cloudwatch_log_group")) == ["eks/logs"]


# --- 16. portability -------------------------------------------------------------------------------------------------

def test_aws_audit_16_arns_follow_the_partition_and_the_provider_is_pinned(canonical):
    text = json.dumps(canonical.aws["resource"])
    assert "arn:aws:" not in text
    assert canonical.aws["terraform"]["required_providers"]["aws"]["version"] == "~> 5.100.0"
    node_sg = one(canonical, "aws_security_group", "eks/node-sg")
    assert node_sg["tags"]["kubernetes.io/cluster/mlplat"] == "owned"
    template = one(canonical, "aws_launch_template", "eks/system-template")
    assert [t["resource_type"] for t in template["tag_specifications"]] == ["instance", "volume", "network-interface"]
    assert template["tag_specifications"][0]["tags"] == {"Platform": "mlplat", "ManagedBy": "mlplat",
                                                         "Name": "mlplat-system"}


def test_aws_audit_16_public_subnets_fit_a_load_balancer():
    from modules.network import subnet_cidrs

    private, public = subnet_cidrs("10.0.0.0/20", 3)
    assert private == ["10.0.0.0/23", "10.0.2.0/23", "10.0.4.0/23"]
    assert public == ["10.0.15.160/27", "10.0.15.192/27", "10.0.15.224/27"]
