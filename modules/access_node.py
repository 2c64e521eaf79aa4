"""The cluster access node: how a machine outside the VPC reaches a private EKS endpoint without opening it.

A t4g.nano in a private subnet with no inbound rule at all, managed by AWS Systems Manager: `mlplat` (or an operator)
opens an SSM port-forwarding session through it to the cluster's private endpoint (AWS-StartPortForwardingSession-
ToRemoteHost), and terraform, kubectl and `mlplat open` talk to https://127.0.0.1:<port> with the endpoint's name
for TLS. Access is an IAM decision (ssm:StartSession on this instance), every session is logged by SSM, and the
endpoint stays private. The only opening is on the cluster's security group: 443 from this instance's group.

IMDSv2 only, hop limit 1; encrypted root volume; the standard AL2023 AMI, which ships the SSM agent (the minimal one
does not). The AMI is read once: a newer one does not replace the instance (`terraform apply -replace` does).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktn import TerraformResourceLifecycle
from cdktn_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktn_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktn_provider_aws.instance import Instance, InstanceMetadataOptions, InstanceRootBlockDevice
from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from mlplat.versions import ACCESS_NODE_AMI_PARAMETER, ACCESS_NODE_INSTANCE_TYPE
from modules.common import managed_policy, service_trust

ROOT_VOLUME_GIB = 8  # the AL2023 AMI's own snapshot size; it cannot be smaller


@dataclass(frozen=True)
class AccessNodeConfig:
    name: str
    partition: str
    vpc_id: str
    subnet_id: str  # a private subnet
    cluster_security_group_id: str
    kms_key_arn: str


class ClusterAccessNode(Construct):
    def __init__(self, scope: Construct, id: str, c: AccessNodeConfig) -> None:
        super().__init__(scope, id)
        ami = DataAwsSsmParameter(self, "ami", name=ACCESS_NODE_AMI_PARAMETER)
        role = IamRole(self, "role", name=f"{c.name}-access-node", assume_role_policy=service_trust("ec2.amazonaws.com"))
        IamRolePolicyAttachment(self, "ssm-core", role=role.name,
                                policy_arn=managed_policy(c.partition, "AmazonSSMManagedInstanceCore"))
        profile = IamInstanceProfile(self, "profile", name=f"{c.name}-access-node", role=role.name)
        self.security_group = SecurityGroup(self, "sg", name=f"{c.name}-access-node", vpc_id=c.vpc_id,
                                            description="Cluster access node: no inbound; HTTPS out")
        # Out to SSM's endpoints (through the NAT gateway) and to the cluster's private endpoint; nothing comes in.
        VpcSecurityGroupEgressRule(self, "https-out", security_group_id=self.security_group.id, ip_protocol="tcp",
                                   from_port=443, to_port=443, cidr_ipv4="0.0.0.0/0",
                                   description="HTTPS to Systems Manager and the EKS API")
        VpcSecurityGroupIngressRule(self, "to-api", security_group_id=c.cluster_security_group_id, ip_protocol="tcp",
                                    from_port=443, to_port=443,
                                    referenced_security_group_id=self.security_group.id,
                                    description="cluster access node to the API server")
        self.instance = Instance(
            self, "node", ami=ami.value, instance_type=ACCESS_NODE_INSTANCE_TYPE, subnet_id=c.subnet_id,
            vpc_security_group_ids=[self.security_group.id], iam_instance_profile=profile.name,
            associate_public_ip_address=False, monitoring=True, ebs_optimized=True,
            metadata_options=InstanceMetadataOptions(http_endpoint="enabled", http_tokens="required",
                                                     http_put_response_hop_limit=1),
            root_block_device=InstanceRootBlockDevice(encrypted=True, kms_key_id=c.kms_key_arn, volume_type="gp3",
                                                      volume_size=ROOT_VOLUME_GIB, delete_on_termination=True),
            tags={"Name": f"{c.name}-access-node"},
            lifecycle=TerraformResourceLifecycle(ignore_changes=["ami"]),
        )
