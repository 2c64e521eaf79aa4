"""EKS: control plane (API auth, KMS secrets encryption, logs, endpoint allowlist), security groups, admin access
entries, the tainted system managed node group, and the EKS managed add-ons with their Pod Identity roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktn_provider_aws.eks_access_entry import EksAccessEntry
from cdktn_provider_aws.eks_access_policy_association import EksAccessPolicyAssociation
from cdktn_provider_aws.eks_addon import EksAddon, EksAddonPodIdentityAssociation
from cdktn_provider_aws.eks_cluster import EksCluster
from cdktn_provider_aws.eks_node_group import EksNodeGroup, EksNodeGroupTaint
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktn_provider_aws.launch_template import (
    LaunchTemplate,
    LaunchTemplateBlockDeviceMappings,
    LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateTagSpecifications,
)
from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from cdktn import Token
from constructs import Construct

from modules.common import POD_IDENTITY_TRUST, allow, managed_policy, policy, service_trust

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
SYSTEM_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}


@dataclass(frozen=True)
class EksConfig:
    name: str
    version: str
    vpc_id: str
    vpc_cidr: str
    subnet_ids: list[str]
    kms_key_arn: str
    partition: str
    public_access_cidrs: tuple[str, ...]
    admin_principal_arns: tuple[str, ...]
    system_instance_types: tuple[str, ...]
    system_min_size: int
    system_max_size: int
    system_desired_size: int
    system_disk_gib: int
    enable_efs_csi: bool
    enable_fsx_csi: bool


@dataclass(frozen=True)
class AddonSpec:
    name: str
    service_account: str | None = None  # gets a Pod Identity role when set
    managed_policies: tuple[str, ...] = ()
    inline_policy: str | None = None
    before_nodes: bool = False  # networking and credentials must exist before the first node joins


def fsx_csi_policy() -> str:
    # Scoped to what the FSx CSI controller calls for dynamic provisioning; static PVs need none of it.
    return policy(
        allow(["fsx:CreateFileSystem", "fsx:DeleteFileSystem", "fsx:DescribeFileSystems", "fsx:UpdateFileSystem",
               "fsx:TagResource"]),
        allow(["iam:CreateServiceLinkedRole", "iam:AttachRolePolicy", "iam:PutRolePolicy"],
              "arn:aws:iam::*:role/aws-service-role/fsx.amazonaws.com/*"),
        allow(["ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"]),
    )


class EksClusterModule(Construct):
    def __init__(self, scope: Construct, id: str, config: EksConfig) -> None:
        super().__init__(scope, id)
        c = config
        p = c.partition
        self.name = c.name
        cluster_role = IamRole(self, "cluster-role", name=f"{c.name}-cluster",
                               assume_role_policy=service_trust("eks.amazonaws.com"))
        IamRolePolicyAttachment(self, "cluster-policy", role=cluster_role.name,
                                policy_arn=managed_policy(p, "AmazonEKSClusterPolicy"))
        log_group = CloudwatchLogGroup(self, "logs", name=f"/aws/eks/{c.name}/cluster", retention_in_days=90)

        # Nodes (system group and Karpenter's) share one security group that Karpenter discovers by tag.
        self.node_sg = SecurityGroup(self, "node-sg", name=f"{c.name}-node", vpc_id=c.vpc_id,
                                     description="EKS nodes", tags={"karpenter.sh/discovery": c.name})
        self.cluster_sg = SecurityGroup(self, "cluster-sg", name=f"{c.name}-cluster", vpc_id=c.vpc_id,
                                        description="EKS control plane ENIs")
        rules = [
            ("node-to-api", self.cluster_sg, self.node_sg, 443, 443, "nodes to the API server"),
            ("api-to-kubelet", self.node_sg, self.cluster_sg, 10250, 10250, "API server to kubelets"),
            ("api-to-webhooks", self.node_sg, self.cluster_sg, 443, 443, "API server to admission webhooks"),
            ("api-to-ext-webhooks", self.node_sg, self.cluster_sg, 1025, 65535, "API server to webhooks, metrics"),
        ]
        for rid, target, source, lo, hi, why in rules:
            VpcSecurityGroupIngressRule(self, rid, security_group_id=target.id, referenced_security_group_id=source.id,
                                        ip_protocol="tcp", from_port=lo, to_port=hi, description=why)
        VpcSecurityGroupIngressRule(self, "node-to-node", security_group_id=self.node_sg.id,
                                    referenced_security_group_id=self.node_sg.id, ip_protocol="-1",
                                    description="pod and node traffic, EFA and NCCL between nodes")
        for rid, sg in (("node-egress", self.node_sg), ("cluster-egress", self.cluster_sg)):
            VpcSecurityGroupEgressRule(self, rid, security_group_id=sg.id, cidr_ipv4="0.0.0.0/0", ip_protocol="-1",
                                       description="outbound through NAT and VPC endpoints")

        public = bool(c.public_access_cidrs)
        self.cluster = EksCluster(
            self, "cluster", name=c.name, version=c.version, role_arn=cluster_role.arn,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": c.kms_key_arn}},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            vpc_config={
                "subnet_ids": c.subnet_ids, "security_group_ids": [self.cluster_sg.id],
                "endpoint_private_access": True, "endpoint_public_access": public,
                **({"public_access_cidrs": list(c.public_access_cidrs)} if public else {}),
            },
            depends_on=[log_group],
        )
        for i, arn in enumerate(c.admin_principal_arns):
            entry = EksAccessEntry(self, f"admin-{i}", cluster_name=self.cluster.name, principal_arn=arn,
                                   type="STANDARD")
            EksAccessPolicyAssociation(self, f"admin-{i}-policy", cluster_name=self.cluster.name,
                                       principal_arn=entry.principal_arn, policy_arn=CLUSTER_ADMIN_POLICY,
                                       access_scope={"type": "cluster"})

        node_role = IamRole(self, "system-node-role", name=f"{c.name}-system-node",
                            assume_role_policy=service_trust("ec2.amazonaws.com"))
        for pol in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"):
            IamRolePolicyAttachment(self, f"system-node-{pol}", role=node_role.name, policy_arn=managed_policy(p, pol))
        template = LaunchTemplate(
            self, "system-template", name=f"{c.name}-system", update_default_version=True,
            vpc_security_group_ids=[self.node_sg.id],
            # IMDSv2 only, hop limit 1: pods take credentials from Pod Identity, never from the node role.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            block_device_mappings=[LaunchTemplateBlockDeviceMappings(
                device_name="/dev/xvda", ebs=LaunchTemplateBlockDeviceMappingsEbs(
                    volume_size=c.system_disk_gib, volume_type="gp3", encrypted="true", delete_on_termination="true"),
            )],
            tag_specifications=[LaunchTemplateTagSpecifications(resource_type="instance",
                                                                tags={"Name": f"{c.name}-system"})],
        )

        addons = [
            AddonSpec("vpc-cni", "aws-node", ("AmazonEKS_CNI_Policy",), before_nodes=True),
            AddonSpec("eks-pod-identity-agent", before_nodes=True),
            AddonSpec("kube-proxy", before_nodes=True),
            AddonSpec("coredns"),
            AddonSpec("aws-ebs-csi-driver", "ebs-csi-controller-sa", ("service-role/AmazonEBSCSIDriverPolicy",)),
        ]
        if c.enable_efs_csi:
            addons.append(AddonSpec("aws-efs-csi-driver", "efs-csi-controller-sa",
                                    ("service-role/AmazonEFSCSIDriverPolicy",)))
        if c.enable_fsx_csi:
            addons.append(AddonSpec("aws-fsx-csi-driver", "fsx-csi-controller-sa", inline_policy=fsx_csi_policy()))
        self.addons: dict[str, EksAddon] = {a.name: self._addon(a, p) for a in addons if a.before_nodes}
        self.system_nodes = EksNodeGroup(
            self, "system", cluster_name=self.cluster.name, node_group_name=f"{c.name}-system",
            node_role_arn=node_role.arn, subnet_ids=c.subnet_ids, ami_type="AL2023_x86_64_STANDARD",
            instance_types=list(c.system_instance_types), capacity_type="ON_DEMAND",
            launch_template={"id": template.id, "version": Token.as_string(template.latest_version)},
            scaling_config={"min_size": c.system_min_size, "max_size": c.system_max_size,
                            "desired_size": c.system_desired_size},
            update_config={"max_unavailable": 1},
            labels={"mlplat.io/pool": "system"}, taint=[EksNodeGroupTaint(**SYSTEM_TAINT)],
            depends_on=list(self.addons.values()),
        )
        # The rest schedule pods, so they wait for the system nodes to be ready.
        for a in addons:
            if not a.before_nodes:
                self.addons[a.name] = self._addon(a, p, after=[self.system_nodes])

    def _addon(self, spec: AddonSpec, partition: str, after: list | None = None) -> EksAddon:
        associations = []
        if spec.service_account:
            role = IamRole(self, f"{spec.name}-role", name=f"{self.name}-{spec.name}"[:64],
                           assume_role_policy=POD_IDENTITY_TRUST)
            for pol in spec.managed_policies:
                IamRolePolicyAttachment(self, f"{spec.name}-{pol.split('/')[-1]}", role=role.name,
                                        policy_arn=managed_policy(partition, pol))
            if spec.inline_policy:
                IamRolePolicy(self, f"{spec.name}-policy", role=role.id, policy=spec.inline_policy)
            associations = [EksAddonPodIdentityAssociation(role_arn=role.arn, service_account=spec.service_account)]
        return EksAddon(
            self, f"addon-{spec.name}", cluster_name=self.cluster.name, addon_name=spec.name,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            pod_identity_association=associations or None, depends_on=after,
        )
