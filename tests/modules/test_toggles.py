"""Each module toggle adds exactly its resources to both stacks; with every toggle off (the canonical blueprint)
none of them exists."""

from __future__ import annotations

from collections import Counter

import pytest

from mlplat.catalog import REGISTRY
from tests.modules.blueprints import ARGOCD, KUEUE, MLFLOW, added_types, addresses
from tests.support.synth import synth

MODULE_RELEASES = {"argo-cd", "argocd-monitoring", "argocd-applications", "kueue", "kueue-queues",
                   "mlflow", "mlflow-monitoring", "kuberay-operator", "kuberay-monitoring", "leader-worker-set",
                   "kubeflow-trainer", "trainer-runtimes", "kserve-crd", "kserve", "serving-runtimes",
                   "kserve-monitoring"}
# Generated credentials reach the cluster through External Secrets: a module with a credential brings ESO along.
SECRET_DELIVERY_RELEASES = {"external-secrets", "platform-secrets"}
SECRET_DELIVERY_AWS = {"resource.aws_iam_role": 1, "resource.aws_iam_role_policy": 1,
                       "resource.aws_eks_pod_identity_association": 1}


def generated_secrets(*purposes: str) -> Counter:
    n = len(purposes)
    return Counter({"resource.aws_secretsmanager_secret": n, "resource.aws_secretsmanager_secret_version": n,
                    "ephemeral.aws_secretsmanager_random_password": n,
                    **{f"output.secret_arn_{p.replace('-', '_')}": 1 for p in purposes},
                    # External Secrets looks each one up by the name terraform chose (a prefix plus a suffix).
                    **{f"output.secret_name_{p.replace('-', '_')}": 1 for p in purposes}})


def followers_of(release: str, delta: dict) -> set[str]:
    """Other areas' add-ons that exist wherever `release` does (they depend on it)."""
    bp = synth(delta).blueprint
    return {a.name for a in REGISTRY if release in a.dependencies and a.enabled(bp) and a.name not in MODULE_RELEASES}


@pytest.fixture(scope="module")
def off():
    return synth()


def test_with_every_module_off_none_of_their_resources_exists(off):
    assert not MODULE_RELEASES & set(off.releases())
    assert not SECRET_DELIVERY_RELEASES & set(off.releases())
    aws_types = {a.split(".")[1] for a in addresses(off.aws)}
    assert not aws_types & {"aws_rds_cluster", "aws_rds_cluster_instance", "aws_db_subnet_group",
                            "aws_rds_cluster_parameter_group", "aws_secretsmanager_secret"}
    assert not {o for o in off.aws["output"] if o.startswith("mlflow_")}


@pytest.mark.parametrize(("delta", "releases", "aws"), [
    (ARGOCD, {"argo-cd"} | SECRET_DELIVERY_RELEASES, generated_secrets("argocd-admin") + Counter(SECRET_DELIVERY_AWS)),
    (KUEUE, {"kueue", "kueue-queues"}, Counter()),
    (MLFLOW, {"mlflow"} | SECRET_DELIVERY_RELEASES, generated_secrets("mlflow-admin", "mlflow-db", "mlflow-flask")
     + Counter(SECRET_DELIVERY_AWS) + Counter({
         # artifact bucket (modules/bucket.py) and the server's Pod Identity role on it
         "resource.aws_s3_bucket": 1, "resource.aws_s3_bucket_versioning": 1,
         "resource.aws_s3_bucket_server_side_encryption_configuration": 1,
         "resource.aws_s3_bucket_public_access_block": 1, "resource.aws_s3_bucket_ownership_controls": 1,
         "resource.aws_s3_bucket_policy": 1, "resource.aws_s3_bucket_lifecycle_configuration": 1,
         "resource.aws_iam_role": 1, "resource.aws_iam_role_policy": 1,
         "resource.aws_eks_pod_identity_association": 1,
         # the backend store and its network
         "resource.aws_security_group": 1, "resource.aws_vpc_security_group_ingress_rule": 1,
         "resource.aws_db_subnet_group": 1, "resource.aws_rds_cluster_parameter_group": 1,
         "resource.aws_rds_cluster": 1, "resource.aws_rds_cluster_instance": 1,
         "ephemeral.aws_secretsmanager_secret_version": 1,
         "output.mlflow_artifact_bucket": 1, "output.mlflow_db_endpoint": 1, "output.mlflow_role_arn": 1})),
    # Operators only: no AWS resource (their workloads use the pools' node roles and the users' own identities).
    ({"enable_kuberay_operator": True}, {"kuberay-operator"}, Counter()),
    ({"enable_leader_worker_set": True}, {"leader-worker-set"}, Counter()),
    ({"enable_kubeflow_trainer": True}, {"kubeflow-trainer", "trainer-runtimes"}, Counter()),
    # cert-manager issues KServe's webhook certificate.
    ({"enable_kserve": True}, {"kserve-crd", "kserve", "serving-runtimes", "cert-manager"}, Counter()),
], ids=["argocd", "kueue", "mlflow", "kuberay", "lws", "trainer", "kserve"])
def test_toggle_adds_exactly_its_resources_to_both_stacks(off, delta, releases, aws):
    on = synth(delta)
    expected_releases = releases | set().union(*(followers_of(r, delta) for r in releases))
    assert set(on.releases()) - set(off.releases()) == expected_releases
    assert set(off.releases()) <= set(on.releases())
    assert added_types(addresses(on.kubernetes), addresses(off.kubernetes)) == Counter(
        {"resource.helm_release": len(expected_releases)})
    assert added_types(addresses(on.aws), addresses(off.aws)) == aws
    assert addresses(off.aws) <= addresses(on.aws)
    # What was there before is untouched: the same values for every release both blueprints install.
    for name in set(off.releases()):
        assert on.values(name) == off.values(name), name
