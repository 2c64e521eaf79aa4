"""The AWS side of Slurm: slurmdbd's accounting database, an encrypted Aurora MySQL Serverless v2 cluster in the
private subnets that only the nodes can reach and that refuses unencrypted connections.

The master password is the platform-generated secret `<name>/slurm-db`, set write-only (modules/aurora.py), as
MLflow's is.
slurmdbd creates its own database (slurm_acct_db) on first start, so the cluster is created without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cdktn import ITerraformDependable
from constructs import Construct

from mlplat import versions
from modules.aurora import AuroraSpec, aurora_serverless

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
        # TLS only: the server refuses unencrypted connections (Aurora MySQL 3's require_secure_transport). Sign-ins
        # (successful or not) are audited to CloudWatch Logs; slurmdbd's own queries are not, they are the job records.
        # One writer: accounting is written in bursts by one slurmdbd, and Slurm queues records while it is away.
        self.cluster, [self.instance] = aurora_serverless(self, AuroraSpec(
            identifier=f"{c.name}-slurm", engine="aurora-mysql", engine_version=versions.AURORA_MYSQL_VERSION,
            parameter_family=versions.AURORA_MYSQL_PARAMETER_FAMILY, parameters=AURORA_PARAMETERS, port=MYSQL_PORT,
            protocol="mysql", protocol_label="MySQL", purpose="Slurm accounting database",
            sg_description="Slurm accounting MySQL, from EKS nodes only",
            params_description="Slurm accounting database: TLS required, connections audited",
            vpc_id=c.vpc_id, subnet_ids=c.subnet_ids, node_security_group_id=c.node_security_group_id,
            kms_key_arn=c.kms_key_arn, db_username=c.db_username, db_secret_arn=c.db_secret_arn,
            db_secret_written=c.db_secret_written, min_acu=c.min_acu, max_acu=c.max_acu, instances=1,
            backup_retention_days=c.backup_retention_days, deletion_protection=c.deletion_protection,
            log_exports=("audit", "error"),
        ))
        self.outputs = SlurmAwsOutputs(db_endpoint=self.cluster.endpoint, db_port=MYSQL_PORT,
                                       db_secret_name=c.db_secret_name)
