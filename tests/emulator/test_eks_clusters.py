"""EKS clusters and node groups read back what they were created with, and updates are recorded."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .support import ClientFactory, Cluster, create_cluster, create_network, create_role


def test_cluster_reads_back_its_configuration(client: ClientFactory) -> None:
    key_arn = client("kms").create_key()["KeyMetadata"]["Arn"]
    created = create_cluster(
        client,
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key_arn}}],
        logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
        upgradePolicy={"supportType": "STANDARD"},
        kubernetesNetworkConfig={"serviceIpv4Cidr": "172.21.0.0/16"},
    )
    cluster = client("eks").describe_cluster(name=created.name)["cluster"]

    assert (cluster["status"], cluster["version"]) == ("ACTIVE", "1.33")
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]
    assert cluster["logging"]["clusterLogging"] == [
        {"types": ["api", "audit"], "enabled": True},
        {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
    ]
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
    assert cluster["kubernetesNetworkConfig"] == {
        "serviceIpv4Cidr": "172.21.0.0/16",
        "ipFamily": "ipv4",
        "elasticLoadBalancing": {"enabled": False},
    }
    vpc_config = cluster["resourcesVpcConfig"]
    assert vpc_config["vpcId"] == created.network.vpc_id
    assert (vpc_config["endpointPublicAccess"], vpc_config["endpointPrivateAccess"]) == (True, False)
    assert vpc_config["publicAccessCidrs"] == ["0.0.0.0/0"]


def test_cluster_security_group_exists_in_ec2_until_the_cluster_is_deleted(client: ClientFactory) -> None:
    created = create_cluster(client)
    eks, ec2 = client("eks"), client("ec2")
    group_id = eks.describe_cluster(name=created.name)["cluster"]["resourcesVpcConfig"]["clusterSecurityGroupId"]
    [group] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert group["VpcId"] == created.network.vpc_id
    assert {"Key": "aws:eks:cluster-name", "Value": created.name} in group["Tags"]

    assert eks.delete_cluster(name=created.name)["cluster"]["status"] == "DELETING"
    with pytest.raises(ClientError) as error:
        ec2.describe_security_groups(GroupIds=[group_id])
    assert error.value.response["Error"]["Code"] == "InvalidGroup.NotFound"


def test_cluster_needs_existing_subnets_in_two_zones(client: ClientFactory) -> None:
    network = create_network(client, 90)
    role = create_role(client, "subnet-check-role", "eks.amazonaws.com")
    for subnet_ids in (["subnet-00000000000000000", network.subnet_ids[0]], network.subnet_ids[:1]):
        with pytest.raises(ClientError) as error:
            client("eks").create_cluster(
                name="subnet-check", roleArn=role, resourcesVpcConfig={"subnetIds": subnet_ids}
            )
        assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_update_cluster_config_merges_and_is_described(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    update = eks.update_cluster_config(
        name=cluster.name, resourcesVpcConfig={"endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}
    )["update"]
    assert (update["type"], update["status"]) == ("EndpointAccessUpdate", "Successful")
    assert eks.describe_update(name=cluster.name, updateId=update["id"])["update"]["id"] == update["id"]

    vpc_config = eks.describe_cluster(name=cluster.name)["cluster"]["resourcesVpcConfig"]
    assert vpc_config["subnetIds"] == cluster.network.subnet_ids  # untouched by a partial update
    assert (vpc_config["endpointPrivateAccess"], vpc_config["publicAccessCidrs"]) == (True, ["203.0.113.0/24"])

    eks.update_cluster_config(
        name=cluster.name, logging={"clusterLogging": [{"types": ["scheduler"], "enabled": True}]}
    )
    logging = eks.describe_cluster(name=cluster.name)["cluster"]["logging"]["clusterLogging"]
    assert logging[0] == {"types": ["scheduler"], "enabled": True}


def test_authentication_mode_only_moves_towards_api(client: ClientFactory) -> None:
    eks = client("eks")
    created = create_cluster(client, authentication_mode="API_AND_CONFIG_MAP")
    eks.update_cluster_config(name=created.name, accessConfig={"authenticationMode": "API"})
    assert eks.describe_cluster(name=created.name)["cluster"]["accessConfig"]["authenticationMode"] == "API"
    with pytest.raises(ClientError) as error:
        eks.update_cluster_config(name=created.name, accessConfig={"authenticationMode": "CONFIG_MAP"})
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_cluster_version_moves_one_minor_at_a_time(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    update = eks.update_cluster_version(name=cluster.name, version="1.34")["update"]
    assert update["type"] == "VersionUpdate"
    assert eks.describe_cluster(name=cluster.name)["cluster"]["version"] == "1.34"
    with pytest.raises(ClientError) as error:
        eks.update_cluster_version(name=cluster.name, version="1.36")
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_node_group_reads_back_launch_template_taints_labels_and_update_config(
    client: ClientFactory, cluster: Cluster
) -> None:
    eks, ec2 = client("eks"), client("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{cluster.name}-nodes", LaunchTemplateData={"InstanceType": "m6i.large"}
    )["LaunchTemplate"]
    node_role = create_role(client, f"{cluster.name}-node", "ec2.amazonaws.com")
    eks.create_nodegroup(
        clusterName=cluster.name,
        nodegroupName="system",
        nodeRole=node_role,
        subnets=cluster.network.subnet_ids,
        scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
        launchTemplate={"id": template["LaunchTemplateId"]},
        labels={"pool": "system"},
        taints=[{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}],
        updateConfig={"maxUnavailablePercentage": 25},
        tags={"Name": "system"},
    )
    nodegroup = eks.describe_nodegroup(clusterName=cluster.name, nodegroupName="system")["nodegroup"]

    assert nodegroup["launchTemplate"] == {
        "id": template["LaunchTemplateId"],
        "name": f"{cluster.name}-nodes",
        "version": "1",
    }
    assert (nodegroup["version"], nodegroup["amiType"]) == ("1.33", "AL2023_x86_64_STANDARD")
    assert nodegroup["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert nodegroup["labels"] == {"pool": "system"}
    assert nodegroup["updateConfig"] == {"maxUnavailablePercentage": 25}
    assert "remoteAccess" not in nodegroup and "diskSize" not in nodegroup
    assert nodegroup["resources"]["autoScalingGroups"][0]["name"].startswith("eks-system-")

    eks.tag_resource(resourceArn=nodegroup["nodegroupArn"], tags={"team": "ml"})
    assert eks.list_tags_for_resource(resourceArn=nodegroup["nodegroupArn"])["tags"] == {"Name": "system", "team": "ml"}

    config_update = eks.update_nodegroup_config(
        clusterName=cluster.name, nodegroupName="system", scalingConfig={"desiredSize": 3}
    )["update"]
    version_update = eks.update_nodegroup_version(
        clusterName=cluster.name,
        nodegroupName="system",
        launchTemplate={"id": template["LaunchTemplateId"], "version": "1"},
    )["update"]
    assert eks.list_updates(name=cluster.name, nodegroupName="system")["updateIds"] == [
        config_update["id"],
        version_update["id"],
    ]
    described = eks.describe_update(name=cluster.name, updateId=version_update["id"], nodegroupName="system")["update"]
    assert described["params"] == [{"type": "LaunchTemplateVersion", "value": "1"}]


def test_node_group_with_unknown_launch_template_is_rejected(client: ClientFactory, cluster: Cluster) -> None:
    with pytest.raises(ClientError) as error:
        client("eks").create_nodegroup(
            clusterName=cluster.name,
            nodegroupName="bad",
            nodeRole=cluster.role_arn,
            subnets=cluster.network.subnet_ids,
            launchTemplate={"id": "lt-00000000000000000"},
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"
    assert client("eks").list_nodegroups(clusterName=cluster.name)["nodegroups"] == []
