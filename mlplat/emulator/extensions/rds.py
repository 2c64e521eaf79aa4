"""RDS as the AWS provider sees it.

A final snapshot name already taken fails DeleteDBCluster before anything changes, with RDS's own message (moto
raises it only after removing the cluster from its global cluster and deleting its managed secret, and words it as
for an instance snapshot): a second destroy of a platform with a fixed final snapshot name fails exactly like this.

Two read-back gaps of moto 5.2 that make a second `terraform plan` show changes:

- every cluster reports a ScalingConfigurationInfo element (empty for provisioned and Serverless v2 clusters), which
  the provider reads as a scaling_configuration block; RDS sends it for v1 serverless clusters only;
- instances drop their Performance Insights settings. RDS reports them, with the account's aws/rds key and 7 days of
  retention unless told otherwise.
"""

from __future__ import annotations

from typing import Any

from moto.kms.models import kms_backends
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBCluster, DBInstance, RDSBackend

from mlplat.emulator.extensions.kms import aws_managed_key_id

DEFAULT_PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7

_moto_scaling_configuration_info = DBCluster.scaling_configuration_info
_moto_create_db_instance = RDSBackend.create_db_instance
_moto_modify_db_instance = RDSBackend.modify_db_instance
_moto_delete_db_cluster = RDSBackend.delete_db_cluster


class DBClusterSnapshotAlreadyExistsFault(RDSClientError):
    def __init__(self, snapshot_identifier: str) -> None:
        super().__init__("DBClusterSnapshotAlreadyExistsFault",
                         f"Cannot create the cluster snapshot because one with the identifier {snapshot_identifier} "
                         f"already exists.")


def _delete_db_cluster(backend: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None) -> DBCluster:
    cluster = backend.clusters.get(cluster_identifier)
    # Deletion protection is refused first (moto checks it), then the snapshot name, before any side effect.
    # (`cluster_snapshots` is a case-insensitive dict, which cannot look up None: test for a name first.)
    if (
        cluster is not None
        and not cluster.deletion_protection
        and snapshot_name is not None
        and snapshot_name in backend.cluster_snapshots
    ):
        raise DBClusterSnapshotAlreadyExistsFault(snapshot_name)
    return _moto_delete_db_cluster(backend, cluster_identifier, snapshot_name)


def _scaling_configuration_info(cluster: DBCluster) -> dict[str, Any] | None:
    if cluster.engine_mode != "serverless":
        return None
    return _moto_scaling_configuration_info.fget(cluster)  # type: ignore[union-attr]


def _apply_performance_insights(backend: RDSBackend, instance: DBInstance, request: dict[str, Any]) -> None:
    if "enable_performance_insights" in request:
        instance.performance_insights_enabled = bool(request["enable_performance_insights"])
    if not instance.performance_insights_enabled:
        instance.performance_insights_kms_key_id = instance.performance_insights_retention_period = None
        return
    kms = kms_backends[backend.account_id][backend.region_name]
    instance.performance_insights_kms_key_id = (
        request.get("performance_insights_kms_key_id")
        or instance.performance_insights_kms_key_id
        or kms.keys[aws_managed_key_id(kms, "alias/aws/rds")].arn
    )
    instance.performance_insights_retention_period = (
        request.get("performance_insights_retention_period")
        or instance.performance_insights_retention_period
        or DEFAULT_PERFORMANCE_INSIGHTS_RETENTION_DAYS
    )


def _create_db_instance(backend: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
    instance = _moto_create_db_instance(backend, db_kwargs)
    _apply_performance_insights(backend, instance, db_kwargs)
    return instance


def _modify_db_instance(backend: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> DBInstance:
    instance = _moto_modify_db_instance(backend, db_instance_identifier, db_kwargs)
    _apply_performance_insights(backend, instance, db_kwargs)
    return instance


def install() -> None:
    DBCluster.scaling_configuration_info = property(_scaling_configuration_info)  # type: ignore[assignment]
    # Class defaults, so instances saved before this existed read as "disabled".
    DBInstance.performance_insights_enabled = False
    DBInstance.performance_insights_kms_key_id = None
    DBInstance.performance_insights_retention_period = None
    RDSBackend.create_db_instance = _create_db_instance  # type: ignore[method-assign]
    RDSBackend.modify_db_instance = _modify_db_instance  # type: ignore[method-assign]
    RDSBackend.delete_db_cluster = _delete_db_cluster  # type: ignore[method-assign]
