"""What AWS refuses, the emulator refuses too: same error code, same message, and nothing changed by the refusal.

Each of these is a deploy or a destroy that would work against plain moto and fail against a real account; the
emulator's extensions (mlplat/emulator/extensions/) make it fail here first, worded as AWS words it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlplat import versions

from .support import REGION, ClientFactory, create_cluster, create_network, create_role

ACCOUNT = "123456789012"
CALLER_ARN = f"arn:aws:iam::{ACCOUNT}:user/moto"  # who the emulator's dummy credentials are
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
REGION_ZONES = ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]
RDS_CLUSTER = {"Engine": "aurora-postgresql", "MasterUsername": "mlplat", "MasterUserPassword": "password1234"}


def refusal(call: Callable[[], Any]) -> tuple[int, str, str]:
    """The HTTP status, error code and message of a call that must fail."""
    with pytest.raises(ClientError) as error:
        call()
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


# --- EKS ---------------------------------------------------------------------------------------------------------

ACCESS_ENTRY_IN_USE = (
    409,
    "ResourceInUseException",
    "The specified access entry resource is already in use on this cluster.",
)


def test_duplicate_access_entry_is_refused_with_409(client: ClientFactory) -> None:
    eks = client("eks")
    cluster = create_cluster(client)
    principal = create_role(client, f"{cluster.name}-twice", "ec2.amazonaws.com")
    eks.create_access_entry(clusterName=cluster.name, principalArn=principal, kubernetesGroups=["first"])

    assert (
        refusal(
            lambda: eks.create_access_entry(
                clusterName=cluster.name, principalArn=principal, kubernetesGroups=["second"], username="other"
            )
        )
        == ACCESS_ENTRY_IN_USE
    )
    # The refused request changed nothing: the first entry is the one there.
    assert eks.list_access_entries(clusterName=cluster.name)["accessEntries"] == [principal]
    entry = eks.describe_access_entry(clusterName=cluster.name, principalArn=principal)["accessEntry"]
    assert (entry["kubernetesGroups"], entry["username"]) == (
        ["first"],
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{cluster.name}-twice/{{{{SessionName}}}}",
    )


def test_access_entry_for_the_bootstrapped_cluster_creator_is_refused_with_409(client: ClientFactory) -> None:
    eks = client("eks")
    caller = client("sts").get_caller_identity()["Arn"]
    assert caller == CALLER_ARN
    network = create_network(client, 201)
    role_arn = create_role(client, "bootstrapped-role", "eks.amazonaws.com")
    eks.create_cluster(
        name="bootstrapped",
        version="1.33",
        roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": network.subnet_ids},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True},
    )
    assert eks.list_access_entries(clusterName="bootstrapped")["accessEntries"] == [caller]

    assert refusal(lambda: eks.create_access_entry(clusterName="bootstrapped", principalArn=caller)) == (
        ACCESS_ENTRY_IN_USE
    )
    # The creator keeps the entry EKS made, admin policy and all.
    assert eks.list_access_entries(clusterName="bootstrapped")["accessEntries"] == [caller]
    policies = eks.list_associated_access_policies(clusterName="bootstrapped", principalArn=caller)
    assert [(p["policyArn"], p["accessScope"]) for p in policies["associatedAccessPolicies"]] == [
        (ADMIN_POLICY, {"type": "cluster"})
    ]


def test_access_entry_for_the_creator_is_accepted_without_bootstrap(client: ClientFactory) -> None:
    eks = client("eks")
    cluster = create_cluster(client)  # bootstrapClusterCreatorAdminPermissions=False
    assert eks.list_access_entries(clusterName=cluster.name)["accessEntries"] == []

    entry = eks.create_access_entry(clusterName=cluster.name, principalArn=CALLER_ARN)["accessEntry"]
    assert (entry["principalArn"], entry["username"], entry["type"]) == (CALLER_ARN, CALLER_ARN, "STANDARD")
    assert eks.list_access_entries(clusterName=cluster.name)["accessEntries"] == [CALLER_ARN]


def test_kubernetes_version_past_extended_support_is_refused(client: ClientFactory) -> None:
    eks, ec2 = client("eks"), client("ec2")
    network = create_network(client, 202)
    role_arn = create_role(client, "versions-role", "eks.amazonaws.com")

    def create(name: str, version: str) -> Any:
        return eks.create_cluster(
            name=name,
            version=version,
            roleArn=role_arn,
            resourcesVpcConfig={"subnetIds": network.subnet_ids},
            accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        )

    assert refusal(lambda: create("too-old", "1.31")) == (
        400,
        "InvalidParameterException",
        "unsupported Kubernetes version 1.31",
    )
    assert refusal(lambda: eks.describe_cluster(name="too-old"))[1] == "ResourceNotFoundException"
    # Nothing was made for the refused cluster: the VPC has only its default security group.
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [network.vpc_id]}])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]

    assert create("newest", "1.36")["cluster"]["version"] == "1.36"
    assert eks.describe_cluster(name="newest")["cluster"]["version"] == "1.36"


# --- EC2 ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["us-west-2z", "us-east-1a"])
def test_subnet_in_a_zone_the_region_does_not_have_is_refused(client: ClientFactory, zone: str) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.210.0.0/16")["Vpc"]["VpcId"]

    assert refusal(
        lambda: ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.210.0.0/24", AvailabilityZone=zone)
    ) == (
        400,
        "InvalidParameterValue",
        f"Value ({zone}) for parameter availabilityZone is invalid. Subnets can currently only be created in the "
        f"following availability zones: {', '.join(REGION_ZONES)}.",
    )
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"] == []


def test_subnet_by_zone_id_lands_in_that_zone_of_the_region(client: ClientFactory) -> None:
    ec2 = client("ec2")
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == REGION_ZONES
    vpc_id = ec2.create_vpc(CidrBlock="10.211.0.0/16")["Vpc"]["VpcId"]

    for index, zone in enumerate(zones):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.211.{index}.0/24", AvailabilityZoneId=zone["ZoneId"])[
            "Subnet"
        ]
        assert (subnet["AvailabilityZone"], subnet["AvailabilityZoneId"]) == (zone["ZoneName"], zone["ZoneId"])
    # Without a zone AWS picks one of the region's (moto alone would pick us-east-1a whatever the region).
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.211.10.0/24")["Subnet"]
    assert subnet["AvailabilityZone"] in REGION_ZONES


def test_availability_zones_need_no_opt_in(client: ClientFactory) -> None:
    ec2 = client("ec2")

    def zones(status: str) -> list[str]:
        return [
            z["ZoneName"]
            for z in ec2.describe_availability_zones(Filters=[{"Name": "opt-in-status", "Values": [status]}])[
                "AvailabilityZones"
            ]
        ]

    assert zones("opt-in-not-required") == REGION_ZONES
    assert zones("opted-in") == []
    assert zones("not-opted-in") == []
    assert all(
        z["OptInStatus"] == "opt-in-not-required" for z in ec2.describe_availability_zones()["AvailabilityZones"]
    )


def vpc_dependencies(vpc_id: str) -> tuple[int, str, str]:
    return 400, "DependencyViolation", f"The vpc '{vpc_id}' has dependencies and cannot be deleted."


def test_deleting_a_vpc_with_a_security_group_is_refused(client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.212.0.0/16")["Vpc"]["VpcId"]
    group_id = ec2.create_security_group(GroupName="left-behind", Description="left behind", VpcId=vpc_id)["GroupId"]

    assert refusal(lambda: ec2.delete_vpc(VpcId=vpc_id)) == vpc_dependencies(vpc_id)
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]] == [vpc_id]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    assert sorted(g["GroupName"] for g in groups) == ["default", "left-behind"]  # the default group survives too

    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_vpc(VpcId=vpc_id)
    assert refusal(lambda: ec2.describe_vpcs(VpcIds=[vpc_id]))[1] == "InvalidVpcID.NotFound"


def test_deleting_a_vpc_with_an_attached_internet_gateway_is_refused(client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.213.0.0/16")["Vpc"]["VpcId"]
    gateway_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)

    assert refusal(lambda: ec2.delete_vpc(VpcId=vpc_id)) == vpc_dependencies(vpc_id)
    [gateway] = ec2.describe_internet_gateways(InternetGatewayIds=[gateway_id])["InternetGateways"]
    assert gateway["Attachments"] == [{"State": "available", "VpcId": vpc_id}]

    ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    ec2.delete_vpc(VpcId=vpc_id)
    assert refusal(lambda: ec2.describe_vpcs(VpcIds=[vpc_id]))[1] == "InvalidVpcID.NotFound"


def test_deleting_a_vpc_with_a_route_table_is_refused(client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.214.0.0/16")["Vpc"]["VpcId"]
    route_table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]

    assert refusal(lambda: ec2.delete_vpc(VpcId=vpc_id)) == vpc_dependencies(vpc_id)

    ec2.delete_route_table(RouteTableId=route_table_id)
    ec2.delete_vpc(VpcId=vpc_id)
    assert refusal(lambda: ec2.describe_vpcs(VpcIds=[vpc_id]))[1] == "InvalidVpcID.NotFound"


def test_deleting_a_vpc_with_an_endpoint_is_refused(client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.217.0.0/16")["Vpc"]["VpcId"]
    endpoint_id = ec2.create_vpc_endpoint(
        VpcId=vpc_id, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway"
    )["VpcEndpoint"]["VpcEndpointId"]

    assert refusal(lambda: ec2.delete_vpc(VpcId=vpc_id)) == vpc_dependencies(vpc_id)

    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    ec2.delete_vpc(VpcId=vpc_id)
    assert refusal(lambda: ec2.describe_vpcs(VpcIds=[vpc_id]))[1] == "InvalidVpcID.NotFound"


def test_an_endpoint_without_a_type_is_a_gateway_and_can_be_deleted(client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.218.0.0/16")["Vpc"]["VpcId"]
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=f"com.amazonaws.{REGION}.s3")["VpcEndpoint"]

    assert endpoint["VpcEndpointType"] == "Gateway"  # CreateVpcEndpoint's default
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])["Unsuccessful"] == []


def test_releasing_an_elastic_ip_a_nat_gateway_holds_is_refused(client: ClientFactory) -> None:
    ec2 = client("ec2")
    network = create_network(client, 219)
    allocation_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=network.subnet_ids[0], AllocationId=allocation_id)["NatGateway"][
        "NatGatewayId"]

    status, code, _ = refusal(lambda: ec2.release_address(AllocationId=allocation_id))
    assert (status, code) == (400, "InvalidIPAddress.InUse")
    assert ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]["AssociationId"]

    ec2.delete_nat_gateway(NatGatewayId=nat_id)  # disassociates it, as EC2 does
    ec2.release_address(AllocationId=allocation_id)
    assert refusal(lambda: ec2.describe_addresses(AllocationIds=[allocation_id]))[1] == "InvalidAllocationID.NotFound"


def test_deleting_a_subnet_and_security_group_an_instance_uses_is_refused(client: ClientFactory) -> None:
    """An instance Terraform never knew about (e.g. a Karpenter node) keeps its subnet and security group alive."""
    ec2 = client("ec2")
    network = create_network(client, 215)
    subnet_id = network.subnet_ids[0]
    group_id = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=network.vpc_id)["GroupId"]
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    [instance] = ec2.run_instances(
        ImageId=image_id,
        MinCount=1,
        MaxCount=1,
        InstanceType="m6i.large",
        SubnetId=subnet_id,
        SecurityGroupIds=[group_id],
    )["Instances"]

    assert refusal(lambda: ec2.delete_subnet(SubnetId=subnet_id)) == (
        400,
        "DependencyViolation",
        f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
    )
    assert refusal(lambda: ec2.delete_security_group(GroupId=group_id)) == (
        400,
        "DependencyViolation",
        f"resource {group_id} has a dependent object",
    )
    assert [s["SubnetId"] for s in ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]] == [subnet_id]
    assert [g["GroupId"] for g in ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]] == [group_id]
    # The other subnet, which no interface uses, deletes at once.
    ec2.delete_subnet(SubnetId=network.subnet_ids[1])

    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])  # its interface goes with it
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])[
        "NetworkInterfaces"
    ] == []
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_vpc(VpcId=network.vpc_id)
    assert refusal(lambda: ec2.describe_vpcs(VpcIds=[network.vpc_id]))[1] == "InvalidVpcID.NotFound"


def test_deleting_a_security_group_a_network_interface_uses_is_refused(client: ClientFactory) -> None:
    ec2 = client("ec2")
    network = create_network(client, 216)
    group_id = ec2.create_security_group(GroupName="endpoint", Description="endpoint", VpcId=network.vpc_id)[
        "GroupId"
    ]
    interface_id = ec2.create_network_interface(SubnetId=network.subnet_ids[0], Groups=[group_id])[
        "NetworkInterface"
    ]["NetworkInterfaceId"]

    assert refusal(lambda: ec2.delete_security_group(GroupId=group_id)) == (
        400,
        "DependencyViolation",
        f"resource {group_id} has a dependent object",
    )
    assert refusal(lambda: ec2.delete_subnet(SubnetId=network.subnet_ids[0])) == (
        400,
        "DependencyViolation",
        f"The subnet '{network.subnet_ids[0]}' has dependencies and cannot be deleted.",
    )

    ec2.delete_network_interface(NetworkInterfaceId=interface_id)
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_subnet(SubnetId=network.subnet_ids[0])
    assert refusal(lambda: ec2.describe_security_groups(GroupIds=[group_id]))[1] == "InvalidGroup.NotFound"


# --- S3 ----------------------------------------------------------------------------------------------------------


def create_bucket(client: ClientFactory, name: str) -> Any:
    s3 = client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def test_deleting_a_bucket_with_an_object_is_refused(client: ClientFactory) -> None:
    s3 = create_bucket(client, "refusals-objects")
    s3.put_object(Bucket="refusals-objects", Key="data/model.bin", Body=b"weights")

    with pytest.raises(ClientError) as error:
        s3.delete_bucket(Bucket="refusals-objects")
    response = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert response["Error"] == {
        "Code": "BucketNotEmpty",
        "Message": "The bucket you tried to delete is not empty",
        "BucketName": "refusals-objects",
    }
    assert s3.get_object(Bucket="refusals-objects", Key="data/model.bin")["Body"].read() == b"weights"

    s3.delete_object(Bucket="refusals-objects", Key="data/model.bin")
    s3.delete_bucket(Bucket="refusals-objects")
    assert "refusals-objects" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_deleting_a_versioned_bucket_with_versions_left_is_refused(client: ClientFactory) -> None:
    s3 = create_bucket(client, "refusals-versions")
    s3.put_bucket_versioning(Bucket="refusals-versions", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="refusals-versions", Key="state.json", Body=b"{}")
    s3.delete_object(Bucket="refusals-versions", Key="state.json")  # leaves the old version and a delete marker
    assert s3.list_objects_v2(Bucket="refusals-versions")["KeyCount"] == 0

    not_empty = (
        409,
        "BucketNotEmpty",
        "The bucket you tried to delete is not empty. You must delete all versions in the bucket.",
    )
    assert refusal(lambda: s3.delete_bucket(Bucket="refusals-versions")) == not_empty

    listed = s3.list_object_versions(Bucket="refusals-versions")
    [version], [marker] = listed["Versions"], listed["DeleteMarkers"]
    s3.delete_object(Bucket="refusals-versions", Key="state.json", VersionId=version["VersionId"])
    # A lone delete marker still counts.
    assert refusal(lambda: s3.delete_bucket(Bucket="refusals-versions")) == not_empty

    s3.delete_object(Bucket="refusals-versions", Key="state.json", VersionId=marker["VersionId"])
    s3.delete_bucket(Bucket="refusals-versions")
    assert "refusals-versions" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_deleting_an_emptied_bucket_is_accepted(client: ClientFactory) -> None:
    s3 = create_bucket(client, "refusals-emptied")
    s3.put_object(Bucket="refusals-emptied", Key="a", Body=b"a")
    s3.put_object(Bucket="refusals-emptied", Key="b", Body=b"b")
    s3.delete_objects(Bucket="refusals-emptied", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})

    s3.delete_bucket(Bucket="refusals-emptied")
    assert refusal(lambda: s3.head_bucket(Bucket="refusals-emptied"))[:2] == (404, "404")


# --- RDS ---------------------------------------------------------------------------------------------------------


def test_deleting_a_cluster_onto_a_taken_final_snapshot_name_is_refused(client: ClientFactory) -> None:
    rds, secrets = client("rds"), client("secretsmanager")
    rds.create_db_cluster(DBClusterIdentifier="snapshot-taken", **RDS_CLUSTER)
    rds.create_db_cluster_snapshot(DBClusterIdentifier="snapshot-taken", DBClusterSnapshotIdentifier="final")
    managed = rds.create_db_cluster(
        DBClusterIdentifier="snapshot-taken-managed",
        Engine="aurora-postgresql",
        MasterUsername="mlplat",
        ManageMasterUserPassword=True,
    )["DBCluster"]
    secret_arn = managed["MasterUserSecret"]["SecretArn"]

    for identifier in ("snapshot-taken", "snapshot-taken-managed"):
        assert refusal(
            lambda identifier=identifier: rds.delete_db_cluster(
                DBClusterIdentifier=identifier, SkipFinalSnapshot=False, FinalDBSnapshotIdentifier="final"
            )
        ) == (
            400,
            "DBClusterSnapshotAlreadyExistsFault",
            "Cannot create the cluster snapshot because one with the identifier final already exists.",
        )
        [cluster] = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
        assert cluster["Status"] == "available"
    # Nothing went with the refused delete: the managed password's secret and the old snapshot are still there.
    assert "DeletedDate" not in secrets.describe_secret(SecretId=secret_arn)
    [snapshot] = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="final")["DBClusterSnapshots"]
    assert snapshot["DBClusterIdentifier"] == "snapshot-taken"

    rds.delete_db_cluster(
        DBClusterIdentifier="snapshot-taken", SkipFinalSnapshot=False, FinalDBSnapshotIdentifier="final-2"
    )
    gone = refusal(lambda: rds.describe_db_clusters(DBClusterIdentifier="snapshot-taken"))
    assert gone[1] == "DBClusterNotFoundFault"
    [snapshot] = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="final-2")["DBClusterSnapshots"]
    assert snapshot["DBClusterIdentifier"] == "snapshot-taken"


def test_deleting_a_deletion_protected_cluster_is_refused(client: ClientFactory) -> None:
    rds = client("rds")
    rds.create_db_cluster(DBClusterIdentifier="protected", DeletionProtection=True, **RDS_CLUSTER)

    assert refusal(lambda: rds.delete_db_cluster(DBClusterIdentifier="protected", SkipFinalSnapshot=True)) == (
        400,
        "InvalidParameterCombination",
        "Cannot delete protected Cluster, please disable deletion protection and try again.",
    )
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier="protected")["DBClusters"]
    assert (cluster["Status"], cluster["DeletionProtection"]) == ("available", True)

    rds.modify_db_cluster(DBClusterIdentifier="protected", DeletionProtection=False, ApplyImmediately=True)
    rds.delete_db_cluster(DBClusterIdentifier="protected", SkipFinalSnapshot=True)
    assert refusal(lambda: rds.describe_db_clusters(DBClusterIdentifier="protected"))[1] == "DBClusterNotFoundFault"


def test_an_engine_version_rds_does_not_offer_is_refused_and_not_described(client: ClientFactory) -> None:
    rds = client("rds")
    assert refusal(lambda: rds.create_db_cluster(DBClusterIdentifier="too-new", EngineVersion="16.99",
                                                 **RDS_CLUSTER)) == (
        400, "InvalidParameterCombination", "Cannot find version 16.99 for aurora-postgresql")
    assert refusal(lambda: rds.describe_db_clusters(DBClusterIdentifier="too-new"))[1] == "DBClusterNotFoundFault"
    assert rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="16.99")["DBEngineVersions"] == []

    # The pinned version is offered, described with its parameter group family, and creatable.
    [offered] = rds.describe_db_engine_versions(
        Engine="aurora-postgresql", EngineVersion=versions.AURORA_POSTGRESQL_VERSION)["DBEngineVersions"]
    assert (offered["Status"], offered["DBParameterGroupFamily"]) == (
        "available", versions.AURORA_POSTGRESQL_PARAMETER_FAMILY)
    rds.create_db_cluster(DBClusterIdentifier="pinned", EngineVersion=versions.AURORA_POSTGRESQL_VERSION,
                          **RDS_CLUSTER)
    # An upgrade to a version not offered is refused too, and leaves the cluster as it was.
    assert refusal(lambda: rds.modify_db_cluster(DBClusterIdentifier="pinned", EngineVersion="16.99",
                                                 ApplyImmediately=True))[1:] == (
        "InvalidParameterCombination", "Cannot find version 16.99 for aurora-postgresql")
    [cluster] = rds.describe_db_clusters(DBClusterIdentifier="pinned")["DBClusters"]
    assert cluster["EngineVersion"] == versions.AURORA_POSTGRESQL_VERSION
    # A major version matches its minors, as RDS matches a version prefix.
    sixteen = rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="16")["DBEngineVersions"]
    assert [v["EngineVersion"] for v in sixteen] == ["16.8", "16.10"]


def test_aurora_mysql_versions_are_the_recorded_ones_and_slurms_pin_among_them(client: ClientFactory) -> None:
    rds = client("rds")
    mysql = {**RDS_CLUSTER, "Engine": "aurora-mysql"}
    # A 3.10 patch the recorded releases do not list is refused, as RDS refuses a version it does not offer.
    assert refusal(lambda: rds.create_db_cluster(DBClusterIdentifier="old-patch",
                                                 EngineVersion="8.0.mysql_aurora.3.10.1", **mysql)) == (
        400, "InvalidParameterCombination", "Cannot find version 8.0.mysql_aurora.3.10.1 for aurora-mysql")
    [offered] = rds.describe_db_engine_versions(Engine="aurora-mysql",
                                                EngineVersion=versions.AURORA_MYSQL_VERSION)["DBEngineVersions"]
    assert (offered["DBParameterGroupFamily"], offered["MajorEngineVersion"]) == (
        versions.AURORA_MYSQL_PARAMETER_FAMILY, "8.0")
    rds.create_db_cluster(DBClusterIdentifier="slurm", EngineVersion=versions.AURORA_MYSQL_VERSION, **mysql)
    assert rds.describe_db_clusters(DBClusterIdentifier="slurm")["DBClusters"][0]["Engine"] == "aurora-mysql"


# --- Secrets Manager ---------------------------------------------------------------------------------------------


def test_creating_a_secret_under_a_name_scheduled_for_deletion_is_refused(client: ClientFactory) -> None:
    secrets = client("secretsmanager")
    name = "refusals/db-password"
    arn = secrets.create_secret(Name=name, SecretString="first")["ARN"]
    secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    assert refusal(lambda: secrets.create_secret(Name=name, SecretString="second")) == (
        400,
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
    )
    described = secrets.describe_secret(SecretId=name)
    assert (described["ARN"], "DeletedDate" in described) == (arn, True)

    secrets.restore_secret(SecretId=name)
    assert refusal(lambda: secrets.create_secret(Name=name, SecretString="second")) == (
        400,
        "ResourceExistsException",
        f"The operation failed because the secret {name} already exists.",
    )
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "first"

    secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    new_arn = secrets.create_secret(Name=name, SecretString="second")["ARN"]
    assert new_arn != arn
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "second"


def test_force_deleting_a_secret_in_its_recovery_window_frees_the_name(client: ClientFactory) -> None:
    secrets = client("secretsmanager")
    name = "refusals/api-token"
    secrets.create_secret(Name=name, SecretString="first")
    secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert refusal(lambda: secrets.create_secret(Name=name, SecretString="second"))[1] == "InvalidRequestException"

    secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    secrets.create_secret(Name=name, SecretString="second")
    assert "DeletedDate" not in secrets.describe_secret(SecretId=name)


# --- STS ---------------------------------------------------------------------------------------------------------


def test_caller_identity_is_an_iam_user_not_an_sts_arn(client: ClientFactory) -> None:
    identity = client("sts").get_caller_identity()
    assert (identity["Arn"], identity["Account"]) == (CALLER_ARN, ACCOUNT)
    # An IAM user's unique id, as AWS reports one (AIDA...), not an access key id (AKIA...), and always the same one.
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", identity["UserId"])
    assert client("sts").get_caller_identity()["UserId"] == identity["UserId"]



# --- EC2 placement groups (an extension: moto has none) -------------------------------------------------------------


def test_placement_groups_are_created_found_by_tag_and_refused_as_ec2_refuses(client: ClientFactory) -> None:
    ec2 = client("ec2")
    created = ec2.create_placement_group(GroupName="refusals-pg", Strategy="cluster", TagSpecifications=[
        {"ResourceType": "placement-group", "Tags": [{"Key": "kubernetes.io/cluster/refusals", "Value": "owned"}]},
    ])["PlacementGroup"]
    assert (created["GroupName"], created["State"], created["Strategy"]) == ("refusals-pg", "available", "cluster")
    assert re.fullmatch(r"pg-[0-9a-f]{17}", created["GroupId"])
    ec2.create_placement_group(GroupName="refusals-other", Strategy="spread")
    assert refusal(lambda: ec2.create_placement_group(GroupName="refusals-pg", Strategy="cluster"))[1:] == (
        "InvalidPlacementGroup.Duplicate", "The Placement Group 'refusals-pg' already exists.")

    tagged = ec2.describe_placement_groups(Filters=[
        {"Name": "tag:kubernetes.io/cluster/refusals", "Values": ["owned"]}])["PlacementGroups"]
    assert [g["GroupName"] for g in tagged] == ["refusals-pg"]
    assert refusal(lambda: ec2.describe_placement_groups(GroupNames=["refusals-none"]))[1:] == (
        "InvalidPlacementGroup.Unknown", "The Placement Group 'refusals-none' is unknown.")

    ec2.delete_placement_group(GroupName="refusals-pg")
    assert refusal(lambda: ec2.delete_placement_group(GroupName="refusals-pg"))[1:] == (
        "InvalidPlacementGroup.Unknown", "The Placement Group 'refusals-pg' is unknown.")
    assert [g["GroupName"] for g in ec2.describe_placement_groups()["PlacementGroups"]] == ["refusals-other"]


def test_an_attached_interface_and_a_referenced_group_are_not_deleted(client: ClientFactory) -> None:
    """What the destroy sweep meets: EC2 refuses both (moto deleted them), and the refusal changes nothing."""
    ec2 = client("ec2")
    network = create_network(client, 44)
    referenced = ec2.create_security_group(GroupName="refusals-lb", Description="lb", VpcId=network.vpc_id)["GroupId"]
    referring = ec2.create_security_group(GroupName="refusals-nodes", Description="n", VpcId=network.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=referring, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": referenced}]}])
    assert refusal(lambda: ec2.delete_security_group(GroupId=referenced))[1:] == (
        "DependencyViolation", f"resource {referenced} has a dependent object")
    ec2.revoke_security_group_ingress(GroupId=referring, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": referenced}]}])
    ec2.delete_security_group(GroupId=referenced)  # no longer referenced

    ami = client("ssm").get_parameter(Name=versions.ACCESS_NODE_AMI_PARAMETER)["Parameter"]["Value"]
    instance = ec2.run_instances(ImageId=ami, InstanceType="t4g.nano", MinCount=1, MaxCount=1,
                                 SubnetId=network.subnet_ids[0])["Instances"][0]
    eni = ec2.create_network_interface(SubnetId=network.subnet_ids[0])["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance["InstanceId"], DeviceIndex=1)
    assert refusal(lambda: ec2.delete_network_interface(NetworkInterfaceId=eni))[1:] == (
        "InvalidNetworkInterface.InUse", f"Interface: [{eni}] in use.")
    [still] = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert still["Status"] == "in-use"


# --- SageMaker ---------------------------------------------------------------------------------------------------

def test_endpoint_configs_admit_the_instance_types_sagemaker_hosts_on(client: ClientFactory) -> None:
    """moto's own list stops at g4dn/p3: ml.g5 and ml.p5 variants were refused, which SageMaker accepts. The
    emulator checks against the ProductionVariantInstanceType enum of the SageMaker API model botocore ships."""
    import botocore.session

    enum = botocore.session.get_session().get_service_model("sagemaker").shape_for("ProductionVariantInstanceType").enum
    sagemaker = client("sagemaker")
    sagemaker.create_model(ModelName="sm-types", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/x",
                           PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/m:1"})
    for instance_type in ("ml.g5.xlarge", "ml.p5.48xlarge", "ml.inf2.xlarge"):
        assert instance_type in enum
        name = f"sm-{instance_type.replace('.', '-')}"
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": "main", "ModelName": "sm-types", "InitialInstanceCount": 1, "InstanceType": instance_type}])
        assert sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"][0][
            "InstanceType"] == instance_type
    status, code, message = refusal(lambda: sagemaker.create_endpoint_config(
        EndpointConfigName="sm-bogus", ProductionVariants=[
            {"VariantName": "main", "ModelName": "sm-types", "InitialInstanceCount": 1,
             "InstanceType": "ml.g5.mega"}]))
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("Value 'ml.g5.mega' at 'instanceType' failed to satisfy constraint")
