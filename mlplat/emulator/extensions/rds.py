"""RDS as the AWS provider sees it.

A final snapshot name already taken fails DeleteDBCluster before anything changes, with RDS's own message (moto
raises it only after removing the cluster from its global cluster and deleting its managed secret, and words it as
for an instance snapshot): a second destroy of a platform with a fixed final snapshot name fails exactly like this.

Two read-back gaps of moto 5.2 that make a second `terraform plan` show changes:

- every cluster reports a ScalingConfigurationInfo element (empty for provisioned and Serverless v2 clusters), which
  the provider reads as a scaling_configuration block; RDS sends it for v1 serverless clusters only;
- instances drop their Performance Insights settings. RDS reports them, with the account's aws/rds key and 7 days of
  retention unless told otherwise.

Engine versions: moto creates an Aurora cluster of any version it is given and has no DescribeDBEngineVersions. RDS
refuses a version it does not offer in the region (InvalidParameterCombination, "Cannot find version ... for
aurora-postgresql", or aurora-mysql), and `mlplat preflight` asks DescribeDBEngineVersions before a deploy. The
emulator offers the versions recorded in OFFERED_ENGINE_VERSIONS and refuses the others, at create and at modify.
"""

from __future__ import annotations

from typing import Any

from moto.kms.models import kms_backends
from moto.rds.exceptions import RDSClientError
from moto.core.responses import ActionResult
from moto.rds.models import DBCluster, DBInstance, RDSBackend
from moto.rds.responses import RDSResponse

from mlplat.emulator.extensions.kms import aws_managed_key_id

DEFAULT_PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7

# The engine versions the emulator offers for creation, per engine (oldest first). Recorded 2026-11-30 from AWS's
# Aurora PostgreSQL release notes: the extension-versions page lists the "currently available releases" of 17 (17.4 to
# 17.7); What's New announced 16.10 with 17.6; 16.8 (mlplat/versions.py) had its patch 16.8.5 on 2026-02-03
# (../shared/audits/aws-layer.md). Engines not listed here keep moto's behaviour (any version).
# Aurora MySQL: the 3.x releases of 2026 in the Aurora MySQL release notes' document history (read 2026-12-02; see
# AURORA_MYSQL_VERSION in mlplat/versions.py); earlier 3.10 patches are not offered here.
OFFERED_ENGINE_VERSIONS: dict[str, tuple[str, ...]] = {
    "aurora-postgresql": ("16.8", "16.10", "17.4", "17.5", "17.6", "17.7"),
    "aurora-mysql": ("8.0.mysql_aurora.3.10.3", "8.0.mysql_aurora.3.10.4", "8.0.mysql_aurora.3.10.5",
                     "8.0.mysql_aurora.3.12.0"),
}

_moto_scaling_configuration_info = DBCluster.scaling_configuration_info
_moto_create_db_instance = RDSBackend.create_db_instance
_moto_modify_db_instance = RDSBackend.modify_db_instance
_moto_delete_db_cluster = RDSBackend.delete_db_cluster
_moto_create_db_cluster = RDSBackend.create_db_cluster
_moto_modify_db_cluster = RDSBackend.modify_db_cluster


class DBClusterSnapshotAlreadyExistsFault(RDSClientError):
    def __init__(self, snapshot_identifier: str) -> None:
        super().__init__("DBClusterSnapshotAlreadyExistsFault",
                         f"Cannot create the cluster snapshot because one with the identifier {snapshot_identifier} "
                         f"already exists.")


class InvalidParameterCombination(RDSClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterCombination", message)


def _check_engine_version(engine: str | None, version: str | None) -> None:
    offered = OFFERED_ENGINE_VERSIONS.get(engine or "")
    if offered is not None and version and version not in offered:
        raise InvalidParameterCombination(f"Cannot find version {version} for {engine}")


def _create_db_cluster(backend: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
    _check_engine_version(kwargs.get("engine"), kwargs.get("engine_version"))
    return _moto_create_db_cluster(backend, kwargs)


def _modify_db_cluster(backend: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
    cluster = backend.clusters.get(kwargs.get("db_cluster_identifier"))
    if cluster is not None:
        _check_engine_version(cluster.engine, kwargs.get("engine_version"))
    return _moto_modify_db_cluster(backend, kwargs)


def _parameter_group_family(engine: str, version: str) -> str:
    # aurora-postgresql16 for 16.x; aurora-mysql8.0 for 8.0.mysql_aurora.3.x
    if engine == "aurora-mysql":
        return f"{engine}{version.split('.mysql_aurora')[0]}"
    return f"{engine}{version.split('.')[0]}"


def _engine_version(engine: str, version: str) -> dict[str, Any]:
    """One DBEngineVersion as RDS describes it: the fields a caller reads to decide (family, status, modes)."""
    newer = [v for v in OFFERED_ENGINE_VERSIONS[engine] if _version_key(v) > _version_key(version)]
    mysql = engine == "aurora-mysql"
    return {
        "Engine": engine,
        "EngineVersion": version,
        "MajorEngineVersion": version.split(".mysql_aurora")[0] if mysql else version.split(".")[0],
        "DBParameterGroupFamily": _parameter_group_family(engine, version),
        "DBEngineDescription": "Aurora MySQL" if mysql else "Aurora (PostgreSQL)",
        "DBEngineVersionDescription": (f"Aurora MySQL {version.split('mysql_aurora.')[-1]} (compatible with MySQL 8.0)"
                                       if mysql else f"Aurora PostgreSQL (Compatible with PostgreSQL {version})"),
        "Status": "available",
        "SupportedEngineModes": ["provisioned"],
        "ExportableLogTypes": ["audit", "error", "general", "slowquery"] if mysql else ["postgresql"],
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": False,
        "SupportsGlobalDatabases": True,
        "ValidUpgradeTarget": [
            {"Engine": engine, "EngineVersion": v, "AutoUpgrade": False,
             "IsMajorVersionUpgrade": v.split(".")[0] != version.split(".")[0]}
            for v in newer
        ],
    }


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _describe_db_engine_versions(response: RDSResponse) -> ActionResult:
    """DescribeDBEngineVersions over OFFERED_ENGINE_VERSIONS. Engine, EngineVersion (a whole version or a major
    version's prefix, as RDS matches it), DBParameterGroupFamily and DefaultOnly (here: the newest per engine) narrow
    the answer; no match is an empty list, not an error."""
    engine = response.params.get("Engine")
    wanted = response.params.get("EngineVersion")
    family = response.params.get("DBParameterGroupFamily")
    found = []
    for name, versions in OFFERED_ENGINE_VERSIONS.items():
        if engine and name != engine:
            continue
        chosen = [v for v in versions if not wanted or v == wanted or v.startswith(f"{wanted}.")]
        chosen = [v for v in chosen if not family or _parameter_group_family(name, v) == family]
        if response.params.get("DefaultOnly") in (True, "true") and chosen:
            chosen = [max(chosen, key=_version_key)]
        found += [_engine_version(name, v) for v in chosen]
    return ActionResult({"DBEngineVersions": found})


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
    RDSBackend.create_db_cluster = _create_db_cluster  # type: ignore[method-assign]
    RDSBackend.modify_db_cluster = _modify_db_cluster  # type: ignore[method-assign]
    RDSResponse.describe_db_engine_versions = _describe_db_engine_versions  # type: ignore[attr-defined]
