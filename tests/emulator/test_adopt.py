"""Adopting what an interrupted apply left in AWS outside terraform's state (mlplat/adopt.py).

First each finder against the emulator: a resource made as the AWS provider makes it is found from the values the
plan gives terraform, with the import id the provider documents; an absent one is not. Then the whole path with the
real terraform and AWS provider: resources AWS holds and the state does not (as an interrupt leaves them) fail the
next apply on their own, and are planned as imports, applied and settled once the interrupt was recorded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlplat import adopt
from mlplat.emulator import LocalAws
from mlplat.emulator.server import provider_settings
from mlplat.errors import MlplatError
from tests.support.paths import ROOT
from tests.support.terraform import terraform

from .support import REGION, ClientFactory, client_factory, create_cluster, create_network, create_role


class EmulatorAccount:
    """What `adopt.look_up` takes: boto3 clients of the account (mlplat.aws.Aws has the same `client`)."""

    def __init__(self, client: ClientFactory) -> None:
        self.client = client


def found(client: ClientFactory, rtype: str, values: dict[str, Any]) -> str | None:
    lookup = adopt.look_up(EmulatorAccount(client), {f"{rtype}.x": (rtype, values)})
    return lookup.adoptions[0].import_id if lookup.adoptions else None


def test_network_pieces_are_found_by_their_content(client: ClientFactory) -> None:
    ec2 = client("ec2")
    network = create_network(client, 71)
    table = ec2.create_route_table(VpcId=network.vpc_id)["RouteTable"]["RouteTableId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=network.vpc_id)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    ec2.associate_route_table(RouteTableId=table, SubnetId=network.subnet_ids[0])
    group = ec2.create_security_group(GroupName="adopt-nodes", Description="t", VpcId=network.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.71.0.0/16"}]}])
    [rule] = [r for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])[
        "SecurityGroupRules"] if not r["IsEgress"]]

    assert found(client, "aws_route", {"route_table_id": table, "destination_cidr_block": "0.0.0.0/0"}) == \
        f"{table}_0.0.0.0/0"
    assert found(client, "aws_route", {"route_table_id": table, "destination_cidr_block": "10.9.0.0/16"}) is None
    assert found(client, "aws_route_table_association", {"route_table_id": table,
                                                         "subnet_id": network.subnet_ids[0]}) == \
        f"{network.subnet_ids[0]}/{table}"
    assert found(client, "aws_route_table_association", {"route_table_id": table,
                                                         "subnet_id": network.subnet_ids[1]}) is None
    assert found(client, "aws_security_group", {"name": "adopt-nodes", "vpc_id": network.vpc_id}) == group
    https = {"security_group_id": group, "ip_protocol": "tcp", "from_port": 443, "to_port": 443,
             "cidr_ipv4": "10.71.0.0/16", "cidr_ipv6": None, "prefix_list_id": None,
             "referenced_security_group_id": None}
    assert found(client, "aws_vpc_security_group_ingress_rule", https) == rule["SecurityGroupRuleId"]
    assert found(client, "aws_vpc_security_group_ingress_rule", {**https, "to_port": 444}) is None
    assert found(client, "aws_vpc_security_group_egress_rule", https) is None  # the same rule, the other way


def test_named_resources_are_found_by_name(client: ClientFactory) -> None:
    create_role(client, "adopt-role", "pods.eks.amazonaws.com")
    client("logs").create_log_group(logGroupName="/aws/eks/adopt/cluster")
    secret = client("secretsmanager").create_secret(Name="adopt/admin", SecretString="x")["ARN"]
    client("s3").create_bucket(Bucket="adopt-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    cluster = create_cluster(client)
    association = client("eks").create_pod_identity_association(
        clusterName=cluster.name, namespace="monitoring", serviceAccount="yace",
        roleArn=create_role(client, "adopt-yace", "pods.eks.amazonaws.com"))["association"]["associationId"]

    assert found(client, "aws_iam_role", {"name": "adopt-role"}) == "adopt-role"
    assert found(client, "aws_iam_role", {"name": "adopt-other"}) is None
    assert found(client, "aws_cloudwatch_log_group", {"name": "/aws/eks/adopt/cluster"}) == "/aws/eks/adopt/cluster"
    assert found(client, "aws_cloudwatch_log_group", {"name": "/aws/eks/adopt/clus"}) is None
    assert found(client, "aws_secretsmanager_secret", {"name": "adopt/admin"}) == secret
    assert found(client, "aws_s3_bucket", {"bucket": "adopt-bucket"}) == "adopt-bucket"
    assert found(client, "aws_s3_bucket", {"bucket": "adopt-nothing"}) is None
    assert found(client, "aws_eks_pod_identity_association", {
        "cluster_name": cluster.name, "namespace": "monitoring", "service_account": "yace"}) == \
        f"{cluster.name},{association}"
    assert found(client, "aws_eks_pod_identity_association", {
        "cluster_name": cluster.name, "namespace": "monitoring", "service_account": "other"}) is None
    assert found(client, "aws_eks_cluster", {"name": cluster.name}) == cluster.name
    client("eks").create_addon(clusterName=cluster.name, addonName="kube-proxy")
    assert found(client, "aws_eks_addon", {"cluster_name": cluster.name, "addon_name": "kube-proxy"}) == \
        f"{cluster.name}:kube-proxy"
    assert found(client, "aws_eks_addon", {"cluster_name": cluster.name, "addon_name": "coredns"}) is None


def test_what_cannot_be_found_or_checked_is_said_and_not_adopted(client: ClientFactory) -> None:
    lookup = adopt.look_up(EmulatorAccount(client), {
        "aws_subnet.a": ("aws_subnet", {"cidr_block": "10.0.0.0/24"}),  # AWS takes a second one: no finder
        "aws_iam_role.b": ("aws_iam_role", {"name": None}),  # a generated name, unknown until applied
        "aws_s3_bucket_versioning.c": ("aws_s3_bucket_versioning", {"bucket": "b"}),  # PutBucketVersioning again
    })
    assert lookup.adoptions == ()
    assert lookup.notes == (
        "aws_iam_role.b: not in AWS; created",
        "aws_s3_bucket_versioning.c: created again, it sets what the interrupted create may have set; nothing to adopt",
        "aws_subnet.a: AWS makes another of this type rather than refuse it, so nothing is adopted; one the interrupt "
        "left, if any, stays outside the state (mlplat destroy removes the network's pieces by the platform's tags)",
    )


def test_every_aws_type_the_platform_creates_is_classified() -> None:
    """A type added to the AWS layer must say what an interrupted create of it leaves: found and adopted, set in
    place by the next create, or made again by AWS."""
    source = "\n".join(path.read_text() for folder in ("modules", "stacks") for path in (ROOT / folder).glob("*.py"))
    modules = set(re.findall(r"^from cdktn_provider_aws\.(\w+) import", source, flags=re.MULTILINE))
    created = {f"aws_{m}" for m in modules if not m.startswith(("data_", "ephemeral_")) and m != "provider"}
    assert len(created) > 40
    classified = set(adopt.FINDERS) | adopt.SET_IN_PLACE | adopt.MADE_AGAIN
    assert sorted(created - classified) == []
    assert not set(adopt.FINDERS) & (adopt.SET_IN_PLACE | adopt.MADE_AGAIN)
    assert not adopt.SET_IN_PLACE & adopt.MADE_AGAIN


def test_records_add_up_and_clear_with_the_import_blocks(tmp_path: Path) -> None:
    adopt.record_interrupted(tmp_path, "mlplat-aws", ["aws_route.a"])
    adopt.record_interrupted(tmp_path, "mlplat-aws", ["aws_iam_role.b", "aws_route.a"])
    adopt.record_interrupted(tmp_path, "mlplat-aws", [])
    assert adopt.read_record(tmp_path, "mlplat-aws") == ["aws_iam_role.b", "aws_route.a"]
    assert adopt.read_record(tmp_path, "other") == []
    adopt.write_imports(tmp_path, [adopt.Adoption("aws_route.a", "rtb-1_0.0.0.0/0")])
    assert json.loads((tmp_path / adopt.ADOPT_FILE).read_text()) == {
        "import": [{"to": "aws_route.a", "id": "rtb-1_0.0.0.0/0"}]}
    (tmp_path / "mlplat-aws").mkdir()
    (tmp_path / "mlplat-aws" / adopt.ADOPT_FILE).write_text("{}")
    adopt.clear(tmp_path, tmp_path / "mlplat-aws")
    assert adopt.read_record(tmp_path, "mlplat-aws") == [] and not (tmp_path / "mlplat-aws" / adopt.ADOPT_FILE).exists()


# --- with the real terraform and AWS provider -----------------------------------------------------------------------

LEFT_BY_THE_INTERRUPT = ["aws_route.internet", "aws_vpc_security_group_ingress_rule.https", "aws_iam_role.app"]


def configuration(endpoint: str) -> dict[str, Any]:
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {"aws": [{"region": REGION, **provider_settings(endpoint)}]},
        "resource": {
            "aws_vpc": {"main": {"cidr_block": "10.72.0.0/16"}},
            "aws_internet_gateway": {"main": {"vpc_id": "${aws_vpc.main.id}"}},
            "aws_route_table": {"public": {"vpc_id": "${aws_vpc.main.id}"}},
            "aws_route": {"internet": {"route_table_id": "${aws_route_table.public.id}",
                                       "destination_cidr_block": "0.0.0.0/0",
                                       "gateway_id": "${aws_internet_gateway.main.id}"}},
            "aws_security_group": {"nodes": {"name": "adopt-tf-nodes", "vpc_id": "${aws_vpc.main.id}"}},
            "aws_vpc_security_group_ingress_rule": {"https": {
                "security_group_id": "${aws_security_group.nodes.id}", "ip_protocol": "tcp", "from_port": 443,
                "to_port": 443, "cidr_ipv4": "10.72.0.0/16"}},
            "aws_iam_role": {"app": {"name": "adopt-tf-app", "assume_role_policy": json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "pods.eks.amazonaws.com"}}]})}},
        },
    }


@pytest.mark.e2e
def test_leftovers_fail_the_apply_until_recorded_then_are_imported(tmp_path: Path, aws: LocalAws) -> None:
    # A deployed configuration whose state has lost three resources AWS still holds, as an interrupt leaves them.
    stack_dir = tmp_path / "adopt-stack"
    stack_dir.mkdir()
    (stack_dir / "cdk.tf.json").write_text(json.dumps(configuration(aws.endpoint)))
    tf = terraform(tmp_path / "work", env=aws.terraform_env())
    tf.init(stack_dir)
    tf.apply(stack_dir)
    for address in LEFT_BY_THE_INTERRUPT:
        tf._run(stack_dir, ["state", "rm", "-lock=false", address])
    tf.aws = lambda: EmulatorAccount(client_factory(aws))

    # Not recorded: planned as creates, which AWS refuses.
    plan = tf.plan(stack_dir)
    assert sorted(c.address for c in plan.changes if c.action == "create") == sorted(LEFT_BY_THE_INTERRUPT)
    with pytest.raises(MlplatError) as failed:
        tf.apply(stack_dir, plan_file="mlplat.tfplan")
    assert "RouteAlreadyExists" in str(failed.value) and "InvalidPermission.Duplicate" in str(failed.value)

    # Recorded (as the interrupt does): found in AWS, planned as imports, taken into the state.
    adopt.record_interrupted(tf.work_dir, stack_dir.name, LEFT_BY_THE_INTERRUPT)
    plan = tf.plan(stack_dir)
    assert {c.address: c.action for c in plan.changes} == dict.fromkeys(LEFT_BY_THE_INTERRUPT, "import")
    assert (plan.add, plan.imports, plan.total) == (0, 3, 3)
    assert [note.split(":")[0] for note in plan.adoption] == sorted(LEFT_BY_THE_INTERRUPT)
    assert all("adopted as" in note for note in plan.adoption)
    tf.apply(stack_dir, plan_file="mlplat.tfplan")
    assert set(LEFT_BY_THE_INTERRUPT) <= set(tf.state_resources(stack_dir))
    assert adopt.read_record(tf.work_dir, stack_dir.name) == [] and not (stack_dir / adopt.ADOPT_FILE).exists()
    assert tf.plan(stack_dir).total == 0
