"""enable_ack_sagemaker: the ACK SageMaker controller pinned at the release recorded in ../shared/reference, on the
system nodes with its Pod Identity role scoped to the five kinds it reconciles and to passing only the platform's
execution role, which may use exactly the S3 locations of ack_sagemaker_s3_access; off, nothing of it exists."""

from __future__ import annotations

import fnmatch
import json
import re

import jsonschema
import pytest
import yaml

from mlplat import versions
from mlplat.addons import deep_merge, install_order
from mlplat.blueprint import parse_text
from mlplat.catalog import REGISTRY
from mlplat.errors import BlueprintError
from mlplat.workload_check import Workload, problems
from tests.audit.support import address, one, resources, statements
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import ROOT, reference
from tests.support.synth import CANONICAL_TEXT, synth

CHART = "sagemaker-chart"
ACCESS = {"read_buckets": ["ml-datasets-x", "papers-y"], "write_prefixes": ["s3://ml-artifacts-x/sagemaker/"]}
ON = {"enable_ack_sagemaker": True, "ack_sagemaker_s3_access": ACCESS}
P, ACCOUNT = "${data.aws_partition.partition.partition}", "${data.aws_caller_identity.account.account_id}"
SYSTEM = {"nodeSelector": {"kubernetes.io/os": "linux", "mlplat.io/pool": "system"},
          "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}
KINDS = ["Endpoint", "EndpointConfig", "HyperParameterTuningJob", "Model", "TrainingJob"]
EXAMPLE = ROOT / "examples" / "ack-sagemaker-trainingjob.yaml"
EVERYTHING = ROOT / "blueprints" / "everything-on.tfvars"


@pytest.fixture(scope="module")
def on():
    return synth(ON)


@pytest.fixture(scope="module")
def observed():
    return synth({**ON, "enable_ai_ml_observability_stack": True})


def ours(s, rtype):
    return {p: r for p, r in resources(s, rtype).items() if p.startswith("ack-sagemaker/")}


# --- toggle --------------------------------------------------------------------------------------------------------

def test_off_there_is_no_role_no_association_no_output_and_no_release():
    off = synth()
    for rtype in ("aws_iam_role", "aws_iam_role_policy", "aws_eks_pod_identity_association"):
        assert ours(off, rtype) == {}, rtype
    assert "ack_sagemaker_execution_role_arn" not in off.aws["output"]
    assert not {r for r in off.releases() if r.startswith("ack-sagemaker")}


def test_on_adds_the_two_roles_the_association_the_output_and_only_the_controller(on):
    assert sorted(ours(on, "aws_iam_role")) == ["ack-sagemaker/controller/role", "ack-sagemaker/execution-role"]
    assert sorted(ours(on, "aws_iam_role_policy")) == ["ack-sagemaker/controller/policy",
                                                       "ack-sagemaker/execution-policy"]
    assert sorted(ours(on, "aws_eks_pod_identity_association")) == ["ack-sagemaker/controller/identity"]
    assert on.aws["output"]["ack_sagemaker_execution_role_arn"]["value"] == \
        f"${{{address(on, 'aws_iam_role', 'ack-sagemaker/execution-role')}.arn}}"
    assert set(on.releases()) - set(synth().releases()) == {"ack-sagemaker"}


# --- the release ---------------------------------------------------------------------------------------------------

def recorded_release() -> str:
    sources = reference("SOURCES.md").read_text()
    row = re.search(rf"^\| chart-values/{CHART}/Chart.yaml \|[^|]*\| ([^ |]+) \| ([^ |]+) \| ([^ |]+) \|", sources,
                    re.M)
    assert row, f"no SOURCES.md row for chart-values/{CHART}/Chart.yaml"
    return row.group(3)


def test_release_is_pinned_to_the_reference_chart_in_ack_system(on):
    release = on.releases()["ack-sagemaker"]
    pin = versions.CHARTS[CHART]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        CHART, "oci://public.ecr.aws/aws-controllers-k8s", "1.9.1", "ack-system")
    assert pin.version == chart_version(CHART) == recorded_release().removeprefix("v")
    assert f"v{pin.version}" in pin.source and "2026-" in pin.source  # the tag and the date it was recorded
    assert chart_defaults(CHART)["image"]["tag"] == pin.version  # the chart's controller is the same release


