"""EFS: encrypted shared file system with a mount target in every private subnet."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.efs_file_system import EfsFileSystem, EfsFileSystemLifecyclePolicy
from cdktn_provider_aws.efs_mount_target import EfsMountTarget
from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct


@dataclass(frozen=True)
class EfsConfig:
    name: str
    vpc_id: str
    subnet_ids: list[str]  # one private subnet per zone
    node_security_group_id: str
    kms_key_arn: str


class SharedFileSystem(Construct):
    def __init__(self, scope: Construct, id: str, config: EfsConfig) -> None:
        super().__init__(scope, id)
        sg = SecurityGroup(self, "sg", name=f"{config.name}-efs", vpc_id=config.vpc_id, description="EFS mount targets")
        VpcSecurityGroupIngressRule(self, "nfs", security_group_id=sg.id,
                                    referenced_security_group_id=config.node_security_group_id, ip_protocol="tcp",
                                    from_port=2049, to_port=2049, description="NFS from nodes")
        self.file_system = EfsFileSystem(
            self, "fs", creation_token=f"{config.name}-efs", encrypted=True, kms_key_id=config.kms_key_arn,
            performance_mode="generalPurpose", throughput_mode="elastic",
            lifecycle_policy=[EfsFileSystemLifecyclePolicy(transition_to_ia="AFTER_30_DAYS")], tags={"Name": f"{config.name}-efs"},
        )
        for i, subnet_id in enumerate(config.subnet_ids):
            EfsMountTarget(self, f"mount-{i}", file_system_id=self.file_system.id, subnet_id=subnet_id,
                           security_groups=[sg.id])

    @property
    def id(self) -> str:
        return self.file_system.id
