"""The AWS side of Airflow: the task-log bucket with a Pod Identity role for the Airflow components that write or
read task logs, and the metadata database, an encrypted Aurora PostgreSQL Serverless v2 cluster in the private
subnets that only the nodes can reach and that refuses unencrypted connections.

The master password is the platform-generated secret `<name>/airflow-db`, set write-only (modules/aurora.py), as
MLflow's is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cdktn import ITerraformDependable
from constructs import Construct

from mlplat import versions
from modules.aurora import AuroraSpec, aurora_serverless
from modules.bucket import SecureBucket
from modules.common import ClusterScope, allow, policy, pod_identity_role

DATABASE_NAME = "airflow"
POSTGRES_PORT = 5432
LOG_PREFIX = "logs"


@dataclass(frozen=True)
class AirflowAwsConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the associations wait for the cluster
    vpc_id: str
    subnet_ids: Sequence[str]
    node_security_group_id: str
    kms_key_arn: str
    namespace: str
    # Every Airflow service account that writes task logs (task pods, triggerer, DAG processor, scheduler) or reads
    # them for the UI (API server): one role, one association each.
    service_accounts: Sequence[str]
    db_username: str
    db_secret_arn: str
    db_secret_written: ITerraformDependable  # the secret version: read the password only once it exists
    min_acu: float
    max_acu: float
    backup_retention_days: int
    deletion_protection: bool
    force_destroy_bucket: bool


@dataclass(frozen=True)
class AirflowAwsOutputs:
    log_bucket: str
    db_endpoint: str
    role_arn: str


class AirflowAws(Construct):
    def __init__(self, scope: Construct, id: str, config: AirflowAwsConfig) -> None:
        super().__init__(scope, id)
        c = config
        name = c.scope.cluster_name
        self.bucket = SecureBucket(self, "logs", prefix=f"{name}-airflow-logs-", force_destroy=c.force_destroy_bucket)
        # Airflow's S3 task handler lists a task's log prefix, reads the log (UI, and before appending) and writes it.
        self.role = pod_identity_role(
            self, role_name=f"{name}-airflow", cluster=c.scope, cluster_name=c.cluster_name, namespace=c.namespace,
            service_account=c.service_accounts, policy_id="logs-policy", policy_document=policy(
                allow(["s3:ListBucket"], self.bucket.arn, sid="ListTaskLogs",
                      condition={"StringLike": {"s3:prefix": [LOG_PREFIX, f"{LOG_PREFIX}/*"]}}),
                allow(["s3:GetObject", "s3:PutObject"], f"{self.bucket.arn}/{LOG_PREFIX}/*", sid="ReadWriteTaskLogs"),
            ))

        # TLS only: the server refuses unencrypted connections. One writer: a restart of the scheduler waits out a
        # failover, and nothing is lost (task state is in the database, which Aurora replicates across zones).
        self.cluster, self.instances = aurora_serverless(self, AuroraSpec(
            identifier=f"{name}-airflow", engine="aurora-postgresql",
            engine_version=versions.AURORA_POSTGRESQL_VERSION,
            parameter_family=versions.AURORA_POSTGRESQL_PARAMETER_FAMILY, parameters=(("rds.force_ssl", "1"),),
            port=POSTGRES_PORT, protocol="postgres", protocol_label="PostgreSQL", purpose="Airflow metadata database",
            sg_description="Airflow PostgreSQL, from EKS nodes only",
            params_description="Airflow metadata database: TLS required",
            vpc_id=c.vpc_id, subnet_ids=c.subnet_ids, node_security_group_id=c.node_security_group_id,
            kms_key_arn=c.kms_key_arn, db_username=c.db_username, db_secret_arn=c.db_secret_arn,
            db_secret_written=c.db_secret_written, min_acu=c.min_acu, max_acu=c.max_acu, instances=1,
            backup_retention_days=c.backup_retention_days, deletion_protection=c.deletion_protection,
            log_exports=("postgresql",), database_name=DATABASE_NAME,
        ))
        self.outputs = AirflowAwsOutputs(log_bucket=self.bucket.name, db_endpoint=self.cluster.endpoint,
                                         role_arn=self.role.arn)