def test_values_exist_in_the_chart_and_satisfy_its_schema(on, observed):
    schema = json.loads(reference("chart-values", CHART, "values.schema.json").read_text())
    for s in (on, observed):
        values = s.values("ack-sagemaker")
        assert list(unknown_keys(values, chart_defaults(CHART))) == []
        jsonschema.validate(deep_merge(chart_defaults(CHART), values), schema)
    broken = deep_merge(chart_defaults(CHART), {"enableCARM": "no"})  # the schema is really applied
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_values_region_service_account_system_nodes_and_reconciled_kinds(on):
    values = on.values("ack-sagemaker")
    assert values == {
        "aws": {"region": "us-west-2"},
        "serviceAccount": {"create": True, "name": "ack-sagemaker-controller", "annotations": {}},
        "deployment": SYSTEM,
        "reconcile": {"resources": KINDS},
        "enableCARM": False,
        "enableCrossNamespace": False,
        "metrics": {"service": {"create": False}},
        "resourceTags": [*chart_defaults(CHART)["resourceTags"], "Platform=mlplat", "ManagedBy=mlplat"],
    }
    # Every kind reconciled is one the chart knows, and the chart's own default service account is the same name.
    assert set(KINDS) <= set(chart_defaults(CHART)["reconcile"]["resources"])
    assert chart_defaults(CHART)["serviceAccount"]["name"] == values["serviceAccount"]["name"]
    assert synth({**ON, "region": "eu-west-1", "availability_zones_count": 2}).values(
        "ack-sagemaker")["aws"]["region"] == "eu-west-1"


def test_pod_identity_association_names_the_charts_service_account_and_no_irsa(on):
    association = one(on, "aws_eks_pod_identity_association", "ack-sagemaker/controller/identity")
    release = on.releases()["ack-sagemaker"]
    values = on.values("ack-sagemaker")
    assert (association["namespace"], association["service_account"]) == (
        release["namespace"], values["serviceAccount"]["name"])
    assert association["role_arn"] == f"${{{address(on, 'aws_iam_role', 'ack-sagemaker/controller/role')}.arn}}"
    assert "eks.amazonaws.com/role-arn" not in json.dumps(values)
    [trust] = statements(one(on, "aws_iam_role", "ack-sagemaker/controller/role")["assume_role_policy"])
    assert trust["Condition"]["StringEquals"] == {
        "aws:RequestTag/eks-cluster-arn": f"arn:{P}:eks:us-west-2:{ACCOUNT}:cluster/mlplat",
        "aws:RequestTag/kubernetes-namespace": "ack-system",
        "aws:RequestTag/kubernetes-service-account": "ack-sagemaker-controller"}


def test_metrics_are_scraped_only_with_the_observability_stack(on, observed):
    assert "ack-sagemaker-monitoring" not in on.releases()
    assert observed.values("ack-sagemaker")["metrics"] == {"service": {"create": True}}
    [monitor] = observed.objects("ack-sagemaker-monitoring")
    k8s.validate(monitor)
    # The chart's metrics Service is labelled with the chart's name and the release's, its port named metricsport.
    assert monitor["metadata"]["namespace"] == "ack-system"
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": CHART,
                                                          "app.kubernetes.io/instance": "ack-sagemaker"}
    assert monitor["spec"]["endpoints"] == [{"path": "/metrics", "interval": "30s", "port": "metricsport"}]


