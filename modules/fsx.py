"""FSx for Lustre linked to S3: PERSISTENT_2 with a data repository association (auto import and export), or
SCRATCH_2 with import/export paths on the file system."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.fsx_data_repository_association import FsxDataRepositoryAssociation
from cdktn_provider_aws.fsx_lustre_file_system import FsxLustreFileSystem
from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

FILE_SYSTEM_PATH = "/s3"
LUSTRE_VERSION = "2.15"
AUTO_EVENTS = ["NEW", "CHANGED", "DELETED"]
LUSTRE_PORTS = ((988, 988), (1018, 1023))


@dataclass(frozen=True)
class FsxConfig:
    name: str
    vpc_id: str
    subnet_id: str
    node_security_group_id: str
    kms_key_arn: str
    deployment_type: str
    storage_capacity: int
    throughput: int
    s3_path: str  # s3://bucket[/prefix]


class LustreFileSystem(Construct):
    def __init__(self, scope: Construct, id: str, config: FsxConfig) -> None:
        super().__init__(scope, id)
        c = config
        sg = SecurityGroup(self, "sg", name=f"{c.name}-fsx", vpc_id=c.vpc_id, description="FSx for Lustre")
        self.security_group = sg
        # Lustre uses 988 (LNet) and 1018-1023 between clients and servers, and among the servers themselves, in both
        # directions: servers open connections to clients too (callbacks, reconnects), so the FSx group needs egress
        # to the nodes and the nodes ingress from it (FSx for Lustre guide, "File system access control with
        # Amazon VPC"), besides the servers' traffic among themselves.
        for lo, hi in LUSTRE_PORTS:
            VpcSecurityGroupIngressRule(self, f"lustre-nodes-{lo}", security_group_id=sg.id,
                                        referenced_security_group_id=c.node_security_group_id, ip_protocol="tcp",
                                        from_port=lo, to_port=hi, description="Lustre from nodes")
            VpcSecurityGroupIngressRule(self, f"lustre-self-{lo}", security_group_id=sg.id,
                                        referenced_security_group_id=sg.id, ip_protocol="tcp",
                                        from_port=lo, to_port=hi, description="Lustre among servers")
            VpcSecurityGroupEgressRule(self, f"lustre-to-nodes-{lo}", security_group_id=sg.id,
                                       referenced_security_group_id=c.node_security_group_id, ip_protocol="tcp",
                                       from_port=lo, to_port=hi, description="Lustre servers to clients")
            VpcSecurityGroupIngressRule(self, f"nodes-from-lustre-{lo}", security_group_id=c.node_security_group_id,
                                        referenced_security_group_id=sg.id, ip_protocol="tcp",
                                        from_port=lo, to_port=hi, description="Lustre servers to clients")
        VpcSecurityGroupEgressRule(self, "egress", security_group_id=sg.id, referenced_security_group_id=sg.id,
                                   ip_protocol="-1", description="Lustre servers among themselves")
        persistent = c.deployment_type == "PERSISTENT_2"
        common = dict(
            storage_capacity=c.storage_capacity, subnet_ids=[c.subnet_id], security_group_ids=[sg.id],
            deployment_type=c.deployment_type, storage_type="SSD", file_system_type_version=LUSTRE_VERSION,
            data_compression_type="LZ4", tags={"Name": f"{c.name}-fsx"},
        )
        if persistent:
            self.file_system = FsxLustreFileSystem(
                self, "fs", per_unit_storage_throughput=c.throughput, kms_key_id=c.kms_key_arn,
                automatic_backup_retention_days=0, **common,
            )
            FsxDataRepositoryAssociation(
                self, "s3-link", file_system_id=self.file_system.id, file_system_path=FILE_SYSTEM_PATH,
                data_repository_path=c.s3_path, batch_import_meta_data_on_create=True,
                s3={"auto_import_policy": {"events": AUTO_EVENTS}, "auto_export_policy": {"events": AUTO_EVENTS}},
            )
        else:
            # SCRATCH_2 is encrypted at rest with an FSx-managed key; it links S3 on the file system itself.
            self.file_system = FsxLustreFileSystem(
                self, "fs", import_path=c.s3_path, export_path=c.s3_path,
                auto_import_policy="NEW_CHANGED_DELETED", **common,
            )
