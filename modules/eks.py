"""EKS: control plane (API auth, KMS secrets encryption, KMS-encrypted logs, endpoint allowlist), security groups,
admin access entries, the tainted system managed node group, and the EKS managed add-ons with their Pod Identity
roles. Managed add-ons and the system node group follow the control plane's version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from cdktn import Fn, TerraformIterator, Token
from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktn_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktn_provider_aws.data_aws_eks_addon_version import DataAwsEksAddonVersion
from cdktn_provider_aws.data_aws_iam_session_context import DataAwsIamSessionContext
from cdktn_provider_aws.eks_access_entry import EksAccessEntry
from cdktn_provider_aws.eks_access_policy_association import EksAccessPolicyAssociation
from cdktn_provider_aws.eks_addon import EksAddon, EksAddonPodIdentityAssociation
from cdktn_provider_aws.eks_cluster import EksCluster
from cdktn_provider_aws.eks_node_group import EksNodeGroup, EksNodeGroupTaint
from cdktn_provider_aws.iam_role import IamRole
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
from constructs import Construct

from modules.common import ClusterScope, managed_policy, service_trust

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
SYSTEM_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
SYSTEM_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                        "AmazonSSMManagedInstanceCore")
LOG_RETENTION_DAYS = 90


def cluster_admin_policy(partition: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class EksConfig:
    scope: ClusterScope
    version: str
    vpc_id: str
    subnet_ids: list[str]
    kms_key_arn: str
    public_access_cidrs: tuple[str, ...]
    admin_principal_arns: tuple[str, ...]
    creator_admin: bool  # an admin access entry for whoever deploys (de-duplicated against admin_principal_arns)
    system_instance_types: tuple[str, ...]
    system_min_size: int
    system_max_size: int
    system_desired_size: int
    system_disk_gib: int
    enable_efs_csi: bool
    enable_fsx_csi: bool
    enable_node_monitoring_agent: bool
    instance_tags: Mapping[str, str]  # the provider's default tags do not reach instances launched from a template

    @property
    def name(self) -> str:
        return self.scope.cluster_name


@dataclass(frozen=True)
class AddonSpec:
    name: str
    service_account: str | None = None  # gets a Pod Identity role when set, with the managed policies below
    managed_policies: tuple[str, ...] = ()
    before_nodes: bool = False  # networking and credentials must exist before the first node joins
    configuration: Mapping[str, Any] | None = None  # the add-on's configuration values (its own JSON schema)


class EksClusterModule(Construct):
    def __init__(self, scope: Construct, id: str, config: EksConfig) -> None:
        super().__init__(scope, id)
        c = config
        p = c.scope.partition
        self.config = c
        self.name = c.name
        cluster_role = IamRole(self, "cluster-role", name=f"{c.name}-cluster",
                               assume_role_policy=service_trust("eks.amazonaws.com"))
        cluster_policy = IamRolePolicyAttachment(self, "cluster-policy", role=cluster_role.name,
                                                 policy_arn=managed_policy(p, "AmazonEKSClusterPolicy"))
        # Created before the cluster so its retention and key apply from the first log line.
        log_group = CloudwatchLogGroup(self, "logs", name=f"/aws/eks/{c.name}/cluster",
                                       retention_in_days=LOG_RETENTION_DAYS, kms_key_id=c.kms_key_arn)

        # Nodes (system group and Karpenter's) share one security group that Karpenter discovers by tag.
        self.node_sg = SecurityGroup(self, "node-sg", name=f"{c.name}-node", vpc_id=c.vpc_id, description="EKS nodes",
                                     tags={"karpenter.sh/discovery": c.name, f"kubernetes.io/cluster/{c.name}": "owned"})
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
        # EFA traffic is not IP: 0.0.0.0/0 does not cover it, the group must allow egress to itself (EKS and EFA
        # security group requirements), or multi-node NCCL and Neuron collectives over EFA cannot connect.
        VpcSecurityGroupEgressRule(self, "node-to-node-egress", security_group_id=self.node_sg.id,
                                   referenced_security_group_id=self.node_sg.id, ip_protocol="-1",
                                   description="EFA and NCCL between nodes (EFA is not IP traffic)")
        for rid, sg in (("node-egress", self.node_sg), ("cluster-egress", self.cluster_sg)):
            VpcSecurityGroupEgressRule(self, rid, security_group_id=sg.id, cidr_ipv4="0.0.0.0/0", ip_protocol="-1",
                                       description="outbound through NAT and VPC endpoints")

        public = bool(c.public_access_cidrs)
        self.cluster = EksCluster(
            self, "cluster", name=c.name, version=c.version, role_arn=cluster_role.arn,
            # No implicit admin for the creator: EKS would make an access entry that collides (409) with an explicit
            # one for the same principal; the creator gets an explicit, de-duplicated entry below instead.
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": c.kms_key_arn}},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            vpc_config={
                "subnet_ids": c.subnet_ids, "security_group_ids": [self.cluster_sg.id],
                "endpoint_private_access": True, "endpoint_public_access": public,
                **({"public_access_cidrs": list(c.public_access_cidrs)} if public else {}),
            },
            # The role's policy must outlive the cluster, or EKS cannot delete the ENIs and security group it made.
            depends_on=[log_group, cluster_policy],
        )
        self._admin_entries(c)

        node_role = IamRole(self, "system-node-role", name=f"{c.name}-system-node",
                            assume_role_policy=service_trust("ec2.amazonaws.com"))
        node_policies = [
            IamRolePolicyAttachment(self, f"system-node-{pol}", role=node_role.name, policy_arn=managed_policy(p, pol))
            for pol in SYSTEM_NODE_POLICIES
        ]
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
            tag_specifications=[
                LaunchTemplateTagSpecifications(resource_type=kind, tags={**c.instance_tags, "Name": f"{c.name}-system"})
                for kind in ("instance", "volume", "network-interface")
            ],
        )

        addons = [
            AddonSpec("vpc-cni", "aws-node", ("AmazonEKS_CNI_Policy",), before_nodes=True),
            AddonSpec("eks-pod-identity-agent", before_nodes=True),
            AddonSpec("kube-proxy", before_nodes=True),
            AddonSpec("coredns"),
            # Volumes the driver creates for claims carry the platform's tags, so `mlplat destroy` can find the
            # ones a deleted cluster left (controller.extraVolumeTags is in the add-on's configuration schema).
            AddonSpec("aws-ebs-csi-driver", "ebs-csi-controller-sa", ("service-role/AmazonEBSCSIDriverPolicy",),
                      configuration={"controller": {"extraVolumeTags": dict(c.instance_tags)}}),
        ]
        if c.enable_efs_csi:
            addons.append(AddonSpec("aws-efs-csi-driver", "efs-csi-controller-sa",
                                    ("service-role/AmazonEFSCSIDriverPolicy",)))
        if c.enable_fsx_csi:
            # The platform mounts FSx through a static PersistentVolume, which needs no AWS API: the controller gets
            # no role at all (dynamic provisioning would need fsx:CreateFileSystem on "*").
            addons.append(AddonSpec("aws-fsx-csi-driver"))
        if c.enable_node_monitoring_agent:
            # Sets AcceleratedHardwareReady (GPU XIDs, Neuron errors), KernelReady, NetworkingReady ... conditions
            # that Karpenter's node repair acts on.
            addons.append(AddonSpec("eks-node-monitoring-agent"))
        self.addons: dict[str, EksAddon] = {a.name: self._addon(a) for a in addons if a.before_nodes}
        self.system_nodes = EksNodeGroup(
            self, "system", cluster_name=self.cluster.name, node_group_name=f"{c.name}-system",
            # Follows the control plane: a version bump rolls the system nodes after the cluster upgrade.
            version=self.cluster.version,
            node_role_arn=node_role.arn, subnet_ids=c.subnet_ids, ami_type="AL2023_x86_64_STANDARD",
            instance_types=list(c.system_instance_types), capacity_type="ON_DEMAND",
            launch_template={"id": template.id, "version": Token.as_string(template.latest_version)},
            scaling_config={"min_size": c.system_min_size, "max_size": c.system_max_size,
                            "desired_size": c.system_desired_size},
            update_config={"max_unavailable": 1},
            labels={"mlplat.io/pool": "system"}, taint=[EksNodeGroupTaint(**SYSTEM_TAINT)],
            # The node role's policies must outlive the nodes (else EKS cannot clean up their ENIs on delete).
            depends_on=[*self.addons.values(), *node_policies],
        )
        # The rest schedule pods, so they wait for the system nodes to be ready.
        for a in addons:
            if not a.before_nodes:
                self.addons[a.name] = self._addon(a, after=[self.system_nodes])

    def _admin_entries(self, c: EksConfig) -> None:
        """Cluster admins through access entries: the blueprint's principals and, unless turned off, the identity
        that deploys (its IAM role, not the STS session), each once."""
        if not (c.admin_principal_arns or c.creator_admin):
            return
        admins: list[str] = list(c.admin_principal_arns)
        if c.creator_admin:
            caller = DataAwsCallerIdentity(self, "caller")
            creator = DataAwsIamSessionContext(self, "creator", arn=caller.arn)
            admins.append(creator.issuer_arn)
        # A set: the deployer listed in admin_principal_arns too gets one entry, not a 409 on the second.
        principals = TerraformIterator.from_list(Fn.toset(admins))
        entries = EksAccessEntry(self, "admin", for_each=principals, cluster_name=self.cluster.name,
                                 principal_arn=Token.as_string(principals.value), type="STANDARD")
        EksAccessPolicyAssociation(self, "admin-policy", for_each=principals, cluster_name=self.cluster.name,
                                   principal_arn=Token.as_string(principals.value),
                                   policy_arn=cluster_admin_policy(c.scope.partition),
                                   access_scope={"type": "cluster"}, depends_on=[entries])

    def _addon(self, spec: AddonSpec, after: list | None = None) -> EksAddon:
        scope = self.config.scope
        associations = []
        waits: list = list(after or [])
        if spec.service_account:
            role = IamRole(self, f"{spec.name}-role", name=f"{self.name}-{spec.name}"[:64],
                           assume_role_policy=scope.pod_identity_trust("kube-system", spec.service_account))
            for pol in spec.managed_policies:
                waits.append(IamRolePolicyAttachment(self, f"{spec.name}-{pol.split('/')[-1]}", role=role.name,
                                                     policy_arn=managed_policy(scope.partition, pol)))
            associations = [EksAddonPodIdentityAssociation(role_arn=role.arn, service_account=spec.service_account)]
        # EKS's default build of the add-on for the cluster's version: a version bump upgrades the add-on too.
        version = DataAwsEksAddonVersion(self, f"{spec.name}-version", addon_name=spec.name,
                                         kubernetes_version=self.cluster.version)
        return EksAddon(
            self, f"addon-{spec.name}", cluster_name=self.cluster.name, addon_name=spec.name,
            addon_version=version.version,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            pod_identity_association=associations or None, depends_on=waits or None,
            configuration_values=json.dumps(spec.configuration, sort_keys=True) if spec.configuration else None,
        )