def test_install_order_controller_on_the_system_nodes_monitor_after_prometheus(observed):
    order = [a.name for a in install_order(REGISTRY, observed.blueprint)]
    assert order.index("ack-sagemaker") < order.index("ack-sagemaker-monitoring")
    assert order.index("kube-prometheus-stack") < order.index("ack-sagemaker-monitoring")
    releases = observed.releases()
    # Nothing to wait for but the system nodes (and Pod Identity, from the AWS layer): not the Karpenter pools.
    assert "depends_on" not in releases["ack-sagemaker"]
    depends = releases["ack-sagemaker-monitoring"]["depends_on"]
    assert {d.split(".")[1].split("_release")[0] for d in depends} == {"ack-sagemaker", "kube-prometheus-stack"}


# --- IAM -----------------------------------------------------------------------------------------------------------

def arns(rtype):
    return f"arn:{P}:sagemaker:us-west-2:{ACCOUNT}:{rtype}/*"


def test_the_controller_may_manage_only_the_reconciled_kinds_and_pass_only_the_execution_role(on):
    execution_arn = f"${{{address(on, 'aws_iam_role', 'ack-sagemaker/execution-role')}.arn}}"
    policy = one(on, "aws_iam_role_policy", "ack-sagemaker/controller/policy")
    assert statements(policy["policy"]) == [
        {"Sid": "ManageReconciledKinds", "Effect": "Allow", "Action": [
            "sagemaker:AddTags", "sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig",
            "sagemaker:CreateHyperParameterTuningJob", "sagemaker:CreateModel", "sagemaker:CreateTrainingJob",
            "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel",
            "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
            "sagemaker:DescribeHyperParameterTuningJob", "sagemaker:DescribeModel", "sagemaker:DescribeTrainingJob",
            "sagemaker:StopHyperParameterTuningJob", "sagemaker:StopTrainingJob", "sagemaker:UpdateEndpoint",
            "sagemaker:UpdateTrainingJob"],
         "Resource": [arns("training-job"), arns("hyper-parameter-tuning-job"), arns("model"),
                      arns("endpoint-config"), arns("endpoint")]},
        {"Sid": "PassExecutionRoleToSageMaker", "Effect": "Allow", "Action": ["iam:PassRole"],
         "Resource": [execution_arn],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
    ]
    assert policy["role"] == f"${{{address(on, 'aws_iam_role', 'ack-sagemaker/controller/role')}.id}}"


def test_the_execution_role_is_for_sagemaker_of_this_account_only(on):
    role = one(on, "aws_iam_role", "ack-sagemaker/execution-role")
    assert role["name"] == "mlplat-sagemaker-execution"
    assert one(on, "aws_iam_role", "ack-sagemaker/controller/role")["name"] == "mlplat-ack-sagemaker"
    assert statements(role["assume_role_policy"]) == [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]


S3 = f"arn:{P}:s3:::"


def test_the_execution_role_may_use_exactly_the_configured_s3_locations_images_and_logs(on):
    policy = one(on, "aws_iam_role_policy", "ack-sagemaker/execution-policy")
    assert statements(policy["policy"]) == [
        {"Sid": "ListReadBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
         "Resource": [f"{S3}ml-datasets-x", f"{S3}papers-y"]},
        {"Sid": "ReadObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{S3}ml-datasets-x/*", f"{S3}papers-y/*"]},
        {"Sid": "ListPrefix0", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"{S3}ml-artifacts-x",
         "Condition": {"StringLike": {"s3:prefix": ["sagemaker/*"]}}},
        {"Sid": "ReadWriteUnderPrefixes", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
         "Resource": [f"{S3}ml-artifacts-x/sagemaker/*"]},
        {"Sid": "EcrAuthorization", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PullImagesInRegion", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:{P}:ecr:us-west-2:*:repository/*"},
        {"Sid": "WriteSageMakerLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
         "Resource": f"arn:{P}:logs:us-west-2:{ACCOUNT}:log-group:/aws/sagemaker/*"},
        {"Sid": "PublishSageMakerMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}},
    ]


def test_s3_scope_follows_the_blueprint():
    s = synth({"enable_ack_sagemaker": True, "ack_sagemaker_s3_access": {"read_buckets": ["only-this"]}})
    s3 = [st for st in statements(one(s, "aws_iam_role_policy", "ack-sagemaker/execution-policy")["policy"])
          if st["Action"][0].startswith("s3:")]
    assert [st["Resource"] for st in s3] == [[f"{S3}only-this"], [f"{S3}only-this/*"]]


# --- blueprint rules -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("enable_ack_sagemaker = true\n",
     "bp.tfvars:1: enable_ack_sagemaker: SageMaker jobs read their data from and write their output to S3: set "
     "ack_sagemaker_s3_access (read_buckets, write_prefixes)"),
    ('ack_sagemaker_s3_access = {\n  read_buckets = ["a-bucket"]\n}\n',
     "bp.tfvars:1: ack_sagemaker_s3_access: has no effect without enable_ack_sagemaker = true; set it or remove this "
     "key"),
    ("enable_ack_sagemaker = true\nack_sagemaker_s3_access = {}\n",
     "bp.tfvars:2: ack_sagemaker_s3_access: grants nothing: list read_buckets or write_prefixes"),
    ('enable_ack_sagemaker = true\nack_sagemaker_s3_access = {\n  write_prefixes = ["s3://bucket-a/no-slash"]\n}\n',
     "bp.tfvars:3: ack_sagemaker_s3_access.write_prefixes[0]: expected an S3 location such as "
     "'s3://ml-artifacts/team-a/' (ending with '/'), got 's3://bucket-a/no-slash'"),
])
def test_invalid_keys_fail_with_the_exact_message(text, expected):
    with pytest.raises(BlueprintError) as err:
        parse_text(text, "bp.tfvars")
    assert str(err.value) == expected


