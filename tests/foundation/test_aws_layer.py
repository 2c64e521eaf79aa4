"""The synthesized AWS layer, asserted as dicts: canonical blueprint plus small deltas, every toggle on and off."""

from __future__ import annotations

import json

import pytest

from mlplat import versions
from tests.support.synth import synth


def one(s, rtype):
    found = list(s.resources("aws", rtype).values())
    assert len(found) == 1, f"expected one {rtype}, found {len(found)}"
    return found[0]


def strip_meta(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "//"}


@pytest.fixture(scope="module")
def canonical():
    return synth()


def test_only_the_aws_provider_with_a_constraint_admitting_5_100(canonical):
    assert set(canonical.aws["provider"]) == {"aws"}
    assert canonical.aws["terraform"]["required_providers"] == {
        "aws": {"source": "hashicorp/aws", "version": versions.AWS_PROVIDER_CONSTRAINT}}
    assert canonical.aws["terraform"]["required_version"] == ">= 1.11.0"
    assert canonical.aws["provider"]["aws"][0]["default_tags"] == [{"tags": {"ManagedBy": "mlplat", "Platform": "mlplat"}}]


def test_vpc_spans_the_azs_with_private_and_public_subnets(canonical):
    subnets = [strip_meta(s) for s in canonical.resources("aws", "aws_subnet").values()]
    zone = "${element(data.aws_availability_zones.network_zones_2241F3F0.names, %d)}"
    by_name = {s["tags"]["Name"]: (s["availability_zone"], s["cidr_block"]) for s in subnets}
    assert by_name == {
        "mlplat-private-0": (zone % 0, "10.1.0.0/19"),
        "mlplat-private-1": (zone % 1, "10.1.32.0/19"),
        "mlplat-public-0": (zone % 0, "10.1.254.0/24"),
        "mlplat-public-1": (zone % 1, "10.1.255.0/24"),
    }
    private = [s for s in subnets if "private" in s["tags"]["Name"]]
    assert all(s["tags"]["karpenter.sh/discovery"] == "mlplat" for s in private)
    assert all(s["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in private)
    assert not any(s.get("map_public_ip_on_launch") for s in subnets)
    endpoint = one(canonical, "aws_vpc_endpoint")
    assert (endpoint["service_name"], endpoint["vpc_endpoint_type"]) == ("com.amazonaws.us-west-2.s3", "Gateway")
    assert len(endpoint["route_table_ids"]) == 2


@pytest.mark.parametrize(("single", "nats"), [(True, 1), (False, 3)])
def test_nat_gateways_single_or_per_az(single, nats):
    s = synth({"single_nat_gateway": single, "availability_zones_count": 3})
    assert len(s.resources("aws", "aws_nat_gateway")) == nats
    assert len(s.resources("aws", "aws_eip")) == nats


def test_accelerator_az_tags_are_true_on_exactly_that_private_subnet():
    s = synth({"azs": ["us-west-2a", "us-west-2b", "usw2-az3"], "neuron_az": "usw2-az3", "cuda_efa_az": "us-west-2b",
               "nodepools": {"neuron": {"enabled": True}, "gpu-efa": {"enabled": True}}})
    tagged = {sub["tags"]["Name"]: {k: v for k, v in sub["tags"].items() if k.endswith("-az")}
              for sub in s.resources("aws", "aws_subnet").values()}
    az3 = ("element(data.aws_availability_zones.network_zones_2241F3F0.names, "
           "index(data.aws_availability_zones.network_zones_2241F3F0.zone_ids, \"usw2-az3\"))")
    same = '${(%s == %s) ? \"true\" : \"false\"}'
    assert {k: v for k, v in tagged.items() if v} == {
        "mlplat-private-0": {"mlplat.io/neuron-az": same % ('\"us-west-2a\"', az3),
                             "mlplat.io/cuda-efa-az": same % ('\"us-west-2a\"', '\"us-west-2b\"')},
        "mlplat-private-1": {"mlplat.io/neuron-az": same % ('\"us-west-2b\"', az3),
                             "mlplat.io/cuda-efa-az": same % ('\"us-west-2b\"', '\"us-west-2b\"')},
        "mlplat-private-2": {"mlplat.io/neuron-az": same % (az3, az3),
                             "mlplat.io/cuda-efa-az": same % (az3, '\"us-west-2b\"')},
    }


def test_eks_control_plane_is_private_encrypted_logged_and_api_authenticated(canonical):
    cluster = strip_meta(one(canonical, "aws_eks_cluster"))
    assert cluster["access_config"] == {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False}
    assert cluster["encryption_config"]["resources"] == ["secrets"]
    assert cluster["encryption_config"]["provider"]["key_arn"].startswith("${aws_kms_key.")
    assert cluster["enabled_cluster_log_types"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert cluster["vpc_config"]["endpoint_private_access"] is True
    assert cluster["vpc_config"]["endpoint_public_access"] is False
    assert "public_access_cidrs" not in cluster["vpc_config"]
    assert cluster["version"] == "1.36"
    assert one(canonical, "aws_kms_key")["enable_key_rotation"] is True


def test_public_endpoint_only_for_the_listed_cidrs_and_admins_get_access_entries():
    s = synth({"cluster_endpoint_public_access_cidrs": ["203.0.113.0/24"],
               "admin_principal_arns": ["arn:aws:iam::123456789012:role/Admin"]})
    vpc_config = one(s, "aws_eks_cluster")["vpc_config"]
    assert (vpc_config["endpoint_public_access"], vpc_config["public_access_cidrs"]) == (True, ["203.0.113.0/24"])
    entries = [strip_meta(e) for e in s.resources("aws", "aws_eks_access_entry").values()]
    admins = ('${toset(toset(["arn:aws:iam::123456789012:role/Admin", '
              'data.aws_iam_session_context.eks_creator_D793D273.issuer_arn]))}')
    assert {"cluster_name": "${aws_eks_cluster.eks_cluster_55B0C966.name}", "for_each": admins,
            "principal_arn": "${each.value}", "type": "STANDARD"} in entries
    assoc = strip_meta(one(s, "aws_eks_access_policy_association"))
    assert (assoc["for_each"], assoc["principal_arn"]) == (admins, "${each.value}")
    assert assoc["policy_arn"] == ("arn:${data.aws_partition.partition.partition}:eks::aws:cluster-access-policy/"
                                   "AmazonEKSClusterAdminPolicy")
    assert assoc["access_scope"] == {"type": "cluster"}


def test_system_node_group_is_tainted_with_imdsv2_and_encrypted_disks(canonical):
    group = one(canonical, "aws_eks_node_group")
    assert group["taint"] == [{"effect": "NO_SCHEDULE", "key": "CriticalAddonsOnly", "value": "true"}]
    assert group["scaling_config"] == {"desired_size": 2, "max_size": 4, "min_size": 2}
    assert group["labels"] == {"mlplat.io/pool": "system"}
    template = one(canonical, "aws_launch_template")
    assert template["metadata_options"] == {"http_endpoint": "enabled", "http_put_response_hop_limit": 1,
                                            "http_tokens": "required"}
    assert template["block_device_mappings"][0]["ebs"]["encrypted"] == "true"


def addons(s) -> dict[str, dict]:
    return {a["addon_name"]: a for a in s.resources("aws", "aws_eks_addon").values()}


def test_managed_addons_with_pod_identity_roles(canonical):
    found = addons(canonical)
    assert set(found) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver",
                          "aws-efs-csi-driver", "aws-fsx-csi-driver"}
    identities = {n: a["pod_identity_association"][0]["service_account"] for n, a in found.items()
                  if a.get("pod_identity_association")}
    # The FSx driver only mounts a static volume here, which needs no AWS API: no role (aws-layer audit item 13).
    assert identities == {"vpc-cni": "aws-node", "aws-ebs-csi-driver": "ebs-csi-controller-sa",
                          "aws-efs-csi-driver": "efs-csi-controller-sa"}
    roles = {r["name"]: json.loads(r["assume_role_policy"]) for r in canonical.resources("aws", "aws_iam_role").values()}
    assert roles["mlplat-aws-ebs-csi-driver"]["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_karpenter_aws_side(canonical):
    queue = one(canonical, "aws_sqs_queue")
    assert (queue["name"], queue["sqs_managed_sse_enabled"]) == ("mlplat-karpenter", True)
    patterns = sorted(json.loads(r["event_pattern"])["detail-type"][0]
                      for r in canonical.resources("aws", "aws_cloudwatch_event_rule").values())
    assert patterns == ["AWS Health Event", "EC2 Capacity Reservation Instance Interruption Warning",
                        "EC2 Instance Rebalance Recommendation", "EC2 Instance State-change Notification",
                        "EC2 Spot Instance Interruption Warning"]
    identity = strip_meta(one(canonical, "aws_eks_pod_identity_association"))
    assert (identity["namespace"], identity["service_account"]) == ("kube-system", "karpenter")
    node_entry = [e for e in canonical.resources("aws", "aws_eks_access_entry").values() if e["type"] == "EC2_LINUX"]
    assert len(node_entry) == 1
    # The controller policies themselves are compared with upstream in test_karpenter_upstream.py.
    statements = [st for p in canonical.resources("aws", "aws_iam_policy").values()
                  for st in json.loads(p["policy"])["Statement"]]
    sids = {st["Sid"] for st in statements}
    assert {"AllowPassingInstanceRole", "AllowInterruptionQueueActions", "AllowScopedDeletion",
            "AllowAPIServerEndpointDiscovery"} <= sids
    assert all(st["Resource"] != "*" for st in statements
               if st["Sid"] in ("AllowScopedDeletion", "AllowPassingInstanceRole"))


def test_efs_toggle():
    on, off = synth(), synth({"enable_efs": False})
    fs = one(on, "aws_efs_file_system")
    assert (fs["encrypted"], fs["throughput_mode"]) == (True, "elastic")
    assert len(on.resources("aws", "aws_efs_mount_target")) == 2
    assert off.resources("aws", "aws_efs_file_system") == {} and off.resources("aws", "aws_efs_mount_target") == {}
    assert "aws-efs-csi-driver" not in addons(off)
    assert "efs_file_system_id" in on.aws["output"] and "efs_file_system_id" not in off.aws["output"]


def test_fsx_persistent_2_links_its_own_encrypted_bucket(canonical):
    fs = strip_meta(one(canonical, "aws_fsx_lustre_file_system"))
    assert {k: fs[k] for k in ("deployment_type", "storage_capacity", "per_unit_storage_throughput",
                               "data_compression_type")} == {
        "deployment_type": "PERSISTENT_2", "storage_capacity": 1200, "per_unit_storage_throughput": 125,
        "data_compression_type": "LZ4"}
    assert fs["kms_key_id"].startswith("${aws_kms_key.")
    dra = strip_meta(one(canonical, "aws_fsx_data_repository_association"))
    assert dra["s3"] == {"auto_export_policy": {"events": ["NEW", "CHANGED", "DELETED"]},
                         "auto_import_policy": {"events": ["NEW", "CHANGED", "DELETED"]}}
    assert dra["data_repository_path"] == "s3://${aws_s3_bucket.fsx-bucket_2EA314D4.bucket}"
    assert one(canonical, "aws_s3_bucket_public_access_block")["restrict_public_buckets"] is True
    assert one(canonical, "aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    sse = one(canonical, "aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert sse["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    deny = json.loads(one(canonical, "aws_s3_bucket_policy")["policy"])["Statement"][0]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Effect"] == "Deny"


def test_fsx_scratch_2_with_an_external_bucket_creates_no_bucket():
    s = synth({"fsx_deployment_type": "SCRATCH_2", "fsx_s3_import_path": "s3://datasets/imagenet"})
    fs = one(s, "aws_fsx_lustre_file_system")
    assert (fs["deployment_type"], fs["import_path"], fs["auto_import_policy"]) == (
        "SCRATCH_2", "s3://datasets/imagenet", "NEW_CHANGED_DELETED")
    assert "per_unit_storage_throughput" not in fs
    assert s.resources("aws", "aws_s3_bucket") == {} and s.resources("aws", "aws_fsx_data_repository_association") == {}


def test_fsx_off_creates_no_file_system_bucket_or_csi_driver():
    s = synth({"enable_fsx": False})
    assert s.resources("aws", "aws_fsx_lustre_file_system") == {} and s.resources("aws", "aws_s3_bucket") == {}
    assert "aws-fsx-csi-driver" not in addons(s)


def test_no_secrets_without_consumers_and_generated_ones_are_write_only(canonical):  # noqa: D103
    assert canonical.resources("aws", "aws_secretsmanager_secret") == {}
    s = synth({"enable_argocd": True})
    versions_ = list(s.resources("aws", "aws_secretsmanager_secret_version").values())
    assert versions_ and all("secret_string" not in v and v["secret_string_wo_version"] == 1 for v in versions_)
    assert all("ephemeral.aws_secretsmanager_random_password." in v["secret_string_wo"] for v in versions_)
    assert set(s.aws["ephemeral"]["aws_secretsmanager_random_password"]) and all(
        p["password_length"] == 32 for p in s.aws["ephemeral"]["aws_secretsmanager_random_password"].values())
    reader = next(r for r in s.resources("aws", "aws_iam_role").values() if r["name"] == "mlplat-external-secrets")
    assert reader


def test_useful_outputs(canonical):
    assert {"cluster_name", "cluster_endpoint", "cluster_certificate_authority_data", "karpenter_queue_name",
            "karpenter_node_role_name", "karpenter_controller_role_arn", "efs_file_system_id", "fsx_file_system_id",
            "fsx_bucket_name", "kms_key_arn", "vpc_id"} <= set(canonical.aws["output"])


@pytest.mark.parametrize("bucket_region, expected", [(None, "us-west-2"), ("eu-central-1", "eu-central-1")])
def test_s3_backend_region_is_the_buckets(tmp_path, bucket_region, expected):
    """AWS audit 16: the state bucket's region was forced to the platform's, so a bucket elsewhere failed."""
    from mlplat.blueprint import parse_text
    from mlplat.settings import Settings
    from stacks.app import add_stacks, new_app
    from tests.support.synth import CANONICAL_TEXT

    settings = Settings.from_env({"CDKTF_OUTDIR": str(tmp_path), "MLPLAT_BACKEND_S3_BUCKET": "team-tf-state",
                                  **({"MLPLAT_BACKEND_S3_REGION": bucket_region} if bucket_region else {})})
    app = new_app(settings)
    stacks = add_stacks(app, parse_text(CANONICAL_TEXT, "blueprint.tfvars"), settings)
    app.synth()
    backend = json.loads((tmp_path / "stacks" / stacks.aws.node.id / "cdk.tf.json").read_text())["terraform"]["backend"]
    assert backend == {"s3": {"bucket": "team-tf-state", "key": "mlplat/mlplat-aws.tfstate", "region": expected,
                              "encrypt": True, "use_lockfile": True}}


def test_claim_volumes_carry_the_platform_tags():
    """The EBS CSI driver tags the volumes it creates for claims with the platform's tags (what `mlplat destroy`'s
    sweep claims by); no other add-on is configured."""
    s = synth({"tags": {"team": "ml-platform"}})
    found = addons(s)
    assert json.loads(found["aws-ebs-csi-driver"]["configuration_values"]) == {"controller": {"extraVolumeTags": {
        "ManagedBy": "mlplat", "Platform": "mlplat", "team": "ml-platform"}}}
    assert [name for name, a in found.items() if a.get("configuration_values")] == ["aws-ebs-csi-driver"]
