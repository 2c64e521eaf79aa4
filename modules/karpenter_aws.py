"""Karpenter's AWS side: controller role (Pod Identity) with Karpenter's own controller policies, node role with its
access entry, the interruption queue fed by EventBridge, and (opt-in) the EC2 Spot service-linked role.

The controller policies are Karpenter v1.14's getting-started CloudFormation policies, statement for statement, with
this cluster's names (tests/upstream/karpenter-v1.14-controller.yaml is the record they are compared with): six
managed policies, as upstream splits them, which also keeps each under IAM's 6,144-character limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktn_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktn_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktn_provider_aws.eks_access_entry import EksAccessEntry
from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.iam_policy import IamPolicy
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktn_provider_aws.iam_service_linked_role import IamServiceLinkedRole
from cdktn_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from modules.common import ClusterScope, allow, managed_policy, policy, service_trust

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"
# What nodes need: join the cluster, pull images, be reachable by SSM. The VPC CNI has its own Pod Identity role.
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore")

# EventBridge rules feeding the interruption queue (upstream: the five rules of the CloudFormation template).
INTERRUPTION_EVENTS = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "capacity-reservation": {"source": ["aws.ec2"],
                             "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"]},
}
# Resources Karpenter creates with RunInstances/CreateFleet/CreateLaunchTemplate, all carrying the cluster's tags.
_TAGGED_ON_CREATE = ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")


@dataclass(frozen=True)
class KarpenterAwsConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so associations wait for the cluster
    create_spot_service_linked_role: bool = False

    @property
    def name(self) -> str:  # the platform's name is the cluster's: it prefixes role and queue names
        return self.scope.cluster_name

    @property
    def region(self) -> str:
        return self.scope.region

    @property
    def partition(self) -> str:
        return self.scope.partition

    @property
    def account_id(self) -> str:
        return self.scope.account_id


def controller_policies(c: KarpenterAwsConfig, node_role_arn: str, queue_arn: str) -> dict[str, list[dict[str, Any]]]:
    """Karpenter v1.14's controller policies by upstream name, scoped to this cluster."""
    ec2 = f"arn:{c.partition}:ec2:{c.region}"
    profiles = f"arn:{c.partition}:iam::{c.account_id}:instance-profile/*"
    cluster_arn = c.scope.cluster_arn
    cluster_tag = f"kubernetes.io/cluster/{c.name}"
    owned_resource = {f"aws:ResourceTag/{cluster_tag}": "owned"}
    owned_request = {f"aws:RequestTag/{cluster_tag}": "owned", "aws:RequestTag/eks:eks-cluster-name": c.name}
    any_nodepool = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    region_resource = {"aws:ResourceTag/topology.kubernetes.io/region": c.region}
    region_request = {"aws:RequestTag/topology.kubernetes.io/region": c.region}
    tagged = [f"{ec2}:*:{r}/*" for r in _TAGGED_ON_CREATE]
    return {
        "KarpenterControllerNodeLifecyclePolicy": [
            allow(["ec2:RunInstances", "ec2:CreateFleet"],
                  [f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*", f"{ec2}:*:subnet/*",
                   f"{ec2}:*:capacity-reservation/*", f"{ec2}:*:placement-group/*"],
                  sid="AllowScopedEC2InstanceAccessActions"),
            allow(["ec2:RunInstances", "ec2:CreateFleet"], f"{ec2}:*:launch-template/*",
                  sid="AllowScopedEC2LaunchTemplateAccessActions",
                  condition={"StringEquals": owned_resource, "StringLike": any_nodepool}),
            allow(["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"], tagged,
                  sid="AllowScopedEC2InstanceActionsWithTags",
                  condition={"StringEquals": owned_request,
                             "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}),
            allow(["ec2:CreateTags"], tagged, sid="AllowScopedResourceCreationTagging",
                  condition={"StringEquals": {**owned_request, "ec2:CreateAction": ["RunInstances", "CreateFleet",
                                                                                    "CreateLaunchTemplate"]},
                             "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}),
            allow(["ec2:CreateTags"], f"{ec2}:*:instance/*", sid="AllowScopedResourceTagging",
                  condition={"StringEquals": owned_resource, "StringLike": any_nodepool,
                             "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": c.name},
                             "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name",
                                                                           "karpenter.sh/nodeclaim", "Name"]}}),
            allow(["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                  [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"], sid="AllowScopedDeletion",
                  condition={"StringEquals": owned_resource, "StringLike": any_nodepool}),
        ],
        "KarpenterControllerIAMIntegrationPolicy": [
            allow(["iam:PassRole"], node_role_arn, sid="AllowPassingInstanceRole",
                  condition={"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}),
            # A profile being created has no tags yet: creation is allowed on the tags requested (aws:RequestTag).
            allow(["iam:CreateInstanceProfile"], profiles, sid="AllowScopedInstanceProfileCreationActions",
                  condition={"StringEquals": {**owned_request, **region_request},
                             "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
            allow(["iam:TagInstanceProfile"], profiles, sid="AllowScopedInstanceProfileTagActions",
                  condition={"StringEquals": {**owned_resource, **region_resource, **owned_request,
                                              **region_request},
                             "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                                            "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
            allow(["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
                  profiles, sid="AllowScopedInstanceProfileActions",
                  condition={"StringEquals": {**owned_resource, **region_resource},
                             "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
        ],
        "KarpenterControllerEKSIntegrationPolicy": [
            allow(["eks:DescribeCluster"], cluster_arn, sid="AllowAPIServerEndpointDiscovery"),
        ],
        "KarpenterControllerInterruptionPolicy": [
            allow(["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"], queue_arn,
                  sid="AllowInterruptionQueueActions"),
        ],
        "KarpenterControllerZonalShiftPolicy": [
            allow(["arc-zonal-shift:GetManagedResource"], "*", sid="AllowZonalShiftStatusReadOnly",
                  condition={"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}}),
        ],
        "KarpenterControllerResourceDiscoveryPolicy": [
            allow(["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                   "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
                   "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
                   "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"], "*", sid="AllowRegionalReadActions",
                  condition={"StringEquals": {"aws:RequestedRegion": c.region}}),
            allow(["ssm:GetParameter"], f"arn:{c.partition}:ssm:{c.region}::parameter/aws/service/*",
                  sid="AllowSSMReadActions"),
            allow(["pricing:GetProducts"], "*", sid="AllowPricingReadActions"),
            allow(["iam:ListInstanceProfiles"], "*", sid="AllowUnscopedInstanceProfileListAction"),
            allow(["iam:GetInstanceProfile"], profiles, sid="AllowInstanceProfileReadActions"),
        ],
    }


class KarpenterAws(Construct):
    def __init__(self, scope: Construct, id: str, config: KarpenterAwsConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.node_role = IamRole(self, "node-role", name=f"{c.name}-karpenter-node",
                                 assume_role_policy=service_trust("ec2.amazonaws.com"))
        for pol in NODE_POLICIES:
            IamRolePolicyAttachment(self, f"node-{pol}", role=self.node_role.name,
                                    policy_arn=managed_policy(c.partition, pol))
        # Nodes Karpenter launches join through this access entry (API authentication mode, no aws-auth ConfigMap).
        EksAccessEntry(self, "node-access", cluster_name=c.cluster_name, principal_arn=self.node_role.arn,
                       type="EC2_LINUX")

        # The policy is part of the queue (not a separate queue policy): its ARN is known from its name, and a
        # separate policy resource would wait for its own propagation on create and on delete.
        queue_name = f"{c.name}-karpenter"
        queue_arn = f"arn:{c.partition}:sqs:{c.region}:{c.account_id}:{queue_name}"
        self.queue = SqsQueue(self, "queue", name=queue_name, message_retention_seconds=300,
                              sqs_managed_sse_enabled=True, policy=policy(
                                  {"Sid": "EventBridgeAndSQS", "Effect": "Allow",
                                   "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                                   "Action": "sqs:SendMessage", "Resource": queue_arn},
                                  {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                                   "Action": "sqs:*", "Resource": queue_arn,
                                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                              ))
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = CloudwatchEventRule(self, f"rule-{event}", name=f"{c.name}-karpenter-{event}",
                                       event_pattern=json.dumps(pattern, sort_keys=True))
            CloudwatchEventTarget(self, f"target-{event}", rule=rule.name, target_id="karpenter-queue",
                                  arn=self.queue.arn)

        self.controller_role = IamRole(self, "controller-role", name=f"{c.name}-karpenter-controller",
                                       assume_role_policy=c.scope.pod_identity_trust(NAMESPACE, SERVICE_ACCOUNT))
        self.controller_policies: dict[str, IamPolicy] = {}
        for name, statements in controller_policies(c, self.node_role.arn, self.queue.arn).items():
            managed = IamPolicy(self, f"controller-{name}", name=f"{name}-{c.name}", policy=policy(*statements),
                                description=f"Karpenter controller ({name.removeprefix('KarpenterController')})")
            self.controller_policies[name] = managed
            IamRolePolicyAttachment(self, f"controller-{name}-attachment", role=self.controller_role.name,
                                    policy_arn=managed.arn)
        EksPodIdentityAssociation(self, "controller-identity", cluster_name=c.cluster_name, namespace=NAMESPACE,
                                  service_account=SERVICE_ACCOUNT, role_arn=self.controller_role.arn)
        # EC2 creates this role itself on an account's first Spot launch, unless the caller (Karpenter, whose policy
        # cannot create roles) lacks iam:CreateServiceLinkedRole; an account that never ran Spot needs it created once.
        if c.create_spot_service_linked_role:
            IamServiceLinkedRole(self, "spot-service-linked-role", aws_service_name="spot.amazonaws.com",
                                 description="EC2 Spot (created by mlplat for Karpenter's spot capacity)")