def test_role_names_fit_iam_for_the_longest_platform_name():
    name = "a" * 32  # the longest name the blueprint accepts
    bp = parse_text(f'name = "{name}"\nenable_ack_sagemaker = true\n'
                    'ack_sagemaker_s3_access = {\n  read_buckets = ["a-bucket"]\n}\n', "bp.tfvars")
    from mlplat.workloads_config import ack_sagemaker_role_names

    assert [len(r) for r in ack_sagemaker_role_names(bp.name)] == [46, 52]


def test_a_role_name_over_64_characters_is_refused(monkeypatch):
    """No valid name reaches 64 characters with today's suffixes (the test above); the rule guards a longer suffix."""
    import mlplat.workloads_config as wc

    monkeypatch.setattr(wc, "ack_sagemaker_role_names", lambda platform: (f"{platform}-ack-sagemaker",
                                                                          f"{platform}-{'x' * 60}"))
    with pytest.raises(BlueprintError) as err:
        parse_text('name = "team-platform"\nenable_ack_sagemaker = true\n'
                   'ack_sagemaker_s3_access = {\n  read_buckets = ["a-bucket"]\n}\n', "bp.tfvars")
    assert str(err.value) == (f"bp.tfvars:2: enable_ack_sagemaker: its IAM role name 'team-platform-{'x' * 60}' is 74 "
                              "characters, over IAM's 64: use a shorter name")


# --- the example and `mlplat validate --workload` -------------------------------------------------------------------

def example() -> dict:
    [job] = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d]
    return job


def covered(uri: str, resources_: list[str]) -> bool:
    """Whether an IAM resource pattern of the policy (partition resolved) matches the object key s3://bucket/key."""
    arn = "arn:aws:s3:::" + uri.removeprefix("s3://") + "probe"
    return any(fnmatch.fnmatchcase(arn, r.replace(P, "aws")) for r in resources_)


