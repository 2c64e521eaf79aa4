"""The AWS layer: everything that needs only the AWS provider. It composes modules; it builds nothing itself."""

from __future__ import annotations

from cdktn import TerraformOutput, TerraformStack
from cdktn_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktn_provider_aws.data_aws_partition import DataAwsPartition
from constructs import Construct

from mlplat.blueprint import Blueprint
from mlplat.catalog.alerting import ALERTMANAGER_NAMESPACE, ALERTMANAGER_SERVICE_ACCOUNT
from mlplat.catalog.modules import MLFLOW_NAMESPACE, MLFLOW_SERVICE_ACCOUNT
from mlplat.catalog.observability import (LOGGING, LOKI_SERVICE_ACCOUNT, MONITORING, YACE_SERVICE_ACCOUNT,
                                          needs_cloudwatch_exporter)
from mlplat.catalog.secrets import ESO_NAMESPACE, ESO_SERVICE_ACCOUNT, secret_name_prefix, secret_output, secret_uses
from mlplat.nodepools import POOL_KINDS, subnet_tag_key
from mlplat.settings import AWS_STACK_SUFFIX, Settings
from mlplat.slurm_config import SLURM_DB_BACKUP_RETENTION_DAYS
from mlplat.airflow_config import AIRFLOW_DB_BACKUP_RETENTION_DAYS, AIRFLOW_NAMESPACE
from mlplat.workloads_config import (
    ACK_SAGEMAKER_NAMESPACE,
    ACK_SAGEMAKER_SERVICE_ACCOUNT,
    WORKLOAD_SERVICE_ACCOUNT,
    ack_sagemaker_role_names,
    workload_role_name,
)
from modules.access_node import AccessNodeConfig, ClusterAccessNode
from modules.alert_publisher import AlertPublisher, AlertPublisherConfig
from modules.bucket import SecureBucket
from modules.cloudwatch_reader import CloudWatchReader, CloudWatchReaderConfig
from modules.loki_aws import LokiStorage, LokiStorageConfig
from modules.common import ClusterScope
from modules.efs import EfsConfig, SharedFileSystem
from modules.eks import EksClusterModule, EksConfig
from modules.fsx import FsxConfig, LustreFileSystem
from modules.karpenter_aws import KarpenterAws, KarpenterAwsConfig
from modules.kms import KeyConfig, PlatformKey
from modules.mlflow_aws import MlflowAws, MlflowAwsConfig
from modules.network import Network, NetworkConfig
from modules.sagemaker_aws import SageMakerAws, SageMakerAwsConfig
from modules.secret_access import SecretAccessConfig, SecretReader
from modules.slurm_aws import SlurmAws, SlurmAwsConfig
from modules.airflow_aws import AirflowAws, AirflowAwsConfig
from modules.secrets import GeneratedSecret
from modules.workload_access import WorkloadAccess, WorkloadAccessConfig
from stacks.providers import aws_provider, configure_backend



