"""The platform's Aurora Serverless v2 cluster, as MLflow's backend store and Slurm's accounting database both use
it: in the private subnets, reachable only from the nodes' security group, TLS required by its parameter group,
encrypted with the platform key, a final snapshot unique per cluster generation, Performance Insights on.

The master password is a platform-generated secret, read ephemerally and set through the write-only attribute: it
is in no synthesized file and in no terraform state or plan. The resources are made in the caller's construct with
the caller's ids, so each database keeps its terraform addresses.
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

from modules.secrets import PASSWORD_VERSION


@dataclass(frozen=True)
class AuroraSpec:
    identifier: str  # the cluster's identifier; names its security group, subnet and parameter groups, instances
    engine: str  # aurora-postgresql | aurora-mysql
    engine_version: str
    parameter_family: str
    parameters: tuple[tuple[str, str], ...]  # TLS required, and whatever else the engine needs
    port: int
    protocol: str  # for the ingress rule's id and description ("postgres", "PostgreSQL")
    protocol_label: str
    purpose: str  # in the descriptions: "MLflow database", ...
    sg_description: str
    params_description: str
    vpc_id: str
    subnet_ids: Sequence[str]
    node_security_group_id: str
    kms_key_arn: str
    db_username: str
    db_secret_arn: str
    db_secret_written: ITerraformDependable  # the secret version: read the password only once it exists
    min_acu: float
    max_acu: float
    instances: int
    backup_retention_days: int
    deletion_protection: bool
    log_exports: tuple[str, ...]
    database_name: str | None = None  # None: the application creates its own database


def aurora_serverless(scope: Construct, s: AuroraSpec) -> tuple[RdsCluster, list[RdsClusterInstance]]:
    sg = SecurityGroup(scope, "db-sg", name=f"{s.identifier}-db", vpc_id=s.vpc_id, description=s.sg_description)
    VpcSecurityGroupIngressRule(scope, f"{s.protocol}-from-nodes", security_group_id=sg.id,
                                referenced_security_group_id=s.node_security_group_id, ip_protocol="tcp",
                                from_port=s.port, to_port=s.port, description=f"{s.protocol_label} from nodes")
    subnets = DbSubnetGroup(scope, "db-subnets", name=s.identifier, subnet_ids=list(s.subnet_ids),
                            description=f"{s.purpose}: private subnets")
    params = RdsClusterParameterGroup(
        scope, "db-params", name=s.identifier, family=s.parameter_family, description=s.params_description,
        parameter=[RdsClusterParameterGroupParameter(name=name, value=value) for name, value in s.parameters],
    )
    credentials = EphemeralAwsSecretsmanagerSecretVersion(scope, "db-credentials", secret_id=s.db_secret_arn,
                                                          depends_on=[s.db_secret_written])
    optional = {"database_name": s.database_name} if s.database_name else {}
    cluster = RdsCluster(
        scope, "db", cluster_identifier=s.identifier, engine=s.engine, engine_mode="provisioned",
        engine_version=s.engine_version, **optional, port=s.port, master_username=s.db_username,
        master_password_wo=Fn.lookup(Fn.jsondecode(credentials.secret_string), "password"),
        # Bumped together with the generated secret's version (modules/secrets.py), so a rotation reaches both.
        master_password_wo_version=PASSWORD_VERSION,
        db_subnet_group_name=subnets.name, vpc_security_group_ids=[sg.id],
        db_cluster_parameter_group_name=params.name,
        storage_encrypted=True, kms_key_id=s.kms_key_arn,
        serverlessv2_scaling_configuration=RdsClusterServerlessv2ScalingConfiguration(
            min_capacity=s.min_acu, max_capacity=s.max_acu),
        backup_retention_period=s.backup_retention_days, copy_tags_to_snapshot=True,
        deletion_protection=s.deletion_protection, skip_final_snapshot=False,
        # Unique per cluster: its creation time, fixed in state. A second platform generation (destroy, deploy,
        # destroy under one name) or a replaced cluster would otherwise collide with the first final snapshot.
        final_snapshot_identifier=f"{s.identifier}-final-" + Fn.formatdate("YYYYMMDDhhmmss", Fn.timestamp()),
        enabled_cloudwatch_logs_exports=list(s.log_exports),
        # AWS applies minor versions in maintenance windows; terraform must not try to move the cluster back.
        lifecycle=TerraformResourceLifecycle(ignore_changes=["engine_version", "final_snapshot_identifier"]),
    )
    instances = [
        RdsClusterInstance(
            scope, f"db-{i + 1}", identifier=f"{s.identifier}-{i + 1}", cluster_identifier=cluster.id,
            instance_class="db.serverless", engine=cluster.engine, engine_version=cluster.engine_version,
            db_subnet_group_name=subnets.name, publicly_accessible=False, auto_minor_version_upgrade=True,
            performance_insights_enabled=True, performance_insights_kms_key_id=s.kms_key_arn,
            performance_insights_retention_period=7,
            lifecycle=TerraformResourceLifecycle(ignore_changes=["engine_version"]),
        )
        for i in range(s.instances)
    ]
    return cluster, instances