def test_the_example_is_a_valid_training_job_for_the_everything_on_platform():
    job = example()
    k8s.validate(job)  # strict against ../shared/reference's TrainingJob CRD (v1.9.1)
    assert (job["apiVersion"], job["kind"], job["metadata"]["namespace"]) == (
        "sagemaker.services.k8s.aws/v1alpha1", "TrainingJob", "ml-workloads")
    s = synth(text=EVERYTHING.read_text())
    role = one(s, "aws_iam_role", "ack-sagemaker/execution-role")
    # The output is this role's ARN: arn:<partition>:iam::<account>:role/<role name>.
    assert s.aws["output"]["ack_sagemaker_execution_role_arn"]["value"] == \
        f"${{{address(s, 'aws_iam_role', 'ack-sagemaker/execution-role')}.arn}}"
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/{re.escape(role['name'])}", job["spec"]["roleARN"])
    policy = {st["Sid"]: st for st in statements(one(s, "aws_iam_role_policy", "ack-sagemaker/execution-policy")[
        "policy"])}
    [channel] = job["spec"]["inputDataConfig"]
    source = channel["dataSource"]["s3DataSource"]["s3URI"]
    output = job["spec"]["outputDataConfig"]["s3OutputPath"]
    assert covered(source, policy["ReadObjects"]["Resource"])
    assert covered(output, policy["ReadWriteUnderPrefixes"]["Resource"])
    assert not covered(output, policy["ReadObjects"]["Resource"])  # the matcher itself can say no
    assert not covered(source, policy["ReadWriteUnderPrefixes"]["Resource"])
    assert problems(s.blueprint, [Workload(EXAMPLE, 16, job)]) == []


def checked(job: dict, text: str = "") -> list[str]:
    bp = parse_text(text or EVERYTHING.read_text(), "bp.tfvars")
    return [p.split(": ", 2)[2] for p in problems(bp, [Workload(EXAMPLE, 16, job)])]


def test_validate_names_what_the_platform_would_refuse():
    job = example()
    assert checked(job, CANONICAL_TEXT) == [
        "needs the ACK SageMaker controller: set enable_ack_sagemaker = true in the blueprint"]
    other = json.loads(json.dumps(job))
    other["spec"]["roleARN"] = "arn:aws:iam::123456789012:role/AmazonSageMaker-ExecutionRole"
    other["spec"]["inputDataConfig"][0]["dataSource"]["s3DataSource"]["s3URI"] = "s3://someone-elses/data/"
    other["spec"]["outputDataConfig"]["s3OutputPath"] = "s3://ml-artifacts-example/elsewhere/"
    assert checked(other) == [
        "roleARN 'arn:aws:iam::123456789012:role/AmazonSageMaker-ExecutionRole' is not the platform's execution role "
        "'everything-sagemaker-execution' (output ack_sagemaker_execution_role_arn), the only role the controller "
        "may pass",
        "input 's3://someone-elses/data/' is outside what the execution role may read: add its bucket to "
        "ack_sagemaker_s3_access.read_buckets",
        "output 's3://ml-artifacts-example/elsewhere/' is outside what the execution role may write: add a prefix "
        "covering it to ack_sagemaker_s3_access.write_prefixes"]
    processing = {"apiVersion": "sagemaker.services.k8s.aws/v1alpha1", "kind": "ProcessingJob",
                  "metadata": {"name": "p", "namespace": "ml-workloads"}, "spec": {}}
    assert checked(processing) == [
        "the platform's ACK SageMaker controller reconciles only Endpoint, EndpointConfig, HyperParameterTuningJob, "
        "Model, TrainingJob; its IAM role may not manage a ProcessingJob"]


def test_the_everything_on_blueprint_installs_it():
    s = synth(text=EVERYTHING.read_text())
    assert {"ack-sagemaker", "ack-sagemaker-monitoring"} <= set(s.releases())
    assert s.blueprint.ack_sagemaker_s3_access.write_prefixes == ("s3://ml-artifacts-example/sagemaker/",)
