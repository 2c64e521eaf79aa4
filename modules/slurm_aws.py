"""The AWS side of Slurm: slurmdbd's accounting database, an encrypted Aurora MySQL Serverless v2 cluster in the
private subnets that only the nodes can reach and that refuses unencrypted connections.

The master password is the platform-generated secret `<name>/slurm-db`: read ephemerally and set through the
write-only attribute, it is in no synthesized file and in no terraform state or plan (as MLflow's password is,
modules/mlflow_aws.py).
slurmdbd creates its own database (slurm_acct_db) on first start, so the cluster is created without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cdktn import Fn, ITerraformDependable, TerraformResourceLifecycle
from cdktn_provider_aws.db_subnet_group import DbSubnetGroup
from cdktn_provider_aws.ephemeral_aws_secretsmanager_secret_version import EphemeralAwsSecretsmanagerSecretVersion
from cdktn_provider_aws.rds_cluster import RdsCluster, RdsClusterServerlessv2ScalingConfiguration
from cdktn_provider_aws.rds_cluster_instance import RdsClusterInstance
from cdktn_provider_aws.rds_cluster_parameter_group import RdsClusterParameterGroup, RdsClusterParameterGroupParameter
from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from mlplat import versions
from modules.secrets import PASSWORD_VERSION

MYSQL_PORT = 3306
# slurmdbd's StorageLoc (the chart's default accounting.storageConfig.database).
ACCOUNTING_DATABASE = "slurm_acct_db"
AURORA_PARAMETERS = (("require_secure_transport", "ON"), ("server_audit_logging", "1"),
                     ("server_audit_events", "CONNECT"))


@dataclass(frozen=True)
class SlurmAwsConfig:
    name: str  # the platform's name: prefixes every resource
    vpc_id: str
    subnet_ids: Sequence[str]
    node_security_group_id: str
    kms_key_arn: str
    db_username: str
    db_secret_arn: str
    db_secret_name: str
    db_secret_written: ITerraformDependable  # the secret version: read the password only once it exists
    min_acu: float
    max_acu: float
    backup_retention_days: int
    deletion_protection: bool


@dataclass(frozen=True)
class SlurmAwsOutputs:
    db_endpoint: str
    db_port: int
    db_secret_name: str


class SlurmAws(Construct):
    def __init__(self, scope: Construct, id: str, config: SlurmAwsConfig) -> None:
        super().__init__(scope, id)
        c = config
        sg = SecurityGroup(self, "db-sg", name=f"{c.name}-slurm-db", vpc_id=c.vpc_id,
                           description="Slurm accounting MySQL, from EKS nodes only")
        VpcSecurityGroupIngressRule(self, "mysql-from-nodes", security_group_id=sg.id,
                                    referenced_security_group_id=c.node_security_group_id, ip_protocol="tcp",
                                    from_port=MYSQL_PORT, to_port=MYSQL_PORT, description="MySQL from nodes")
        subnets = DbSubnetGroup(self, "db-subnets", name=f"{c.name}-slurm", subnet_ids=list(c.subnet_ids),
                                description="Slurm accounting database: private subnets")
        # TLS only: the server refuses unencrypted connections (Aurora MySQL 3's require_secure_transport). Sign-ins
        # (successful or not) are audited to CloudWatch Logs; slurmdbd's own queries are not, they are the job records.
        params = RdsClusterParameterGroup(
            self, "db-params", name=f"{c.name}-slurm", family=versions.AURORA_MYSQL_PARAMETER_FAMILY,
            description="Slurm accounting database: TLS required, connections audited",
            parameter=[RdsClusterParameterGroupParameter(name=name, value=value) for name, value in AURORA_PARAMETERS],
        )
        credentials = EphemeralAwsSecretsmanagerSecretVersion(self, "db-credentials", secret_id=c.db_secret_arn,
                                                              depends_on=[c.db_secret_written])
        self.cluster = RdsCluster(
            self, "db", cluster_identifier=f"{c.name}-slurm", engine="aurora-mysql", engine_mode="provisioned",
            engine_version=versions.AURORA_MYSQL_VERSION, port=MYSQL_PORT, master_username=c.db_username,
            master_password_wo=Fn.lookup(Fn.jsondecode(credentials.secret_string), "password"),
            # Bumped together with the generated secret's version (modules/secrets.py), so a rotation reaches both.
            master_password_wo_version=PASSWORD_VERSION,
            db_subnet_group_name=subnets.name, vpc_security_group_ids=[sg.id],
            db_cluster_parameter_group_name=params.name,
            storage_encrypted=True, kms_key_id=c.kms_key_arn,
            serverlessv2_scaling_configuration=RdsClusterServerlessv2ScalingConfiguration(
                min_capacity=c.min_acu, max_capacity=c.max_acu),
            backup_retention_period=c.backup_retention_days, copy_tags_to_snapshot=True,
            deletion_protection=c.deletion_protection, skip_final_snapshot=False,
            # Unique per cluster generation (see modules/mlflow_aws.py): a redeploy under one name never collides.
            final_snapshot_identifier=f"{c.name}-slurm-final-" + Fn.formatdate("YYYYMMDDhhmmss", Fn.timestamp()),
            enabled_cloudwatch_logs_exports=["audit", "error"],
            # AWS applies minor versions in maintenance windows; terraform must not try to move the cluster back.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["engine_version", "final_snapshot_identifier"]),
        )
        # One writer: accounting is written in bursts by one slurmdbd, and Slurm queues records while it is away.
        self.instance = RdsClusterInstance(
            self, "db-1", identifier=f"{c.name}-slurm-1", cluster_identifier=self.cluster.id,
            instance_class="db.serverless", engine=self.cluster.engine, engine_version=self.cluster.engine_version,
            db_subnet_group_name=subnets.name, publicly_accessible=False, auto_minor_version_upgrade=True,
            performance_insights_enabled=True, performance_insights_kms_key_id=c.kms_key_arn,
            performance_insights_retention_period=7,
            lifecycle=TerraformResourceLifecycle(ignore_changes=["engine_version"]),
        )
        self.outputs = SlurmAwsOutputs(db_endpoint=self.cluster.endpoint, db_port=MYSQL_PORT,
                                       db_secret_name=c.db_secret_name)
