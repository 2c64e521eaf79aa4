"""Small shared pieces of the AWS-layer modules: IAM documents as dicts, tags."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence


def policy(*statements: Mapping[str, Any]) -> str:
    """An IAM policy document; tokens inside strings are resolved by cdktn at synth time."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def allow(actions: Iterable[str], resources: Iterable[str] | str = "*", sid: str | None = None,
          condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions),
                            "Resource": resources if isinstance(resources, str) else list(resources)}
    if sid:
        stmt["Sid"] = sid
    if condition:
        stmt["Condition"] = dict(condition)
    return stmt


def service_trust(*services: str) -> str:
    return policy({"Effect": "Allow", "Principal": {"Service": list(services) if len(services) > 1 else services[0]},
                   "Action": "sts:AssumeRole"})


@dataclass(frozen=True)
class ClusterScope:
    """Where the cluster lives: enough to name its ARN before it exists, and to scope Pod Identity trust to it."""

    partition: str
    region: str
    account_id: str
    cluster_name: str

    @property
    def cluster_arn(self) -> str:
        return f"arn:{self.partition}:eks:{self.region}:{self.account_id}:cluster/{self.cluster_name}"

    def pod_identity_trust(self, namespace: str, service_account: str | Sequence[str]) -> str:
        """EKS Pod Identity trust for service accounts of this cluster: the session tags EKS attaches
        (awsdocs/amazon-eks-user-guide pod-id-role.adoc, pod-id-abac.adoc) must name this cluster, namespace and
        service account (any of several, when a list), so no other association in the account (another cluster or
        namespace) can assume the role."""
        if not isinstance(service_account, str):
            service_account = sorted(service_account)
        return policy({
            "Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {
                "aws:RequestTag/eks-cluster-arn": self.cluster_arn,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }},
        })


def managed_policy(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def pod_identity_role(scope: Any, *, role_name: str, cluster: ClusterScope, cluster_name: str, namespace: str,
                      service_account: str | Sequence[str], policy_document: str, policy_id: str = "policy") -> Any:
    """An IAM role only `namespace/service_account` of this cluster can assume (Pod Identity), its inline policy and
    the association, as children "role", `policy_id` and "identity" of `scope`; returns the role. (`policy_id` keeps
    the terraform address of a policy made before this helper existed.) Several service accounts (one component
    each, as Airflow's): the role trusts any of them and each has its association, "identity-<service account>"."""
    from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
    from cdktn_provider_aws.iam_role import IamRole
    from cdktn_provider_aws.iam_role_policy import IamRolePolicy

    role = IamRole(scope, "role", name=role_name,
                   assume_role_policy=cluster.pod_identity_trust(namespace, service_account))
    IamRolePolicy(scope, policy_id, role=role.id, policy=policy_document)
    accounts = {"identity": service_account} if isinstance(service_account, str) else {
        f"identity-{account}": account for account in sorted(service_account)}
    for construct_id, account in accounts.items():
        EksPodIdentityAssociation(scope, construct_id, cluster_name=cluster_name, namespace=namespace,
                                  service_account=account, role_arn=role.arn)
    return role
