"""`mlplat preflight` against the embedded AWS: the shipped blueprint passes; a pool whose instance families are not
offered in its zone, a vCPU quota below the pools' limits, a taken name, an EKS or Aurora version AWS does not offer,
an unreadable FSx import path and a Spot role in the wrong state are found and named, with their fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mlplat import preflight as pf
from mlplat import versions
from mlplat.aws import Aws
from mlplat.blueprint import parse_text
from mlplat.emulator import LocalAws
from mlplat.emulator.extensions.servicequotas import EMULATOR_VCPU_QUOTA, set_ec2_quota
from tests.support.synth import blueprint_text, synth

from .support import REGION, ClientFactory

ACCOUNT = "123456789012"


def run(shared_aws: LocalAws, delta: dict[str, Any] | None = None,
        stack: dict[str, Any] | None = None) -> pf.Report:
    bp = parse_text(blueprint_text(delta), "test.tfvars")
    return pf.Preflight(bp, Aws(region=REGION, local_env=shared_aws.terraform_env()), stack).run()


def by_check(report: pf.Report) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for f in report.findings:
        out.setdefault(f.check, []).append((f.status, f.detail))
    return out


@pytest.fixture
def lowered_quota() -> Iterator[Any]:
    """Set quotas for one test and put them back: the emulator is shared by the module."""
    changed: list[str] = []

    def lower(code: str, value: float) -> None:
        set_ec2_quota(ACCOUNT, REGION, code, value)
        changed.append(code)

    yield lower
    for code in changed:
        set_ec2_quota(ACCOUNT, REGION, code, EMULATOR_VCPU_QUOTA)


def test_the_shipped_blueprint_passes(shared_aws: LocalAws) -> None:
    shipped = synth()
    report = pf.Preflight(shipped.blueprint, Aws(region=REGION, local_env=shared_aws.terraform_env()),
                          shipped.aws).run()
    assert report.blocking == ()
    assert {f.check: f.status for f in report.findings} == {
        "identity": "ok", "zones": "ok", "names": "ok", "permissions": "ok", "eks version": "ok",
        "offerings": "ok", "quota L-1216C47A": "ok", "quota L-DB2E81BA": "ok", "quota L-3819A6DF": "ok",
        # The gpu pool may launch Spot, and a new account has no Spot role: said, not blocking (it may also run
        # On-Demand).
        "spot role": "warn",
    }
    names = next(f for f in report.findings if f.check == "names")
    assert names.detail.endswith("fixed names checked: none taken")


def test_a_pinned_pool_whose_families_are_not_offered_in_its_zone_blocks(shared_aws: LocalAws) -> None:
    # p5e: the emulator's us-west-2 offers it in usw2-az3 only (moto's offering data).
    report = run(shared_aws, {"nodepools": {"gpu-efa": {"enabled": True, "instance_families": ["p5e"]}},
                              "cuda_efa_az": "usw2-az1"})
    [blocked] = report.blocking
    assert (blocked.check, blocked.detail, blocked.fix) == (
        "offerings", "pool gpu-efa: none of its instance families (p5e) is offered in its zone us-west-2b (usw2-az1)",
        "pin it to a zone that offers them (cuda_efa_az) or change nodepools.gpu-efa.instance_families")

    offered = run(shared_aws, {"nodepools": {"gpu-efa": {"enabled": True, "instance_families": ["p5e"]}},
                               "azs": ["usw2-az1", "usw2-az3"], "cuda_efa_az": "usw2-az3"})
    assert [f.status for f in offered.findings if f.detail.startswith("pool gpu-efa")] == ["ok"]


def test_an_unpinned_pool_missing_from_some_zones_is_a_warning(shared_aws: LocalAws) -> None:
    # g4dn: offered in usw2-az1..az3, not usw2-az4.
    report = run(shared_aws, {"azs": ["usw2-az1", "usw2-az4"],
                              "nodepools": {"gpu": {"instance_families": ["g4dn"]}}})
    assert by_check(report)["offerings"][1] == (
        "warn", "pool gpu: no g4dn instance in us-west-2d (usw2-az4); its nodes go to the other zones")
    assert report.blocking == ()


def test_a_quota_below_the_pools_limits_blocks_with_the_increase_to_ask_for(shared_aws: LocalAws,
                                                                          lowered_quota: Any) -> None:
    lowered_quota("L-DB2E81BA", 64)
    report = run(shared_aws)
    [blocked] = report.blocking
    assert (blocked.check, blocked.detail, blocked.fix) == (
        "quota L-DB2E81BA",
        "Running On-Demand G and VT instances: 64 vCPUs for 1536 (nodepools.gpu.max_cpu = 1536): below the pools' "
        "limit",
        "lower the max_cpu of those pools to fit 64 vCPUs, or ask for more: aws service-quotas "
        "request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA --desired-value 1536 "
        "--region us-west-2")
    # Fitting the pool to the quota clears it.
    assert run(shared_aws, {"nodepools": {"gpu": {"max_cpu": 64}}}).blocking == ()


def test_a_short_spot_quota_blocks_only_a_spot_only_pool(shared_aws: LocalAws, lowered_quota: Any) -> None:
    lowered_quota("L-3819A6DF", 32)
    mixed = by_check(run(shared_aws))["quota L-3819A6DF"]
    assert [status for status, _ in mixed] == ["warn"]
    spot_only = run(shared_aws, {"nodepools": {"gpu": {"capacity_types": ["spot"]}},
                                 "create_spot_service_linked_role": True})
    assert [f.check for f in spot_only.blocking] == ["quota L-3819A6DF"]


def test_the_spot_role_is_checked_both_ways(shared_aws: LocalAws, client: ClientFactory) -> None:
    spot_only = {"nodepools": {"gpu": {"capacity_types": ["spot"]}}}
    [missing] = run(shared_aws, spot_only).blocking
    assert (missing.check, missing.detail) == (
        "spot role", "AWSServiceRoleForEC2Spot does not exist: Spot launches of gpu fail until it does (Karpenter "
                     "may not create roles); gpu may launch nothing else")
    iam = client("iam")
    iam.create_service_linked_role(AWSServiceName="spot.amazonaws.com")
    try:
        assert run(shared_aws, spot_only).blocking == ()
        [twice] = run(shared_aws, {**spot_only, "create_spot_service_linked_role": True}).blocking
        assert (twice.check, twice.fix) == ("spot role", "set create_spot_service_linked_role = false")
    finally:
        iam.delete_service_linked_role(RoleName="AWSServiceRoleForEC2Spot")


def test_a_name_taken_by_something_else_blocks_and_the_platforms_own_do_not(shared_aws: LocalAws,
                                                                           client: ClientFactory) -> None:
    shipped = synth()
    iam = client("iam")
    trust = '{"Version":"2012-10-17","Statement":[]}'
    iam.create_role(RoleName="mlplat-cluster", AssumeRolePolicyDocument=trust)
    try:
        [taken] = pf.Preflight(shipped.blueprint, Aws(REGION, shared_aws.terraform_env()), shipped.aws).run().blocking
        assert (taken.check, taken.detail) == (
            "names", "1 name(s) the AWS layer gives are taken by resources that are not platform 'mlplat''s: "
                     "iam_role mlplat-cluster")
        iam.tag_role(RoleName="mlplat-cluster", Tags=[{"Key": "Platform", "Value": "mlplat"},
                                                      {"Key": "ManagedBy", "Value": "mlplat"}])
        report = pf.Preflight(shipped.blueprint, Aws(REGION, shared_aws.terraform_env()), shipped.aws).run()
        assert report.blocking == ()
        assert next(f for f in report.findings if f.check == "names").detail.endswith(
            "1 already belong to this platform (deployed)")
    finally:
        iam.delete_role(RoleName="mlplat-cluster")


def test_an_eks_version_in_extended_support_warns_and_one_eks_no_longer_offers_blocks(
        shared_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPLAT_TODAY", "2026-11-30")
    assert by_check(run(shared_aws, {"eks_cluster_version": "1.33"}))["eks version"] == [
        ("warn", "EKS 1.33: extended support, $0.60 per cluster-hour instead of $0.10")]
    # On the day 1.32's extended support ends, EKS stops offering it (the blueprint would refuse it too, on that day).
    monkeypatch.setenv("MLPLAT_TODAY", "2027-03-23")
    bp = parse_text(blueprint_text({"eks_cluster_version": "1.33"}), "test.tfvars")
    check = pf.Preflight(bp, Aws(REGION, shared_aws.terraform_env()))
    object.__setattr__(bp, "eks_cluster_version", "1.32")  # past validation, as a stale blueprint would be
    check.eks_version()
    assert [(f.status, f.detail) for f in check.findings] == [
        ("block", "EKS 1.32 is not offered for new clusters in us-west-2")]


def test_an_aurora_version_rds_does_not_offer_blocks(shared_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    delta = {"enable_mlflow": True}
    assert by_check(run(shared_aws, delta))["aurora version"] == [
        ("ok", f"Aurora PostgreSQL {versions.AURORA_POSTGRESQL_VERSION} is offered in us-west-2")]
    monkeypatch.setattr(versions, "AURORA_POSTGRESQL_VERSION", "16.99")
    [blocked] = run(shared_aws, delta).blocking
    assert (blocked.check, blocked.detail) == (
        "aurora version", "Aurora PostgreSQL 16.99 (MLflow's database, pinned in mlplat/versions.py) is not offered "
                          "in us-west-2")


@pytest.mark.parametrize("toggle, label, pin, unoffered, purpose", [
    ("enable_slurm", "Aurora MySQL", "AURORA_MYSQL_VERSION", "8.0.mysql_aurora.3.10.1", "Slurm's accounting database"),
    ("enable_airflow", "Aurora PostgreSQL", "AURORA_POSTGRESQL_VERSION", "11.9", "Airflow's metadata database"),
])
def test_the_other_databases_aurora_versions_are_checked_too(shared_aws: LocalAws, monkeypatch: pytest.MonkeyPatch,
                                                             toggle: str, label: str, pin: str, unoffered: str,
                                                             purpose: str) -> None:
    delta = {toggle: True}
    assert by_check(run(shared_aws, delta))["aurora version"] == [
        ("ok", f"{label} {getattr(versions, pin)} is offered in us-west-2")]
    monkeypatch.setattr(versions, pin, unoffered)
    [blocked] = run(shared_aws, delta).blocking
    assert (blocked.check, blocked.detail, blocked.fix) == (
        "aurora version", f"{label} {unoffered} ({purpose}, pinned in mlplat/versions.py) is not offered in us-west-2",
        f"upgrade mlplat to a release that pins an offered version, or set {toggle} = false")


def test_an_unreadable_fsx_import_path_blocks(shared_aws: LocalAws, client: ClientFactory) -> None:
    delta = {"enable_fsx": True, "fsx_s3_import_path": "s3://preflight-no-such-bucket/data"}
    [blocked] = run(shared_aws, delta).blocking
    assert blocked.check == "fsx import path" and blocked.detail.startswith(
        "s3://preflight-no-such-bucket/data is not readable (NoSuchBucket: ")
    client("s3").create_bucket(Bucket="preflight-no-such-bucket",
                               CreateBucketConfiguration={"LocationConstraint": REGION})
    assert by_check(run(shared_aws, delta))["fsx import path"] == [
        ("ok", "s3://preflight-no-such-bucket/data is readable")]


def test_an_assumed_role_is_simulated_as_its_role() -> None:
    assert pf._policy_source("arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-7") == (
        "arn:aws:iam::123456789012:role/Deployer")
    assert pf._policy_source("arn:aws:iam::123456789012:user/alice") == "arn:aws:iam::123456789012:user/alice"


def test_instance_families_map_to_their_vcpu_quota_class() -> None:
    assert {f: pf.instance_class(f) for f in ("m7i", "c7a", "g6e", "gr6", "vt1", "p5en", "p6-b200", "inf2", "trn2",
                                              "r7i")} == {
        "m7i": "standard", "c7a": "standard", "g6e": "g", "gr6": "g", "vt1": "g", "p5en": "p", "p6-b200": "p",
        "inf2": "inf", "trn2": "trn", "r7i": "standard"}


def test_destroy_counts_only_instances_terraform_does_not_manage_as_strays(shared_aws: LocalAws,
                                                                          client: ClientFactory) -> None:
    """The cluster access node is terraform's own (destroyed with the AWS layer); a Karpenter node is not, and would
    keep the subnet from being deleted; a system node group's instance goes with its node group."""
    from mlplat.destroy_checks import stray_instances

    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    ami = client("ssm").get_parameter(Name=versions.ACCESS_NODE_AMI_PARAMETER)["Parameter"]["Value"]

    def launch(tags: dict[str, str]) -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
        return ec2.run_instances(ImageId=ami, InstanceType="t4g.nano", MinCount=1, MaxCount=1, SubnetId=subnet,
                                 TagSpecifications=spec)["Instances"][0]["InstanceId"]

    access_node = launch({"Name": "mlplat-access-node"})
    launch({"eks:nodegroup-name": "mlplat-system"})
    karpenter = launch({"karpenter.sh/nodepool": "gpu"})
    state = {"resources": [
        {"mode": "managed", "type": "aws_subnet", "name": "private", "instances": [{"attributes": {"id": subnet}}]},
        {"mode": "managed", "type": "aws_instance", "name": "node", "module": "access-node",
         "instances": [{"attributes": {"id": access_node}}]},
    ]}
    blockers = stray_instances(state, Aws(REGION, shared_aws.terraform_env()))
    assert [(b.resource, b.problem.split(" still runs")[0]) for b in blockers] == [
        (karpenter, "Karpenter node of pool gpu")]