class AwsLayer(TerraformStack):
    def __init__(self, scope: Construct, blueprint: Blueprint, settings: Settings) -> None:
        super().__init__(scope, f"{blueprint.name}-{AWS_STACK_SUFFIX}")
        bp = blueprint
        aws_provider(self, bp, settings)
        configure_backend(self, bp, settings)
        partition = DataAwsPartition(self, "partition").partition
        account_id = DataAwsCallerIdentity(self, "account").account_id
        # The cluster is named after the platform; roles name it (and scope their trust to it) before it exists.
        scope = ClusterScope(partition=partition, region=bp.region, account_id=account_id, cluster_name=bp.name)
        instance_tags = {"Platform": bp.name, "ManagedBy": "mlplat", **bp.tags}

        self.key = PlatformKey(self, "kms", KeyConfig(
            name=bp.name, partition=partition, region=bp.region, account_id=account_id,
            log_group_prefixes=(f"/aws/eks/{bp.name}/", f"/aws/vpc/{bp.name}/"),
        ))
        pinned = {subnet_tag_key(k.az_key): getattr(bp, k.az_key) for k in POOL_KINDS.values()
                  if k.az_key and getattr(bp, k.az_key)}
        self.network = Network(self, "network", NetworkConfig(
            name=bp.name, region=bp.region, account_id=account_id, partition=partition, cidr=bp.vpc_cidr,
            zones=bp.azs, zone_count=bp.zone_count, single_nat_gateway=bp.single_nat_gateway, cluster_name=bp.name,
            pinned_zone_tags=pinned, flow_logs_kms_key_arn=self.key.arn if bp.enable_vpc_flow_logs else None,
        ))
        self.eks = EksClusterModule(self, "eks", EksConfig(
            scope=scope, version=bp.eks_cluster_version, vpc_id=self.network.vpc.id,
            subnet_ids=self.network.private_subnet_ids, kms_key_arn=self.key.arn,
            public_access_cidrs=bp.cluster_endpoint_public_access_cidrs, admin_principal_arns=bp.admin_principal_arns,
            creator_admin=bp.enable_cluster_creator_admin_permissions,
            system_instance_types=bp.system_node_instance_types, system_min_size=bp.system_node_min_size,
            system_max_size=bp.system_node_max_size, system_desired_size=bp.system_node_desired_size,
            system_disk_gib=bp.system_node_disk_gib, enable_efs_csi=bp.enable_efs, enable_fsx_csi=bp.enable_fsx,
            enable_node_monitoring_agent=bp.enable_node_auto_repair, instance_tags=instance_tags,
        ))
        self.access_node = None
        if bp.create_cluster_access_node:
            self.access_node = ClusterAccessNode(self, "access-node", AccessNodeConfig(
                name=bp.name, partition=partition, vpc_id=self.network.vpc.id,
                subnet_id=self.network.private_subnet_ids[0], cluster_security_group_id=self.eks.cluster_sg.id,
                kms_key_arn=self.key.arn,
            ))
        self.karpenter = KarpenterAws(self, "karpenter", KarpenterAwsConfig(
            scope=scope, cluster_name=self.eks.cluster.name,
            create_spot_service_linked_role=bp.create_spot_service_linked_role,
        ))
        self.efs = None
        if bp.enable_efs:
            self.efs = SharedFileSystem(self, "efs", EfsConfig(
                name=bp.name, vpc_id=self.network.vpc.id, subnet_ids=self.network.private_subnet_ids,
                node_security_group_id=self.eks.node_sg.id, kms_key_arn=self.key.arn,
            ))
        self.fsx = None
        self.fsx_bucket = None
        if bp.enable_fsx:
            s3_path = bp.fsx_s3_import_path
            if bp.create_fsx_bucket:
                self.fsx_bucket = SecureBucket(self, "fsx-bucket", prefix=f"{bp.name}-fsx-",
                                               force_destroy=bp.empty_buckets_on_destroy)
                s3_path = f"s3://{self.fsx_bucket.name}"
            # Training nodes that read FSx hardest are the EFA ones: keep the file system in their AZ.
            pinned_zone = bp.cuda_efa_az or bp.neuron_az
            subnet = (self.network.private_subnet_in(pinned_zone) if pinned_zone
                      else self.network.private_subnet_ids[0])
            self.fsx = LustreFileSystem(self, "fsx", FsxConfig(
                name=bp.name, vpc_id=self.network.vpc.id, subnet_id=subnet,
                node_security_group_id=self.eks.node_sg.id, kms_key_arn=self.key.arn,
                deployment_type=bp.fsx_deployment_type, storage_capacity=bp.fsx_storage_capacity,
                throughput=bp.fsx_throughput, s3_path=s3_path,
            ))
        # One generated credential per enabled consumer; never a default password.
        uses = {use.purpose: use for use in secret_uses(bp)}
        self.secrets = {
            use.purpose: GeneratedSecret(self, f"secret-{use.purpose}", name_prefix=secret_name_prefix(bp, use),
                                         username=use.username,
                                         description=f"{use.purpose} credentials generated by mlplat",
                                         kms_key_arn=self.key.arn)
            for use in uses.values()
        }
        user_secrets = bp.user_secret_names
        if self.secrets or user_secrets:
            SecretReader(self, "secret-reader", SecretAccessConfig(
                scope=scope, cluster_name=self.eks.cluster.name, namespace=ESO_NAMESPACE,
                service_account=ESO_SERVICE_ACCOUNT, secret_arns=tuple(s.arn for s in self.secrets.values()),
                kms_key_arn=self.key.arn, user_secret_names=user_secrets,
            ))
        # Users' workloads: S3 access per workload namespace, through its ml-workload service account.
        for ns, access in sorted(bp.workload_s3_access.items()):
            WorkloadAccess(self, f"workload-s3-{ns}", WorkloadAccessConfig(
                scope=scope, cluster_name=self.eks.cluster.name, role_name=workload_role_name(bp.name, ns),
                namespace=ns, service_account=WORKLOAD_SERVICE_ACCOUNT, read_buckets=access.read_buckets,
                write_prefixes=access.write_prefixes,
            ))
        if bp.alert_topics:
            AlertPublisher(self, "alert-publisher", AlertPublisherConfig(
                scope=scope, cluster_name=self.eks.cluster.name, namespace=ALERTMANAGER_NAMESPACE,
                service_account=ALERTMANAGER_SERVICE_ACCOUNT, topic_arns=bp.alert_topics,
            ))
        # --- MLflow (modules issue): artifact bucket, Pod Identity role, Aurora PostgreSQL backend store.
        self.mlflow = None
        if bp.enable_mlflow:
            db_use = uses["mlflow-db"]
            db_secret = self.secrets[db_use.purpose]
            self.mlflow = MlflowAws(self, "mlflow", MlflowAwsConfig(
                scope=scope, cluster_name=self.eks.cluster.name, vpc_id=self.network.vpc.id,
                subnet_ids=self.network.private_subnet_ids, node_security_group_id=self.eks.node_sg.id,
                kms_key_arn=self.key.arn, namespace=MLFLOW_NAMESPACE, service_account=MLFLOW_SERVICE_ACCOUNT,
                db_username=db_use.username, db_secret_arn=db_secret.arn,
                db_secret_written=db_secret.version,
                min_acu=bp.mlflow_db_min_acu, max_acu=bp.mlflow_db_max_acu, instances=bp.mlflow_db_instances,
                backup_retention_days=bp.mlflow_db_backup_retention_days,
                deletion_protection=bp.mlflow_db_deletion_protection,
                force_destroy_bucket=bp.empty_buckets_on_destroy,
            ))
        # --- end MLflow
        # --- Loki on S3 (observability): its bucket and the role only Loki's service account can assume.
        self.loki = None
        if bp.needs_loki_bucket:
            self.loki = LokiStorage(self, "loki", LokiStorageConfig(
                scope=scope, cluster_name=self.eks.cluster.name, namespace=LOGGING,
                service_account=LOKI_SERVICE_ACCOUNT, force_destroy_bucket=bp.empty_buckets_on_destroy))
        # --- end Loki
        # --- CloudWatch exporter (observability): YACE reads FSx metrics from CloudWatch through Pod Identity.
        if needs_cloudwatch_exporter(bp):
            CloudWatchReader(self, "cloudwatch-reader", CloudWatchReaderConfig(
                scope=scope, cluster_name=self.eks.cluster.name, namespace=MONITORING,
                service_account=YACE_SERVICE_ACCOUNT,
            ))
        # --- end CloudWatch exporter
        # --- ACK SageMaker controller: its Pod Identity role and the execution role SageMaker jobs run as.
        self.sagemaker = None
        if bp.enable_ack_sagemaker:
            access = bp.ack_sagemaker_s3_access
            controller_role, execution_role = ack_sagemaker_role_names(bp.name)
            self.sagemaker = SageMakerAws(self, "ack-sagemaker", SageMakerAwsConfig(
                scope=scope, cluster_name=self.eks.cluster.name, namespace=ACK_SAGEMAKER_NAMESPACE,
                service_account=ACK_SAGEMAKER_SERVICE_ACCOUNT, controller_role_name=controller_role,
                execution_role_name=execution_role, read_buckets=access.read_buckets if access else (),
                write_prefixes=access.write_prefixes if access else (),
            ))
        # --- end ACK SageMaker controller
        # --- Slurm (Slinky): slurmdbd's accounting database, Aurora MySQL with the generated password.
        self.slurm = None
        if bp.enable_slurm:
            slurm_use = uses["slurm-db"]
            slurm_secret = self.secrets[slurm_use.purpose]
            self.slurm = SlurmAws(self, "slurm", SlurmAwsConfig(
                name=bp.name, vpc_id=self.network.vpc.id, subnet_ids=self.network.private_subnet_ids,
                node_security_group_id=self.eks.node_sg.id, kms_key_arn=self.key.arn,
                db_username=slurm_use.username, db_secret_arn=slurm_secret.arn, db_secret_name=slurm_secret.name,
                db_secret_written=slurm_secret.version, min_acu=bp.slurm_db_min_acu, max_acu=bp.slurm_db_max_acu,
                backup_retention_days=SLURM_DB_BACKUP_RETENTION_DAYS,
                deletion_protection=bp.slurm_db_deletion_protection,
            ))
        # --- end Slurm
        # --- Airflow: the metadata database (Aurora PostgreSQL), the task-log bucket and its Pod Identity role.
        self.airflow = None
        if bp.enable_airflow:
            from mlplat.catalog.airflow import SERVICE_ACCOUNTS

            airflow_use = uses["airflow-db"]
            airflow_secret = self.secrets[airflow_use.purpose]
            self.airflow = AirflowAws(self, "airflow", AirflowAwsConfig(
                scope=scope, cluster_name=self.eks.cluster.name, vpc_id=self.network.vpc.id,
                subnet_ids=self.network.private_subnet_ids, node_security_group_id=self.eks.node_sg.id,
                kms_key_arn=self.key.arn, namespace=AIRFLOW_NAMESPACE,
                service_accounts=tuple(SERVICE_ACCOUNTS.values()), db_username=airflow_use.username,
                db_secret_arn=airflow_secret.arn, db_secret_written=airflow_secret.version,
                min_acu=bp.airflow_db_min_acu, max_acu=bp.airflow_db_max_acu,
                backup_retention_days=AIRFLOW_DB_BACKUP_RETENTION_DAYS,
                deletion_protection=bp.airflow_db_deletion_protection,
                force_destroy_bucket=bp.empty_buckets_on_destroy,
            ))
        # --- end Airflow
        self._outputs(bp)

    def _outputs(self, bp: Blueprint) -> None:
        cluster = self.eks.cluster
        out = {
            "region": bp.region,
            "cluster_name": cluster.name,
            "cluster_endpoint": cluster.endpoint,
            "cluster_certificate_authority_data": cluster.certificate_authority.get(0).data,
            "cluster_version": cluster.version,
            "vpc_id": self.network.vpc.id,
            "kms_key_arn": self.key.arn,
            "karpenter_node_role_name": self.karpenter.node_role.name,
            "karpenter_controller_role_arn": self.karpenter.controller_role.arn,
            "karpenter_queue_name": self.karpenter.queue.name,
        }
        if self.access_node:
            out["access_node_instance_id"] = self.access_node.instance.id
        if self.efs:
            out["efs_file_system_id"] = self.efs.id
        if self.fsx:
            out["fsx_file_system_id"] = self.fsx.file_system.id
            out["fsx_dns_name"] = self.fsx.file_system.dns_name
            out["fsx_mount_name"] = self.fsx.file_system.mount_name
        if self.fsx_bucket:
            out["fsx_bucket_name"] = self.fsx_bucket.name
        if self.mlflow:
            out["mlflow_artifact_bucket"] = self.mlflow.bucket.name
            out["mlflow_db_endpoint"] = self.mlflow.endpoint
            out["mlflow_role_arn"] = self.mlflow.role.arn
        if self.loki:
            out["loki_bucket_name"] = self.loki.bucket.name
        if self.sagemaker:
            out["ack_sagemaker_execution_role_arn"] = self.sagemaker.outputs.execution_role_arn
        if self.airflow:
            out["airflow_log_bucket"] = self.airflow.outputs.log_bucket
            out["airflow_db_endpoint"] = self.airflow.outputs.db_endpoint
            out["airflow_role_arn"] = self.airflow.outputs.role_arn
        if self.slurm:
            out["slurm_db_endpoint"] = self.slurm.outputs.db_endpoint
            out["slurm_db_port"] = self.slurm.outputs.db_port
        for use in secret_uses(bp):
            secret = self.secrets[use.purpose]
            out[f"secret_arn_{use.purpose.replace('-', '_')}"] = secret.arn
            out[secret_output(use)] = secret.name
        self.outputs: dict[str, str] = {}
        for key, value in out.items():
            TerraformOutput(self, key, value=value)
            self.outputs[key] = value
