"""workload_s3_access: per workload namespace, an IAM role that only that namespace's ml-workload service account of
this cluster can assume, allowed exactly the listed reads and prefix writes, and the service account itself."""

from __future__ import annotations

import json

import pytest

from tests.support import k8s
from tests.support.synth import synth

ACCESS = {"workload_namespaces": ["ml-workloads", "research"],
          "workload_s3_access": {"ml-workloads": {"read_buckets": ["datasets-x"],
                                                  "write_prefixes": ["s3://ml-artifacts/team-a/", "s3://scratch-b/"]},
                                 "research": {"read_buckets": ["datasets-x", "papers-y"]}}}
S3 = "arn:${data.aws_partition.partition.partition}:s3:::"


@pytest.fixture(scope="module")
def access():
    return synth(ACCESS)


def by_namespace(s, rtype):
    return {name.split("_")[0].removeprefix("workload-s3-"): r for name, r in s.resources("aws", rtype).items()
            if name.startswith("workload-s3-")}


def test_each_namespace_gets_exactly_its_grants(access):
    policies = {ns: json.loads(p["policy"])["Statement"] for ns, p in by_namespace(access, "aws_iam_role_policy").items()}
    assert policies == {
        "ml-workloads": [
            {"Sid": "ListReadBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
             "Resource": [f"{S3}datasets-x"]},
            {"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{S3}datasets-x/*"]},
            {"Sid": "ListPrefix0", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"{S3}ml-artifacts",
             "Condition": {"StringLike": {"s3:prefix": ["team-a/*"]}}},
            {"Sid": "ListPrefix1", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"{S3}scratch-b",
             "Condition": {"StringLike": {"s3:prefix": ["*"]}}},
            {"Sid": "ReadWriteUnderPrefixes", "Effect": "Allow",
             "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
             "Resource": [f"{S3}ml-artifacts/team-a/*", f"{S3}scratch-b/*"]},
        ],
        "research": [
            {"Sid": "ListReadBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
             "Resource": [f"{S3}datasets-x", f"{S3}papers-y"]},
            {"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": [f"{S3}datasets-x/*", f"{S3}papers-y/*"]},
        ],
    }


def test_only_the_namespaces_service_account_of_this_cluster_assumes_its_role(access):
    roles = by_namespace(access, "aws_iam_role")
    associations = by_namespace(access, "aws_eks_pod_identity_association")
    for ns in ("ml-workloads", "research"):
        assert roles[ns]["name"] == f"mlplat-workload-{ns}"
        condition = json.loads(roles[ns]["assume_role_policy"])["Statement"][0]["Condition"]["StringEquals"]
        assert (condition["aws:RequestTag/kubernetes-namespace"],
                condition["aws:RequestTag/kubernetes-service-account"]) == (ns, "ml-workload")
        assert (associations[ns]["namespace"], associations[ns]["service_account"]) == (ns, "ml-workload")


def test_the_service_account_exists_in_each_namespace_with_access_only(access):
    accounts = [o for o in access.objects("workload-namespaces") if o["kind"] == "ServiceAccount"]
    for o in accounts:
        k8s.validate(o)
    assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in accounts) == [
        ("ml-workloads", "ml-workload"), ("research", "ml-workload")]
    assert not [o for o in synth().objects("workload-namespaces") if o["kind"] == "ServiceAccount"]
    assert not by_namespace(synth(), "aws_iam_role")
