"""The AWS side of the ACK SageMaker controller (enable_ack_sagemaker): the controller's Pod Identity role and the
execution role that SageMaker training jobs, tuning jobs and models run as.

Upstream (aws-controllers-k8s/sagemaker-controller v1.9.1, config/iam/recommended-policy-arn, read 2026-12-02)
recommends attaching the managed AmazonSageMakerFullAccess and ships no inline policy. That policy covers every
SageMaker API on every resource and passing roles well beyond one, far more than five kinds need, so the platform
scopes it instead: the controller reconciles only the five kinds in RECONCILED_KINDS (mlplat/workloads_config.py, the
chart's reconcile.resources), and its role may call only the SageMaker APIs those kinds' resource managers call at
v1.9.1 (pkg/resource/<kind>/sdk.go), on those kinds' ARNs in this account and region, and pass only the execution
role, only to SageMaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from mlplat.workloads_config import RECONCILED_KINDS
from modules.common import ClusterScope, allow, policy, pod_identity_role
from modules.workload_access import s3_statements

# The controller tags what it creates (the chart's resourceTags), in the Create call: SageMaker authorizes tags on
# create as sagemaker:AddTags.
TAG_ON_CREATE = "AddTags"
SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
# SageMaker's own log groups (/aws/sagemaker/TrainingJobs, /aws/sagemaker/Endpoints/<name>) and metric namespaces.
SAGEMAKER_LOGS = "/aws/sagemaker/"


@dataclass(frozen=True)
class SageMakerAwsConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    namespace: str
    service_account: str
    controller_role_name: str
    execution_role_name: str
    read_buckets: tuple[str, ...]
    write_prefixes: tuple[str, ...]  # s3://bucket/prefix/ (prefix may be empty: the whole bucket)

    def execution_trust(self) -> str:
        # Only SageMaker, acting for this account (confused-deputy protection).
        return policy({"Effect": "Allow", "Principal": {"Service": SAGEMAKER_SERVICE}, "Action": "sts:AssumeRole",
                       "Condition": {"StringEquals": {"aws:SourceAccount": self.scope.account_id}}})

    def execution_statements(self) -> list[dict[str, Any]]:
        s = self.scope
        # No KMS statement: the platform's buckets are SSE-S3 (modules/bucket.py) and the platform key encrypts no
        # bucket; a bucket under the user's own key needs that key's policy to allow this role.
        return [
            *s3_statements(s.partition, self.read_buckets, self.write_prefixes),
            # Authorization tokens are account-wide (no resource-level permissions); image reads are per repository.
            allow(["ecr:GetAuthorizationToken"], "*", sid="EcrAuthorization"),
            # Any account's repositories in this region: AWS's algorithm and Deep Learning Container registries and
            # the user's own; another account's private repository still has to allow this account in its policy.
            allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                  f"arn:{s.partition}:ecr:{s.region}:*:repository/*", sid="PullImagesInRegion"),
            allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                  f"arn:{s.partition}:logs:{s.region}:{s.account_id}:log-group:{SAGEMAKER_LOGS}*",
                  sid="WriteSageMakerLogs"),
            # Training metrics; PutMetricData has no resource-level permissions, so it is bounded by namespace.
            allow(["cloudwatch:PutMetricData"], "*", sid="PublishSageMakerMetrics",
                  condition={"StringLike": {"cloudwatch:namespace": f"{SAGEMAKER_LOGS}*"}}),
        ]

    def controller_statements(self, execution_role_arn: str) -> list[dict[str, Any]]:
        s = self.scope
        actions = [f"sagemaker:{a}" for _, calls in RECONCILED_KINDS.values() for a in calls]
        arns = [f"arn:{s.partition}:sagemaker:{s.region}:{s.account_id}:{rtype}/*"
                for rtype, _ in RECONCILED_KINDS.values()]
        return [
            allow([*actions, f"sagemaker:{TAG_ON_CREATE}"], arns, sid="ManageReconciledKinds"),
            allow(["iam:PassRole"], [execution_role_arn], sid="PassExecutionRoleToSageMaker",
                  condition={"StringEquals": {"iam:PassedToService": SAGEMAKER_SERVICE}}),
        ]


@dataclass(frozen=True)
class SageMakerAwsOutputs:
    execution_role_arn: str
    controller_role_arn: str


class SageMakerAws(Construct):
    """Created only when enable_ack_sagemaker is on (stacks/aws_layer.py)."""

    def __init__(self, scope: Construct, id: str, config: SageMakerAwsConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.execution_role = IamRole(self, "execution-role", name=c.execution_role_name,
                                      assume_role_policy=c.execution_trust())
        IamRolePolicy(self, "execution-policy", role=self.execution_role.id,
                      policy=policy(*c.execution_statements()))
        controller = Construct(self, "controller")
        self.controller_role = pod_identity_role(
            controller, role_name=c.controller_role_name, cluster=c.scope, cluster_name=c.cluster_name,
            namespace=c.namespace, service_account=c.service_account,
            policy_document=policy(*c.controller_statements(self.execution_role.arn)))

    @property
    def outputs(self) -> SageMakerAwsOutputs:
        return SageMakerAwsOutputs(execution_role_arn=self.execution_role.arn,
                                   controller_role_arn=self.controller_role.arn)
