"""Helpers for the emulator tests: boto3 clients for a LocalAws, and a VPC with an EKS cluster to test against."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from mlplat.emulator import LocalAws

REGION = "us-west-2"
READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
ClientFactory = Callable[[str], Any]


def client_factory(aws: LocalAws) -> ClientFactory:
    """One client per service, made on first use (making an EC2 client costs tens of milliseconds)."""

    @functools.cache
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=aws.endpoint,
            region_name=aws.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # An emulator error is a bug to see at once, not a fault to retry.
            config=Config(retries={"max_attempts": 1}),
        )

    return client


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: list[str]


@dataclass(frozen=True)
class Cluster:
    name: str
    role_arn: str
    network: Network


def create_network(client: ClientFactory, second_octet: int) -> Network:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.{second_octet}.{index}.0/24", AvailabilityZone=f"{REGION}{zone}"
        )["Subnet"]["SubnetId"]
        for index, zone in enumerate("ab")
    ]
    return Network(vpc_id, subnet_ids)


def create_role(client: ClientFactory, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        ],
    }
    return client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


_cluster_count = 0


def create_cluster(client: ClientFactory, authentication_mode: str = "API", **extra: Any) -> Cluster:
    """A new EKS cluster in a new VPC; names are unique within the process."""
    global _cluster_count
    _cluster_count += 1
    name = f"cluster-{_cluster_count}"
    network = create_network(client, 100 + _cluster_count)
    role_arn = create_role(client, f"{name}-role", "eks.amazonaws.com")
    client("eks").create_cluster(
        name=name,
        version="1.33",
        roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": network.subnet_ids},
        accessConfig={"authenticationMode": authentication_mode, "bootstrapClusterCreatorAdminPermissions": False},
        **extra,
    )
    return Cluster(name, role_arn, network)


def create_one_of_each(client: ClientFactory) -> dict[str, str]:
    """One resource of every kind `LocalAws.inventory()` counts (two subnets: EKS wants two zones), and their ids."""
    ec2, iam, eks = client("ec2"), client("iam"), client("eks")
    network = create_network(client, 77)
    ids: dict[str, str] = {"vpc": network.vpc_id, "subnet": network.subnet_ids[0]}
    ids["internet_gateway"] = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=ids["internet_gateway"], VpcId=network.vpc_id)
    ids["elastic_ip"] = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ids["nat_gateway"] = ec2.create_nat_gateway(SubnetId=network.subnet_ids[0], AllocationId=ids["elastic_ip"])[
        "NatGateway"
    ]["NatGatewayId"]
    ids["route_table"] = ec2.create_route_table(VpcId=network.vpc_id)["RouteTable"]["RouteTableId"]
    ids["security_group"] = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=network.vpc_id)[
        "GroupId"
    ]
    ids["launch_template"] = ec2.create_launch_template(
        LaunchTemplateName="nodes", LaunchTemplateData={"InstanceType": "m6i.large"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ids["vpc_endpoint"] = ec2.create_vpc_endpoint(
        VpcId=network.vpc_id,
        ServiceName="com.amazonaws.us-west-2.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[ids["route_table"]],
    )["VpcEndpoint"]["VpcEndpointId"]

    role_arn = create_role(client, "platform-role", "eks.amazonaws.com")
    ids["role"] = "platform-role"
    ids["policy"] = iam.create_policy(PolicyName="platform-policy", PolicyDocument=json.dumps(READ_ONLY_POLICY))[
        "Policy"
    ]["Arn"]
    iam.create_instance_profile(InstanceProfileName="platform-profile")
    ids["instance_profile"] = "platform-profile"
    ids["kms_key"] = client("kms").create_key(Description="platform")["KeyMetadata"]["KeyId"]
    client("kms").create_alias(AliasName="alias/platform", TargetKeyId=ids["kms_key"])
    ids["kms_alias"] = "alias/platform"

    eks.create_cluster(
        name="platform",
        roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": network.subnet_ids},
        accessConfig={"authenticationMode": "API"},
    )
    ids["eks_cluster"] = "platform"
    ids["eks_security_group"] = eks.describe_cluster(name="platform")["cluster"]["resourcesVpcConfig"][
        "clusterSecurityGroupId"
    ]
    eks.create_nodegroup(clusterName="platform", nodegroupName="system", nodeRole=role_arn, subnets=network.subnet_ids)
    eks.create_addon(clusterName="platform", addonName="coredns")
    # bootstrapClusterCreatorAdminPermissions defaults to true: the creator's access entry is the one to count.
    [ids["eks_access_entry"]] = eks.list_access_entries(clusterName="platform")["accessEntries"]
    ids["eks_pod_identity_association"] = eks.create_pod_identity_association(
        clusterName="platform", namespace="ml", serviceAccount="trainer", roleArn=role_arn
    )["association"]["associationId"]

    ids["sqs_queue"] = client("sqs").create_queue(QueueName="interruptions")["QueueUrl"]
    ids["events_rule"] = "spot-interruptions"
    client("events").put_rule(Name="spot-interruptions", EventPattern=json.dumps({"source": ["aws.ec2"]}))
    ids["log_group"] = "/aws/eks/platform/cluster"
    client("logs").create_log_group(logGroupName=ids["log_group"])

    efs = client("efs")
    ids["efs_file_system"] = efs.create_file_system(CreationToken="shared")["FileSystemId"]
    ids["efs_mount_target"] = efs.create_mount_target(
        FileSystemId=ids["efs_file_system"], SubnetId=network.subnet_ids[0]
    )["MountTargetId"]
    ids["efs_access_point"] = efs.create_access_point(FileSystemId=ids["efs_file_system"])["AccessPointId"]

    fsx = client("fsx")
    ids["fsx_file_system"] = fsx.create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=network.subnet_ids[:1],
        LustreConfiguration={"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 125},
    )["FileSystem"]["FileSystemId"]
    ids["fsx_association"] = fsx.create_data_repository_association(
        FileSystemId=ids["fsx_file_system"], FileSystemPath="/data", DataRepositoryPath="s3://platform-data/data"
    )["Association"]["AssociationId"]

    ids["s3_bucket"] = "platform-data"
    client("s3").create_bucket(Bucket="platform-data", CreateBucketConfiguration={"LocationConstraint": REGION})
    client("s3").put_object(Bucket="platform-data", Key="data/readme.txt", Body=b"kept across processes")
    ids["secret"] = client("secretsmanager").create_secret(Name="platform/db", SecretString="s3cret")["ARN"]
    ids["ssm_parameter"] = "/platform/version"
    client("ssm").put_parameter(
        Name=ids["ssm_parameter"], Value="1", Type="String", Tags=[{"Key": "team", "Value": "ml"}]
    )

    rds = client("rds")
    rds.create_db_subnet_group(
        DBSubnetGroupName="platform", DBSubnetGroupDescription="platform", SubnetIds=network.subnet_ids
    )
    rds.create_db_cluster(
        DBClusterIdentifier="platform",
        Engine="aurora-postgresql",
        MasterUsername="mlplat",
        MasterUserPassword="password1234",
        DBSubnetGroupName="platform",
    )
    rds.create_db_instance(
        DBInstanceIdentifier="platform-1",
        DBClusterIdentifier="platform",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    ids["rds_cluster"], ids["rds_instance"], ids["rds_subnet_group"] = "platform", "platform-1", "platform"
    return ids
