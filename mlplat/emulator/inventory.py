"""Count what a deployment created in the emulator, so a test can assert that `destroy` left nothing behind.

Reads moto's backends in-process. Only backends that already exist are read, so counting never creates one (and with
it moto's defaults). What AWS itself provides is left out: the default VPC with its subnets, main route tables and
default security groups, AWS-managed IAM policies, AWS-managed KMS keys and `alias/aws/*` aliases, the default event
bus, RDS's `default` subnet group. Deleted-but-visible leftovers are left out too: NAT gateways and VPC endpoints in
state `deleted`, KMS keys pending deletion, secrets scheduled for deletion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from moto.core.base_backend import BackendDict

from mlplat.emulator.extensions import eks as eks_extension
from mlplat.emulator.extensions import fsx as fsx_extension

KINDS: tuple[str, ...] = (
    "ec2_vpcs",
    "ec2_subnets",
    "ec2_internet_gateways",
    "ec2_nat_gateways",
    "ec2_elastic_ips",
    "ec2_route_tables",
    "ec2_security_groups",
    "ec2_launch_templates",
    "ec2_vpc_endpoints",
    "iam_roles",
    "iam_policies",
    "iam_instance_profiles",
    "kms_keys",
    "kms_aliases",
    "eks_clusters",
    "eks_nodegroups",
    "eks_addons",
    "eks_access_entries",
    "eks_pod_identity_associations",
    "sqs_queues",
    "events_rules",
    "logs_log_groups",
    "efs_file_systems",
    "efs_mount_targets",
    "efs_access_points",
    "fsx_file_systems",
    "fsx_data_repository_associations",
    "s3_buckets",
    "secretsmanager_secrets",
    "rds_clusters",
    "rds_instances",
    "rds_subnet_groups",
)


def _backends(service: str) -> Iterator[Any]:
    for backend_dict in {id(d): d for d in BackendDict._instances if d.service_name == service}.values():
        for _account, _region, backend in backend_dict.iter_backends():
            yield backend


def _count_ec2(counts: Counter[str]) -> None:
    for ec2 in _backends("ec2"):
        default_vpc_ids = {vpc.id for vpc in ec2.vpcs.values() if vpc.is_default}
        counts["ec2_vpcs"] += len(ec2.vpcs) - len(default_vpc_ids)
        counts["ec2_subnets"] += sum(
            subnet.vpc_id not in default_vpc_ids for subnets in ec2.subnets.values() for subnet in subnets.values()
        )
        counts["ec2_internet_gateways"] += len(ec2.internet_gateways)
        counts["ec2_nat_gateways"] += sum(nat.state != "deleted" for nat in ec2.nat_gateways.values())
        counts["ec2_elastic_ips"] += len(ec2.addresses)
        counts["ec2_route_tables"] += sum(table.main_association_id is None for table in ec2.route_tables.values())
        counts["ec2_security_groups"] += sum(
            group.name != "default" for groups in ec2.groups.values() for group in groups.values()
        )
        counts["ec2_launch_templates"] += len(ec2.launch_templates)
        counts["ec2_vpc_endpoints"] += sum(endpoint.state != "deleted" for endpoint in ec2.vpc_end_points.values())


def _count_iam_and_kms(counts: Counter[str]) -> None:
    for iam in _backends("iam"):
        counts["iam_roles"] += len(iam.roles)
        counts["iam_policies"] += sum(
            not policy.arn.startswith("arn:aws:iam::aws:") for policy in iam.managed_policies.values()
        )
        counts["iam_instance_profiles"] += len(iam.instance_profiles)
    for kms in _backends("kms"):
        for key in kms.keys.values():
            if key.key_manager == "CUSTOMER" and key.key_state != "PendingDeletion":
                counts["kms_keys"] += 1
            counts["kms_aliases"] += sum(not alias.startswith("alias/aws/") for alias in key.aliases)


def _count_eks_and_storage(counts: Counter[str]) -> None:
    for eks in _backends("eks"):
        for cluster in eks.clusters.values():
            counts["eks_clusters"] += 1
            counts["eks_nodegroups"] += len(cluster.nodegroups)
            extension_state = eks_extension.cluster_state(cluster)
            counts["eks_addons"] += len(extension_state.addons)
            counts["eks_access_entries"] += len(extension_state.access_entries)
            counts["eks_pod_identity_associations"] += len(extension_state.pod_identity_associations)
    for efs in _backends("efs"):
        counts["efs_file_systems"] += len(efs.file_systems_by_id)
        counts["efs_mount_targets"] += len(efs.mount_targets_by_id)
        counts["efs_access_points"] += len(efs.access_points)
    for fsx in _backends("fsx"):
        counts["fsx_file_systems"] += len(fsx.file_systems)
        counts["fsx_data_repository_associations"] += len(fsx_extension.backend_state(fsx).associations)
    for s3 in _backends("s3"):
        counts["s3_buckets"] += len(s3.buckets)


def _count_the_rest(counts: Counter[str]) -> None:
    for sqs in _backends("sqs"):
        counts["sqs_queues"] += len(sqs.queues)
    for events in _backends("events"):
        counts["events_rules"] += sum(len(bus.rules) for bus in events.event_buses.values())
    for logs in _backends("logs"):
        counts["logs_log_groups"] += len(logs.groups)
    for secretsmanager in _backends("secretsmanager"):
        counts["secretsmanager_secrets"] += sum(not secret.is_deleted() for secret in secretsmanager.secrets.values())
    for rds in _backends("rds"):
        counts["rds_clusters"] += len(rds.clusters)
        counts["rds_instances"] += len(rds.databases)
        counts["rds_subnet_groups"] += sum(name != "default" for name in rds.subnet_groups)


def count_resources() -> dict[str, int]:
    """Every kind in KINDS with its live count (0 included, so a caller can assert on the whole dict)."""
    counts: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    _count_ec2(counts)
    _count_iam_and_kms(counts)
    _count_eks_and_storage(counts)
    _count_the_rest(counts)
    return dict(counts)
