"""EKS access entries and access policy associations."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .support import ClientFactory, Cluster, create_cluster, create_role

ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def test_access_entry_lifecycle(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    principal = create_role(client, f"{cluster.name}-admin", "ec2.amazonaws.com")
    entry = eks.create_access_entry(
        clusterName=cluster.name, principalArn=principal, kubernetesGroups=["admins"], tags={"a": "b"}
    )["accessEntry"]
    assert entry["type"] == "STANDARD"
    assert entry["username"] == f"arn:aws:sts::123456789012:assumed-role/{cluster.name}-admin/{{{{SessionName}}}}"
    assert entry["accessEntryArn"].startswith(
        f"arn:aws:eks:us-west-2:123456789012:access-entry/{cluster.name}/role/123456789012/{cluster.name}-admin/"
    )

    updated = eks.update_access_entry(
        clusterName=cluster.name, principalArn=principal, kubernetesGroups=["viewers"], username="admin"
    )["accessEntry"]
    assert (updated["kubernetesGroups"], updated["username"]) == (["viewers"], "admin")
    described = eks.describe_access_entry(clusterName=cluster.name, principalArn=principal)["accessEntry"]
    assert (described["kubernetesGroups"], described["tags"]) == (["viewers"], {"a": "b"})
    assert eks.list_access_entries(clusterName=cluster.name)["accessEntries"] == [principal]

    eks.delete_access_entry(clusterName=cluster.name, principalArn=principal)
    assert eks.list_access_entries(clusterName=cluster.name)["accessEntries"] == []


def test_node_access_entries_get_the_node_identity(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    node_role = create_role(client, f"{cluster.name}-nodes", "ec2.amazonaws.com")
    entry = eks.create_access_entry(clusterName=cluster.name, principalArn=node_role, type="EC2_LINUX")["accessEntry"]
    assert (entry["username"], entry["kubernetesGroups"]) == ("system:node:{{EC2PrivateDNSName}}", ["system:nodes"])

    with pytest.raises(ClientError) as error:
        eks.update_access_entry(clusterName=cluster.name, principalArn=node_role, kubernetesGroups=["x"])
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_access_policies_associate_list_and_disassociate(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    principal = create_role(client, f"{cluster.name}-ops", "ec2.amazonaws.com")
    eks.create_access_entry(clusterName=cluster.name, principalArn=principal)

    cluster_wide = eks.associate_access_policy(
        clusterName=cluster.name, principalArn=principal, policyArn=ADMIN_POLICY, accessScope={"type": "cluster"}
    )
    assert cluster_wide["associatedAccessPolicy"]["accessScope"] == {"type": "cluster"}
    eks.associate_access_policy(
        clusterName=cluster.name,
        principalArn=principal,
        policyArn=VIEW_POLICY,
        accessScope={"type": "namespace", "namespaces": ["ml"]},
    )

    listed = eks.list_associated_access_policies(clusterName=cluster.name, principalArn=principal)
    assert listed["principalArn"] == principal
    assert {p["policyArn"]: p["accessScope"] for p in listed["associatedAccessPolicies"]} == {
        ADMIN_POLICY: {"type": "cluster"},
        VIEW_POLICY: {"type": "namespace", "namespaces": ["ml"]},
    }
    assert eks.list_access_entries(clusterName=cluster.name, associatedPolicyArn=VIEW_POLICY)["accessEntries"] == [
        principal
    ]

    eks.disassociate_access_policy(clusterName=cluster.name, principalArn=principal, policyArn=VIEW_POLICY)
    remaining = eks.list_associated_access_policies(clusterName=cluster.name, principalArn=principal)[
        "associatedAccessPolicies"
    ]
    assert [p["policyArn"] for p in remaining] == [ADMIN_POLICY]
    with pytest.raises(ClientError) as error:
        eks.disassociate_access_policy(clusterName=cluster.name, principalArn=principal, policyArn=VIEW_POLICY)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_access_policies_names_the_eks_policies(client: ClientFactory) -> None:
    policies = {p["name"]: p["arn"] for p in client("eks").list_access_policies()["accessPolicies"]}
    assert policies["AmazonEKSClusterAdminPolicy"] == ADMIN_POLICY


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda eks, c, p: eks.describe_access_entry(clusterName=c, principalArn=p), "ResourceNotFoundException"),
        (
            lambda eks, c, p: eks.update_access_entry(clusterName=c, principalArn=p, username="x"),
            "ResourceNotFoundException",
        ),
        (lambda eks, c, p: eks.delete_access_entry(clusterName=c, principalArn=p), "ResourceNotFoundException"),
        (
            lambda eks, c, p: eks.associate_access_policy(
                clusterName=c, principalArn=p, policyArn=ADMIN_POLICY, accessScope={"type": "cluster"}
            ),
            "ResourceNotFoundException",
        ),
        (
            lambda eks, c, p: eks.list_associated_access_policies(clusterName=c, principalArn=p),
            "ResourceNotFoundException",
        ),
        (
            lambda eks, c, p: eks.create_access_entry(clusterName=c, principalArn="not-an-arn"),
            "InvalidParameterException",
        ),
    ],
)
def test_access_entry_errors(client: ClientFactory, cluster: Cluster, call, code: str) -> None:
    missing_principal = "arn:aws:iam::123456789012:role/nobody"
    with pytest.raises(ClientError) as error:
        call(client("eks"), cluster.name, missing_principal)
    assert error.value.response["Error"]["Code"] == code


def test_invalid_policy_and_scope_are_rejected(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    principal = create_role(client, f"{cluster.name}-dev", "ec2.amazonaws.com")
    eks.create_access_entry(clusterName=cluster.name, principalArn=principal)
    for policy_arn, scope in (
        ("arn:aws:eks::aws:cluster-access-policy/NoSuchPolicy", {"type": "cluster"}),
        (ADMIN_POLICY, {"type": "namespace"}),
    ):
        with pytest.raises(ClientError) as error:
            eks.associate_access_policy(
                clusterName=cluster.name, principalArn=principal, policyArn=policy_arn, accessScope=scope
            )
        assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_duplicate_access_entry_is_resource_in_use(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    principal = create_role(client, f"{cluster.name}-twice", "ec2.amazonaws.com")
    eks.create_access_entry(clusterName=cluster.name, principalArn=principal)
    with pytest.raises(ClientError) as error:
        eks.create_access_entry(clusterName=cluster.name, principalArn=principal)
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"


def test_access_entries_need_api_authentication(client: ClientFactory) -> None:
    config_map_cluster = create_cluster(client, authentication_mode="CONFIG_MAP")
    with pytest.raises(ClientError) as error:
        client("eks").create_access_entry(clusterName=config_map_cluster.name, principalArn=config_map_cluster.role_arn)
    assert error.value.response["Error"]["Code"] == "InvalidRequestException"


def test_cluster_creator_becomes_admin_when_asked(client: ClientFactory) -> None:
    bootstrapped = create_cluster(client)
    eks = client("eks")
    assert eks.list_access_entries(clusterName=bootstrapped.name)["accessEntries"] == []

    eks.create_cluster(
        name=f"{bootstrapped.name}-bootstrap",
        roleArn=bootstrapped.role_arn,
        resourcesVpcConfig={"subnetIds": bootstrapped.network.subnet_ids},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    [creator] = eks.list_access_entries(clusterName=f"{bootstrapped.name}-bootstrap")["accessEntries"]
    assert creator == "arn:aws:iam::123456789012:user/moto"  # who moto says the dummy credentials are
    policies = eks.list_associated_access_policies(clusterName=f"{bootstrapped.name}-bootstrap", principalArn=creator)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [ADMIN_POLICY]
