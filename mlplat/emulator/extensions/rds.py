"""RDS clusters that report a v1-serverless scaling configuration only when they are v1 serverless.

moto answers every DescribeDBClusters with a ScalingConfigurationInfo element (all fields empty for provisioned and
Serverless v2 clusters); the AWS provider reads that as a scaling_configuration block and plans to change it on
every run. RDS leaves the element out for those clusters, and so does the emulator.
"""

from __future__ import annotations

from typing import Any

from moto.rds.models import DBCluster

_moto_scaling_configuration_info = DBCluster.scaling_configuration_info


def _scaling_configuration_info(cluster: DBCluster) -> dict[str, Any] | None:
    if cluster.engine_mode != "serverless":
        return None
    return _moto_scaling_configuration_info.fget(cluster)  # type: ignore[union-attr]


def install() -> None:
    DBCluster.scaling_configuration_info = property(_scaling_configuration_info)  # type: ignore[assignment]
