"""The AWS side of MLflow: the artifact bucket with a least-privilege Pod Identity role, and the backend store, an
encrypted Aurora PostgreSQL Serverless v2 cluster in the private subnets that only the nodes can reach.

The master password is the platform-generated secret `<name>/mlflow-db`, set write-only (modules/aurora.py).
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

DATABASE_NAME = "mlflow"
POSTGRES_PORT = 5432
ARTIFACT_PREFIX = "artifacts"


@dataclass(frozen=True)
class MlflowAwsConfig:
    scope: ClusterScope
    cluster_name: str
    vpc_id: str
    subnet_ids: Sequence[str]
    node_security_group_id: str
    kms_key_arn: str
    namespace: str
    service_account: str
    db_username: str
    db_secret_arn: str
    db_secret_written: ITerraformDependable  # the secret version: read the password only once it exists
    min_acu: float
    max_acu: float
    instances: int
    backup_retention_days: int
    deletion_protection: bool
    force_destroy_bucket: bool

    @property
    def name(self) -> str:
        return self.scope.cluster_name


class MlflowAws(Construct):
    def __init__(self, scope: Construct, id: str, config: MlflowAwsConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.bucket = SecureBucket(self, "artifacts", prefix=f"{c.name}-mlflow-", force_destroy=c.force_destroy_bucket)
        # Only the tracking server touches S3 (clients go through its artifact proxy), so only its role gets access.
        self.role = pod_identity_role(
            self, role_name=f"{c.name}-mlflow", cluster=c.scope, cluster_name=c.cluster_name, namespace=c.namespace,
            service_account=c.service_account, policy_id="artifacts-policy", policy_document=policy(
                allow(["s3:ListBucket"], self.bucket.arn, sid="ListArtifacts",
                      condition={"StringLike": {"s3:prefix": [ARTIFACT_PREFIX, f"{ARTIFACT_PREFIX}/*"]}}),
                allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                      f"{self.bucket.arn}/{ARTIFACT_PREFIX}/*", sid="ReadWriteArtifacts"),
            ))

        # TLS only: the server refuses unencrypted connections.
        self.cluster, self.instances = aurora_serverless(self, AuroraSpec(
            identifier=f"{c.name}-mlflow", engine="aurora-postgresql",
            engine_version=versions.AURORA_POSTGRESQL_VERSION,
            parameter_family=versions.AURORA_POSTGRESQL_PARAMETER_FAMILY, parameters=(("rds.force_ssl", "1"),),
            port=POSTGRES_PORT, protocol="postgres", protocol_label="PostgreSQL", purpose="MLflow database",
            sg_description="MLflow PostgreSQL, from EKS nodes only", params_description="MLflow database: TLS required",
            vpc_id=c.vpc_id, subnet_ids=c.subnet_ids, node_security_group_id=c.node_security_group_id,
            kms_key_arn=c.kms_key_arn, db_username=c.db_username, db_secret_arn=c.db_secret_arn,
            db_secret_written=c.db_secret_written, min_acu=c.min_acu, max_acu=c.max_acu, instances=c.instances,
            backup_retention_days=c.backup_retention_days, deletion_protection=c.deletion_protection,
            log_exports=("postgresql",), database_name=DATABASE_NAME,
        ))

    @property
    def endpoint(self) -> str:
        return self.cluster.endpoint
