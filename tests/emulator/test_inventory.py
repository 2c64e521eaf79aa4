"""inventory(): what a deployment left behind, without what AWS itself provides."""

from __future__ import annotations

from mlplat.emulator import LocalAws
from mlplat.emulator.inventory import KINDS

from .support import client_factory, create_one_of_each


def test_an_empty_emulator_counts_zero_of_every_kind(aws: LocalAws) -> None:
    client = client_factory(aws)
    client("ec2").describe_vpcs()  # brings up moto's default VPC, subnets and security group
    client("iam").list_policies()  # and the AWS-managed policies
    inventory = aws.inventory()
    assert set(inventory) == set(KINDS)
    assert {kind: count for kind, count in inventory.items() if count} == {}


def test_one_of_each_is_counted(aws: LocalAws) -> None:
    create_one_of_each(client_factory(aws))
    expected = dict.fromkeys(KINDS, 1)
    expected["ec2_subnets"] = 2
    expected["ec2_security_groups"] = 2  # ours and the EKS cluster security group
    assert aws.inventory() == expected


def test_deleted_and_aws_managed_leftovers_are_not_counted(aws: LocalAws) -> None:
    client = client_factory(aws)
    ids = create_one_of_each(client)
    ec2 = client("ec2")
    ec2.delete_nat_gateway(NatGatewayId=ids["nat_gateway"])  # stays visible as "deleted", as in EC2
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ids["vpc_endpoint"]])
    client("kms").delete_alias(AliasName=ids["kms_alias"])
    client("kms").schedule_key_deletion(KeyId=ids["kms_key"], PendingWindowInDays=7)
    client("secretsmanager").delete_secret(SecretId=ids["secret"], RecoveryWindowInDays=7)

    inventory = aws.inventory()
    assert {
        kind: inventory[kind]
        for kind in ("ec2_nat_gateways", "ec2_vpc_endpoints", "kms_keys", "kms_aliases", "secretsmanager_secrets")
    } == {
        "ec2_nat_gateways": 0,
        "ec2_vpc_endpoints": 0,
        "kms_keys": 0,  # the aws/fsx key FSx made for the persistent file system is AWS-managed
        "kms_aliases": 0,
        "secretsmanager_secrets": 0,
    }


def test_deleting_a_cluster_takes_its_addons_access_entries_and_associations_along(aws: LocalAws) -> None:
    client = client_factory(aws)
    create_one_of_each(client)
    eks = client("eks")
    eks.delete_nodegroup(clusterName="platform", nodegroupName="system")
    eks.delete_cluster(name="platform")
    inventory = aws.inventory()
    eks_counts = {kind: count for kind, count in inventory.items() if kind.startswith("eks_")}
    assert set(eks_counts.values()) == {0}
    assert inventory["ec2_security_groups"] == 1  # the cluster security group went with the cluster
