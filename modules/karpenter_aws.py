"""Karpenter's AWS side: controller role (Pod Identity), node role with its access entry, and the interruption
queue fed by EventBridge (spot interruption, rebalance, instance state change, scheduled health events)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktn_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktn_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktn_provider_aws.eks_access_entry import EksAccessEntry
from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktn_provider_aws.sqs_queue import SqsQueue
from cdktn_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from modules.common import POD_IDENTITY_TRUST, allow, managed_policy, policy, service_trust

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"

INTERRUPTION_EVENTS = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
}


@dataclass(frozen=True)
class KarpenterAwsConfig:
    name: str  # platform name: prefixes role and queue names
    cluster_name: str  # the cluster resource's name attribute, so associations wait for the cluster
    cluster_arn: str
    region: str
    account_id: str
    partition: str


def controller_policy(c: KarpenterAwsConfig, node_role_arn: str, queue_arn: str) -> str:
    """Karpenter v1's controller policy, scoped to this cluster's tags (after the upstream CloudFormation template)."""
    arn = f"arn:{c.partition}"
    region_scope = {"StringEquals": {"aws:RequestedRegion": c.region}}
    owned = {f"aws:RequestTag/kubernetes.io/cluster/{c.name}": "owned",
             "aws:RequestTag/eks:eks-cluster-name": c.name}
    owned_resource = {f"aws:ResourceTag/kubernetes.io/cluster/{c.name}": "owned"}
    return policy(
        allow(["ec2:RunInstances", "ec2:CreateFleet"],
              [f"{arn}:ec2:{c.region}::image/*", f"{arn}:ec2:{c.region}::snapshot/*",
               f"{arn}:ec2:{c.region}:*:security-group/*", f"{arn}:ec2:{c.region}:*:subnet/*",
               f"{arn}:ec2:{c.region}:*:capacity-reservation/*"], sid="ScopedInstanceAccess"),
        allow(["ec2:RunInstances", "ec2:CreateFleet"], f"{arn}:ec2:{c.region}:*:launch-template/*",
              sid="ScopedLaunchTemplateAccess",
              condition={"StringEquals": owned_resource, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}),
        allow(["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
              [f"{arn}:ec2:{c.region}:*:{r}/*" for r in
               ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")],
              sid="ScopedInstanceActionsWithTags",
              condition={"StringEquals": owned, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}),
        allow(["ec2:CreateTags"],
              [f"{arn}:ec2:{c.region}:*:{r}/*" for r in
               ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")],
              sid="ScopedResourceCreationTagging",
              condition={"StringEquals": {**owned, "ec2:CreateAction": ["RunInstances", "CreateFleet",
                                                                          "CreateLaunchTemplate"]},
                         "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}),
        allow(["ec2:CreateTags"], f"{arn}:ec2:{c.region}:*:instance/*", sid="ScopedResourceTagging",
              condition={"StringEquals": owned_resource, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                         "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim",
                                                                       "Name"]}}),
        allow(["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
              [f"{arn}:ec2:{c.region}:*:instance/*", f"{arn}:ec2:{c.region}:*:launch-template/*"],
              sid="ScopedDeletion",
              condition={"StringEquals": owned_resource, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}),
        allow(["ec2:DescribeAvailabilityZones", "ec2:DescribeCapacityReservations", "ec2:DescribeImages",
               "ec2:DescribeInstances", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
               "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
               "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"], sid="RegionalReadActions",
              condition=region_scope),
        allow(["ssm:GetParameter"], f"{arn}:ssm:{c.region}::parameter/aws/service/*", sid="SSMReadActions"),
        allow(["pricing:GetProducts"], sid="PricingReadActions"),
        allow(["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"], queue_arn, sid="InterruptionQueue"),
        allow(["iam:PassRole"], node_role_arn, sid="PassNodeRole",
              condition={"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}}),
        allow(["iam:CreateInstanceProfile", "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile",
               "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
              f"{arn}:iam::{c.account_id}:instance-profile/*", sid="ScopedInstanceProfileActions",
              condition={"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{c.name}": "owned",
                                          "aws:ResourceTag/topology.kubernetes.io/region": c.region},
                         "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}),
        allow(["iam:GetInstanceProfile", "iam:ListInstanceProfiles"], sid="InstanceProfileRead"),
        allow(["eks:DescribeCluster"], c.cluster_arn, sid="APIServerEndpointDiscovery"),
    )


class KarpenterAws(Construct):
    def __init__(self, scope: Construct, id: str, config: KarpenterAwsConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.node_role = IamRole(self, "node-role", name=f"{c.name}-karpenter-node",
                                 assume_role_policy=service_trust("ec2.amazonaws.com"))
        for pol in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"):
            IamRolePolicyAttachment(self, f"node-{pol}", role=self.node_role.name,
                                    policy_arn=managed_policy(c.partition, pol))
        # Nodes Karpenter launches join through this access entry (API authentication mode, no aws-auth ConfigMap).
        EksAccessEntry(self, "node-access", cluster_name=c.cluster_name, principal_arn=self.node_role.arn,
                       type="EC2_LINUX")

        self.queue = SqsQueue(self, "queue", name=f"{c.name}-karpenter", message_retention_seconds=300,
                              sqs_managed_sse_enabled=True)
        SqsQueuePolicy(self, "queue-policy", queue_url=self.queue.url, policy=policy(
            {"Sid": "EventBridgeAndSQS", "Effect": "Allow",
             "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
             "Action": "sqs:SendMessage", "Resource": self.queue.arn},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
             "Resource": self.queue.arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ))
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = CloudwatchEventRule(self, f"rule-{event}", name=f"{c.name}-karpenter-{event}",
                                       event_pattern=json.dumps(pattern, sort_keys=True))
            CloudwatchEventTarget(self, f"target-{event}", rule=rule.name, target_id="karpenter-queue",
                                  arn=self.queue.arn)

        self.controller_role = IamRole(self, "controller-role", name=f"{c.name}-karpenter-controller",
                                       assume_role_policy=POD_IDENTITY_TRUST)
        IamRolePolicy(self, "controller-policy", role=self.controller_role.id,
                      policy=controller_policy(c, self.node_role.arn, self.queue.arn))
        EksPodIdentityAssociation(self, "controller-identity", cluster_name=c.cluster_name, namespace=NAMESPACE,
                                  service_account=SERVICE_ACCOUNT, role_arn=self.controller_role.arn)
