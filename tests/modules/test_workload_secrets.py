"""workload_secrets: secrets the user owns in Secrets Manager reach the workload namespaces through External Secrets,
and the External Secrets role may read exactly those (least privilege), with or without the platform's own."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.modules.blueprints import added_types, addresses
from tests.support import k8s
from tests.support.synth import synth

SECRETS = {"workload_namespaces": ["ml-workloads", "research"],
           "workload_secrets": {"hf-token": {"secret": "ml/hf-token", "key": "token"},
                                "wandb": {"secret": "team/wandb-api-key", "namespaces": ["research"]}}}
ARN = "arn:${data.aws_partition.partition.partition}:secretsmanager:us-west-2:" \
      "${data.aws_caller_identity.account.account_id}:secret:"


@pytest.fixture(scope="module")
def with_secrets():
    return synth(SECRETS)


def reader_policy(s):
    [policy] = [p for name, p in s.resources("aws", "aws_iam_role_policy").items() if name.startswith("secret-reader")]
    return json.loads(policy["policy"])


def test_each_secret_lands_in_its_namespaces_under_its_key(with_secrets):
    objects = with_secrets.objects("workload-secrets")
    for o in objects:
        k8s.validate(o)
    assert {(o["metadata"]["namespace"], o["metadata"]["name"]): (o["spec"]["target"]["name"], o["spec"]["data"])
            for o in objects} == {
        ("ml-workloads", "hf-token"): ("hf-token", [{"secretKey": "token", "remoteRef": {"key": "ml/hf-token"}}]),
        ("research", "hf-token"): ("hf-token", [{"secretKey": "token", "remoteRef": {"key": "ml/hf-token"}}]),
        ("research", "wandb"): ("wandb", [{"secretKey": "value", "remoteRef": {"key": "team/wandb-api-key"}}]),
    }
    assert {o["spec"]["secretStoreRef"]["name"] for o in objects} == {"aws-secrets-manager"}


def test_the_reader_may_read_exactly_the_named_secrets(with_secrets):
    """With no platform secret (no module on), the role holds only the user's secrets: no platform statement, no
    Resource of another secret, no wildcard beyond the six characters Secrets Manager appends to a name."""
    assert reader_policy(with_secrets)["Statement"] == [{
        "Sid": "ReadNamedUserSecrets", "Effect": "Allow",
        "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        "Resource": [f"{ARN}ml/hf-token-??????", f"{ARN}team/wandb-api-key-??????"]}]


def test_with_a_module_the_platform_secrets_and_the_users_are_separate_statements():
    s = synth({**SECRETS, "enable_argocd": True})
    assert [st["Sid"] for st in reader_policy(s)["Statement"]] == [
        "ReadPlatformSecrets", "DecryptThroughSecretsManager", "ReadNamedUserSecrets"]


def test_workload_secrets_alone_bring_external_secrets_and_its_role():
    off, on = synth(), synth({"workload_secrets": {"hf-token": {"secret": "ml/hf-token"}}})
    assert set(on.releases()) - set(off.releases()) == {"external-secrets", "platform-secrets", "workload-secrets"}
    assert added_types(addresses(on.aws), addresses(off.aws)) == Counter({
        "resource.aws_iam_role": 1, "resource.aws_iam_role_policy": 1, "resource.aws_eks_pod_identity_association": 1})
    [store] = [o for o in on.objects("platform-secrets") if o["kind"] == "ClusterSecretStore"]
    assert [o["kind"] for o in on.objects("platform-secrets")] == ["ClusterSecretStore"]  # no generated secret
    assert store["metadata"]["name"] == "aws-secrets-manager"


def test_only_names_reach_the_synthesized_stacks(with_secrets):
    text = json.dumps([with_secrets.aws, with_secrets.kubernetes])
    assert "ml/hf-token" in text  # names, which are not secret
    assert "secret_string" not in text  # no value of a user secret is ever written
    assert not with_secrets.resources("aws", "aws_secretsmanager_secret")  # nor any secret created for it
