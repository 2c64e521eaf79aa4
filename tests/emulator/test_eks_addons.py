"""EKS managed add-ons: create/describe/update/delete/list, versions and configuration, pod identity through add-ons."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .support import ClientFactory, Cluster, create_role


def test_create_addon_reports_active_with_the_default_version_for_the_cluster(
    client: ClientFactory, cluster: Cluster
) -> None:
    eks = client("eks")
    created = eks.create_addon(
        clusterName=cluster.name,
        addonName="coredns",
        configurationValues=json.dumps({"replicaCount": 3}),
        tags={"team": "platform"},
    )["addon"]

    described = eks.describe_addon(clusterName=cluster.name, addonName="coredns")["addon"]
    assert created["addonArn"] == described["addonArn"]
    assert described["status"] == "ACTIVE"
    assert described["addonVersion"] == "v1.12.4-eksbuild.1"  # the catalog's default for Kubernetes 1.33
    assert json.loads(described["configurationValues"]) == {"replicaCount": 3}
    assert described["tags"] == {"team": "platform"}
    assert described["addonArn"].startswith(f"arn:aws:eks:us-west-2:123456789012:addon/{cluster.name}/coredns/")
    assert eks.list_addons(clusterName=cluster.name)["addons"] == ["coredns"]


def test_addon_pod_identity_associations_are_created_owned_and_replaced(
    client: ClientFactory, cluster: Cluster
) -> None:
    eks = client("eks")
    first_role = create_role(client, f"{cluster.name}-cni", "pods.eks.amazonaws.com")
    second_role = create_role(client, f"{cluster.name}-cni-2", "pods.eks.amazonaws.com")
    addon = eks.create_addon(
        clusterName=cluster.name,
        addonName="vpc-cni",
        podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": first_role}],
    )["addon"]

    [association_arn] = addon["podIdentityAssociations"]
    [summary] = eks.list_pod_identity_associations(clusterName=cluster.name)["associations"]
    assert summary["associationArn"] == association_arn
    assert (summary["namespace"], summary["serviceAccount"], summary["ownerArn"]) == (
        "kube-system",
        "aws-node",
        addon["addonArn"],
    )
    association = eks.describe_pod_identity_association(
        clusterName=cluster.name, associationId=summary["associationId"]
    )["association"]
    assert association["roleArn"] == first_role

    with pytest.raises(ClientError) as owned:
        eks.delete_pod_identity_association(clusterName=cluster.name, associationId=summary["associationId"])
    assert owned.value.response["Error"]["Code"] == "InvalidRequestException"

    update = eks.update_addon(
        clusterName=cluster.name,
        addonName="vpc-cni",
        podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": second_role}],
    )["update"]
    assert update["type"] == "AddonUpdate"
    [replacement] = eks.list_pod_identity_associations(clusterName=cluster.name)["associations"]
    assert (
        eks.describe_pod_identity_association(clusterName=cluster.name, associationId=replacement["associationId"])[
            "association"
        ]["roleArn"]
        == second_role
    )

    eks.delete_addon(clusterName=cluster.name, addonName="vpc-cni")
    assert eks.list_pod_identity_associations(clusterName=cluster.name)["associations"] == []


def test_update_addon_returns_a_successful_update_that_describe_update_finds(
    client: ClientFactory, cluster: Cluster
) -> None:
    eks = client("eks")
    eks.create_addon(clusterName=cluster.name, addonName="kube-proxy")
    update = eks.update_addon(
        clusterName=cluster.name,
        addonName="kube-proxy",
        addonVersion="v1.33.3-eksbuild.10",
        configurationValues="{}",
        resolveConflicts="OVERWRITE",
    )["update"]

    described = eks.describe_update(name=cluster.name, updateId=update["id"], addonName="kube-proxy")["update"]
    assert described["status"] == "Successful"
    assert {param["type"] for param in described["params"]} == {
        "AddonVersion",
        "ConfigurationValues",
        "ResolveConflicts",
    }
    assert eks.list_updates(name=cluster.name, addonName="kube-proxy")["updateIds"] == [update["id"]]
    addon = eks.describe_addon(clusterName=cluster.name, addonName="kube-proxy")["addon"]
    assert (addon["addonVersion"], addon["configurationValues"]) == ("v1.33.3-eksbuild.10", "{}")


def test_delete_addon_reports_deleting_and_removes_it(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    eks.create_addon(clusterName=cluster.name, addonName="eks-pod-identity-agent")
    assert (
        eks.delete_addon(clusterName=cluster.name, addonName="eks-pod-identity-agent")["addon"]["status"] == "DELETING"
    )
    assert eks.list_addons(clusterName=cluster.name)["addons"] == []


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda eks, name: eks.describe_addon(clusterName=name, addonName="coredns"), "ResourceNotFoundException"),
        (
            lambda eks, name: eks.update_addon(clusterName=name, addonName="coredns", addonVersion="v1"),
            "ResourceNotFoundException",
        ),
        (lambda eks, name: eks.delete_addon(clusterName=name, addonName="coredns"), "ResourceNotFoundException"),
        (
            lambda eks, name: eks.describe_addon(clusterName="no-such-cluster", addonName="coredns"),
            "ResourceNotFoundException",
        ),
        (
            lambda eks, name: eks.describe_update(name=name, updateId="00000000-0000-0000-0000-000000000000"),
            "ResourceNotFoundException",
        ),
        (lambda eks, name: eks.create_addon(clusterName=name, addonName="no-such-addon"), "InvalidParameterException"),
    ],
)
def test_addon_errors(client: ClientFactory, cluster: Cluster, call, code: str) -> None:
    with pytest.raises(ClientError) as error:
        call(client("eks"), cluster.name)
    assert error.value.response["Error"]["Code"] == code


def test_creating_an_existing_addon_is_resource_in_use(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    eks.create_addon(clusterName=cluster.name, addonName="coredns")
    with pytest.raises(ClientError) as error:
        eks.create_addon(clusterName=cluster.name, addonName="coredns")
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"


def test_describe_addon_versions_marks_one_default_per_kubernetes_version(client: ClientFactory) -> None:
    eks = client("eks")
    [coredns] = eks.describe_addon_versions(addonName="coredns", kubernetesVersion="1.32")["addons"]
    assert (coredns["type"], coredns["owner"], coredns["publisher"]) == ("networking", "aws", "eks")
    [version] = coredns["addonVersions"]
    assert version["addonVersion"] == "v1.11.4-eksbuild.24"
    assert version["compatibilities"] == [{"clusterVersion": "1.32", "platformVersions": ["*"], "defaultVersion": True}]

    every_version = eks.describe_addon_versions(addonName="kube-proxy")["addons"][0]["addonVersions"]
    defaults = [c["clusterVersion"] for v in every_version for c in v["compatibilities"] if c["defaultVersion"]]
    # The versions EKS still creates clusters on (2026-11-30): 1.31's extended support ended on 2026-11-26.
    assert sorted(defaults) == ["1.32", "1.33", "1.34", "1.35", "1.36"]

    storage = {addon["addonName"] for addon in eks.describe_addon_versions(types=["storage"])["addons"]}
    assert {"aws-ebs-csi-driver", "aws-efs-csi-driver", "aws-fsx-csi-driver"} <= storage
    assert eks.describe_addon_versions(addonName="no-such-addon")["addons"] == []


def test_describe_addon_configuration_lists_pod_identity_service_accounts(client: ClientFactory) -> None:
    configuration = client("eks").describe_addon_configuration(
        addonName="aws-ebs-csi-driver", addonVersion="v1.51.1-eksbuild.1"
    )
    assert json.loads(configuration["configurationSchema"])["type"] == "object"
    assert configuration["podIdentityConfiguration"] == [
        {
            "serviceAccount": "ebs-csi-controller-sa",
            "recommendedManagedPolicies": ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
        }
    ]
    with pytest.raises(ClientError) as error:
        client("eks").describe_addon_configuration(addonName="no-such-addon", addonVersion="v1")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
