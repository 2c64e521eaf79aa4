"""EKS pod identity associations."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .support import ClientFactory, Cluster, create_role


def test_pod_identity_association_lifecycle(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    role = create_role(client, f"{cluster.name}-karpenter", "pods.eks.amazonaws.com")
    other_role = create_role(client, f"{cluster.name}-karpenter-2", "pods.eks.amazonaws.com")
    created = eks.create_pod_identity_association(
        clusterName=cluster.name,
        namespace="karpenter",
        serviceAccount="karpenter",
        roleArn=role,
        tags={"app": "karpenter"},
    )["association"]
    association_id = created["associationId"]
    assert association_id.startswith("a-") and len(association_id) == 19
    assert (
        created["associationArn"]
        == f"arn:aws:eks:us-west-2:123456789012:podidentityassociation/{cluster.name}/{association_id}"
    )
    assert created["disableSessionTags"] is False

    updated = eks.update_pod_identity_association(
        clusterName=cluster.name, associationId=association_id, roleArn=other_role
    )["association"]
    assert updated["roleArn"] == other_role
    described = eks.describe_pod_identity_association(clusterName=cluster.name, associationId=association_id)[
        "association"
    ]
    assert (described["roleArn"], described["tags"]) == (other_role, {"app": "karpenter"})

    [summary] = eks.list_pod_identity_associations(clusterName=cluster.name, namespace="karpenter")["associations"]
    assert (summary["associationId"], summary["serviceAccount"]) == (association_id, "karpenter")
    assert "ownerArn" not in summary
    assert (
        eks.list_pod_identity_associations(clusterName=cluster.name, serviceAccount="someone-else")["associations"]
        == []
    )

    eks.delete_pod_identity_association(clusterName=cluster.name, associationId=association_id)
    assert eks.list_pod_identity_associations(clusterName=cluster.name)["associations"] == []


def test_one_association_per_service_account(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    role = create_role(client, f"{cluster.name}-app", "pods.eks.amazonaws.com")
    eks.create_pod_identity_association(
        clusterName=cluster.name, namespace="ml", serviceAccount="trainer", roleArn=role
    )
    with pytest.raises(ClientError) as error:
        eks.create_pod_identity_association(
            clusterName=cluster.name, namespace="ml", serviceAccount="trainer", roleArn=role
        )
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"


@pytest.mark.parametrize(
    "call",
    [
        lambda eks, c: eks.describe_pod_identity_association(clusterName=c, associationId="a-00000000000000000"),
        lambda eks, c: eks.update_pod_identity_association(
            clusterName=c, associationId="a-00000000000000000", roleArn="arn:aws:iam::123456789012:role/x"
        ),
        lambda eks, c: eks.delete_pod_identity_association(clusterName=c, associationId="a-00000000000000000"),
        lambda eks, c: eks.list_pod_identity_associations(clusterName="no-such-cluster"),
    ],
)
def test_unknown_association_is_not_found(client: ClientFactory, cluster: Cluster, call) -> None:
    with pytest.raises(ClientError) as error:
        call(client("eks"), cluster.name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_tags_on_an_association_go_through_the_tagging_api(client: ClientFactory, cluster: Cluster) -> None:
    eks = client("eks")
    role = create_role(client, f"{cluster.name}-tagged", "pods.eks.amazonaws.com")
    arn = eks.create_pod_identity_association(
        clusterName=cluster.name, namespace="ns", serviceAccount="sa", roleArn=role
    )["association"]["associationArn"]
    eks.tag_resource(resourceArn=arn, tags={"cost-center": "ml"})
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost-center": "ml"}
    eks.untag_resource(resourceArn=arn, tagKeys=["cost-center"])
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    with pytest.raises(ClientError) as error:
        eks.list_tags_for_resource(resourceArn=f"{arn}-gone")
    assert error.value.response["Error"]["Code"] == "NotFoundException"
