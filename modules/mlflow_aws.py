"""The AWS side of MLflow: the artifact bucket with a least-privilege Pod Identity role, and the backend store, an
encrypted Aurora PostgreSQL Serverless v2 cluster in the private subnets that only the nodes can reach.

The master password is the platform-generated secret `<name>/mlflow-db`: it is read ephemerally and set through the
write-only attribute, so it is in no synthesized file and in no terraform state or plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cdktn import Fn, ITerraformDependable, TerraformResourceLifecycle
from cdktn_provider_aws.db_subnet_group import DbSubnetGroup
from cdktn_provider_aws.eks_pod_identity_association import EksPodIdentityAssociation
from cdktn_provider_aws.ephemeral_aws_secretsmanager_secret_version import EphemeralAwsSecretsmanagerSecretVersion
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.rds_cluster import RdsCluster, RdsClusterServerlessv2ScalingConfiguration
from cdktn_provider_aws.rds_cluster_instance import RdsClusterInstance
from cdktn_provider_aws.rds_cluster_parameter_group import RdsClusterParameterGroup, RdsClusterParameterGroupParameter
from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from mlplat import versions
from modules.bucket import SecureBucket
from modules.common import ClusterScope, allow, policy
from modules.secrets import PASSWORD_VERSION

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
        self.role = IamRole(self, "role", name=f"{c.name}-mlflow",
                            assume_role_policy=c.scope.pod_identity_trust(c.namespace, c.service_account))
        IamRolePolicy(self, "artifacts-policy", role=self.role.id, policy=policy(
            allow(["s3:ListBucket"], self.bucket.arn, sid="ListArtifacts",
                  condition={"StringLike": {"s3:prefix": [ARTIFACT_PREFIX, f"{ARTIFACT_PREFIX}/*"]}}),
            allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                  f"{self.bucket.arn}/{ARTIFACT_PREFIX}/*", sid="ReadWriteArtifacts"),
        ))
        EksPodIdentityAssociation(self, "identity", cluster_name=c.cluster_name, namespace=c.namespace,
                                  service_account=c.service_account, role_arn=self.role.arn)

        sg = SecurityGroup(self, "db-sg", name=f"{c.name}-mlflow-db", vpc_id=c.vpc_id,
                           description="MLflow PostgreSQL, from EKS nodes only")
        VpcSecurityGroupIngressRule(self, "postgres-from-nodes", security_group_id=sg.id,
                                    referenced_security_group_id=c.node_security_group_id, ip_protocol="tcp",
                                    from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, description="PostgreSQL from nodes")
        subnets = DbSubnetGroup(self, "db-subnets", name=f"{c.name}-mlflow", subnet_ids=list(c.subnet_ids),
                                description="MLflow database: private subnets")
        # TLS only: the server refuses unencrypted connections.
        params = RdsClusterParameterGroup(
            self, "db-params", name=f"{c.name}-mlflow", family=versions.AURORA_POSTGRESQL_PARAMETER_FAMILY,
            description="MLflow database: TLS required",
            parameter=[RdsClusterParameterGroupParameter(name="rds.force_ssl", value="1")],
        )
        credentials = EphemeralAwsSecretsmanagerSecretVersion(self, "db-credentials", secret_id=c.db_secret_arn,
                                                              depends_on=[c.db_secret_written])
        self.cluster = RdsCluster(
            self, "db", cluster_identifier=f"{c.name}-mlflow", engine="aurora-postgresql", engine_mode="provisioned",
            engine_version=versions.AURORA_POSTGRESQL_VERSION, database_name=DATABASE_NAME, port=POSTGRES_PORT,
            master_username=c.db_username,
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
            # Unique per cluster: its creation time, fixed in state. A second platform generation (destroy, deploy,
            # destroy under one name) or a replaced cluster would otherwise collide with the first final snapshot.
            final_snapshot_identifier=f"{c.name}-mlflow-final-" + Fn.formatdate("YYYYMMDDhhmmss", Fn.timestamp()),
            enabled_cloudwatch_logs_exports=["postgresql"],
            # AWS applies minor versions in maintenance windows; terraform must not try to move the cluster back.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["engine_version", "final_snapshot_identifier"]),
        )
        self.instances = [
            RdsClusterInstance(
                self, f"db-{i + 1}", identifier=f"{c.name}-mlflow-{i + 1}", cluster_identifier=self.cluster.id,
                instance_class="db.serverless", engine=self.cluster.engine, engine_version=self.cluster.engine_version,
                db_subnet_group_name=subnets.name, publicly_accessible=False, auto_minor_version_upgrade=True,
                performance_insights_enabled=True, performance_insights_kms_key_id=c.kms_key_arn,
                performance_insights_retention_period=7,
                lifecycle=TerraformResourceLifecycle(ignore_changes=["engine_version"]),
            )
            for i in range(c.instances)
        ]

    @property
    def endpoint(self) -> str:
        return self.cluster.endpoint
