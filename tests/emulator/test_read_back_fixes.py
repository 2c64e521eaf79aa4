"""Smaller read-back fixes, each of which made a second `terraform plan` show changes or `destroy` leave things."""

from __future__ import annotations

from mlplat.emulator import LocalAws

from .support import client_factory, create_network


def test_aws_managed_kms_keys_are_aws_managed(aws: LocalAws) -> None:
    kms = client_factory(aws)("kms")
    assert kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyManager"] == "AWS"
    assert aws.inventory()["kms_keys"] == 0


def test_only_v1_serverless_rds_clusters_report_a_scaling_configuration(aws: LocalAws) -> None:
    client = client_factory(aws)
    rds = client("rds")
    common = {"Engine": "aurora-postgresql", "MasterUsername": "mlplat", "MasterUserPassword": "password1234"}
    rds.create_db_cluster(
        DBClusterIdentifier="provisioned",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4},
        **common,
    )
    rds.create_db_cluster(DBClusterIdentifier="serverless-v1", EngineMode="serverless", **common)
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    assert "ScalingConfigurationInfo" not in clusters["provisioned"]
    assert clusters["provisioned"]["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4}
    assert "ScalingConfigurationInfo" in clusters["serverless-v1"]


def test_security_group_rules_keep_descriptions_of_group_references(aws: LocalAws) -> None:
    client = client_factory(aws)
    ec2 = client("ec2")
    vpc_id = create_network(client, 30).vpc_id
    group_id = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id, "Description": "node to node"}]}
        ],
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"
    ]
    [ingress] = [rule for rule in rules if not rule["IsEgress"]]
    assert ingress["Description"] == "node to node"


def test_launch_template_tags_stay_on_the_template(aws: LocalAws) -> None:
    ec2 = client_factory(aws)("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName="nodes",
        LaunchTemplateData={"InstanceType": "m6i.large"},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "owner", "Value": "platform"}]}],
    )["LaunchTemplate"]
    assert template["Tags"] == [{"Key": "owner", "Value": "platform"}]
    [version] = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])[
        "LaunchTemplateVersions"
    ]
    assert "TagSpecifications" not in version["LaunchTemplateData"]


def test_rds_instances_keep_performance_insights(aws: LocalAws) -> None:
    rds = client_factory(aws)("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="mlflow",
        Engine="aurora-postgresql",
        MasterUsername="mlplat",
        MasterUserPassword="password1234",
    )
    rds.create_db_instance(
        DBInstanceIdentifier="mlflow-1",
        DBClusterIdentifier="mlflow",
        Engine="aurora-postgresql",
        DBInstanceClass="db.serverless",
        EnablePerformanceInsights=True,
    )
    [instance] = rds.describe_db_instances(DBInstanceIdentifier="mlflow-1")["DBInstances"]
    assert (instance["PerformanceInsightsEnabled"], instance["PerformanceInsightsRetentionPeriod"]) == (True, 7)
    rds_key = client_factory(aws)("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    assert instance["PerformanceInsightsKMSKeyId"] == rds_key

    rds.modify_db_instance(DBInstanceIdentifier="mlflow-1", EnablePerformanceInsights=False, ApplyImmediately=True)
    [instance] = rds.describe_db_instances(DBInstanceIdentifier="mlflow-1")["DBInstances"]
    assert instance["PerformanceInsightsEnabled"] is False and "PerformanceInsightsKMSKeyId" not in instance


def test_an_instance_without_public_ip_with_groups_on_its_interface_reads_back_as_launched(aws: LocalAws) -> None:
    """How the AWS provider launches the cluster access node (associate_public_ip_address = false, monitoring on):
    the groups go in the interface specification, and detailed monitoring is switched on after the launch."""
    client = client_factory(aws)
    ec2 = client("ec2")
    network = create_network(client, 31)
    group_id = ec2.create_security_group(GroupName="access", Description="access", VpcId=network.vpc_id)["GroupId"]
    ami = client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64")["Parameter"]["Value"]
    instance_id = ec2.run_instances(ImageId=ami, InstanceType="t4g.nano", MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": network.subnet_ids[0], "Groups": [group_id], "AssociatePublicIpAddress": False},
    ])["Instances"][0]["InstanceId"]
    assert ec2.monitor_instances(InstanceIds=[instance_id])["InstanceMonitorings"] == [
        {"InstanceId": instance_id, "Monitoring": {"State": "pending"}}]
    [instance] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    assert {
        "groups": [g["GroupId"] for g in instance["SecurityGroups"]],
        "public_ip": instance.get("PublicIpAddress"),
        "association": "Association" in instance["NetworkInterfaces"][0],
        "monitoring": instance["Monitoring"]["State"],
    } == {"groups": [group_id], "public_ip": None, "association": False, "monitoring": "enabled"}


def test_run_instances_tags_the_interfaces_it_creates(aws: LocalAws) -> None:
    """TagSpecifications of type network-interface, from the request or its launch template (how Karpenter tags a
    node's interfaces): on the interface RunInstances creates, not on one attached by id."""
    client = client_factory(aws)
    ec2 = client("ec2")
    network = create_network(client, 32)
    ami = client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64")["Parameter"]["Value"]
    owned = [{"Key": "kubernetes.io/cluster/c1", "Value": "owned"}]
    launched = ec2.run_instances(ImageId=ami, InstanceType="t4g.nano", MinCount=1, MaxCount=1,
                                 SubnetId=network.subnet_ids[0], TagSpecifications=[
                                     {"ResourceType": "network-interface", "Tags": owned}])["Instances"][0]
    template = ec2.create_launch_template(LaunchTemplateName="nic-tags", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t4g.nano",
        "TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "karpenter.sh/nodepool",
                                                                               "Value": "cpu"}]}]})
    from_template = ec2.run_instances(MinCount=1, MaxCount=1, SubnetId=network.subnet_ids[0], LaunchTemplate={
        "LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"]})["Instances"][0]
    existing = ec2.create_network_interface(SubnetId=network.subnet_ids[1])["NetworkInterface"]["NetworkInterfaceId"]
    attached = ec2.run_instances(ImageId=ami, InstanceType="t4g.nano", MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "NetworkInterfaceId": existing}], TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": owned}])["Instances"][0]

    def tags(instance: dict) -> dict[str, str]:
        eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        [found] = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
        return {t["Key"]: t["Value"] for t in found.get("TagSet", [])}

    assert (tags(launched), tags(from_template), tags(attached)) == (
        {"kubernetes.io/cluster/c1": "owned"}, {"karpenter.sh/nodepool": "cpu"}, {})
