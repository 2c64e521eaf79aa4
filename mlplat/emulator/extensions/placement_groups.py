"""EC2 placement groups, which moto 5.2 does not implement (every call answers 500).

The destroy sweep (mlplat/sweep.py) lists the placement groups a cluster's controllers made, by tag, and deletes them.
Modelled as EC2 documents them: CreatePlacementGroup (strategy cluster, spread or partition; tags from the
`placement-group` tag specification; a name taken is InvalidPlacementGroup.Duplicate), DescribePlacementGroups
(GroupNames, GroupIds, and the filters group-name, group-id, strategy, state, tag:<key>, tag-key; a name asked for that
does not exist is InvalidPlacementGroup.Unknown), DeletePlacementGroup (unknown: InvalidPlacementGroup.Unknown). Not
modelled: EC2's refusal to delete a group instances still run in (InvalidPlacementGroup.InUse), because moto's
instances do not record their placement group.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.responses import EC2Response
from moto.moto_api._internal import mock_random as random

STRATEGIES = ("cluster", "spread", "partition")


@dataclass
class PlacementGroup:
    name: str
    group_id: str
    strategy: str
    arn: str
    partition_count: int | None
    spread_level: str | None
    tags: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"GroupName": self.name, "GroupId": self.group_id, "State": "available",
                               "Strategy": self.strategy, "GroupArn": self.arn,
                               "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()]}
        if self.partition_count is not None:
            out["PartitionCount"] = self.partition_count
        if self.spread_level is not None:
            out["SpreadLevel"] = self.spread_level
        return out


def _groups(backend: EC2Backend) -> dict[str, PlacementGroup]:
    if not hasattr(backend, "placement_groups"):
        backend.placement_groups = {}  # type: ignore[attr-defined]
    return backend.placement_groups  # type: ignore[attr-defined, no-any-return]


def _unknown(name: str) -> EC2ClientError:
    return EC2ClientError("InvalidPlacementGroup.Unknown", f"The Placement Group '{name}' is unknown.")


def _create(self: EC2Response) -> ActionResult:
    self.error_on_dryrun()
    name = self._get_param("GroupName")
    strategy = self._get_param("Strategy")
    if strategy not in STRATEGIES:
        raise EC2ClientError("InvalidParameterValue", f"Value ({strategy}) for parameter strategy is invalid. "
                                                      f"Valid values are: {', '.join(STRATEGIES)}")
    groups = _groups(self.ec2_backend)
    if name in groups:
        raise EC2ClientError("InvalidPlacementGroup.Duplicate", f"The Placement Group '{name}' already exists.")
    backend = self.ec2_backend
    group = PlacementGroup(
        name=name, group_id=f"pg-{random.get_random_hex(17)}", strategy=strategy,
        arn=f"arn:{backend.partition}:ec2:{backend.region_name}:{backend.account_id}:placement-group/{name}",
        partition_count=int(self._get_param("PartitionCount", 2)) if strategy == "partition" else None,
        spread_level=self._get_param("SpreadLevel", "rack") if strategy == "spread" else None,
        tags=self._parse_tag_specification().get("placement-group", {}),
    )
    groups[name] = group
    return ActionResult({"PlacementGroup": group.describe()})


def _matches(group: PlacementGroup, name: str, values: list[str]) -> bool:
    fields = {"group-name": group.name, "group-id": group.group_id, "strategy": group.strategy, "state": "available"}
    if name in fields:
        return any(fnmatch.fnmatchcase(fields[name], v) for v in values)
    if name == "tag-key":
        return any(fnmatch.fnmatchcase(k, v) for k in group.tags for v in values)
    if name.startswith("tag:"):
        key = name.removeprefix("tag:")
        return key in group.tags and any(fnmatch.fnmatchcase(group.tags[key], v) for v in values)
    raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")


def _describe(self: EC2Response) -> ActionResult:
    groups = _groups(self.ec2_backend)
    names = self._get_param("GroupNames", [])
    ids = self._get_param("GroupIds", [])
    for name in names:
        if name not in groups:
            raise _unknown(name)
    found = [g for g in groups.values() if (not names or g.name in names) and (not ids or g.group_id in ids)]
    for f in self._get_param("Filters", []):
        found = [g for g in found if _matches(g, f["Name"], f.get("Values", []))]
    return ActionResult({"PlacementGroups": [g.describe() for g in found]})


def _delete(self: EC2Response) -> ActionResult:
    self.error_on_dryrun()
    name = self._get_param("GroupName")
    groups = _groups(self.ec2_backend)
    if name not in groups:
        raise _unknown(name)
    del groups[name]
    return ActionResult({})


def install() -> None:
    EC2Response.create_placement_group = _create  # type: ignore[attr-defined]
    EC2Response.describe_placement_groups = _describe  # type: ignore[attr-defined]
    EC2Response.delete_placement_group = _delete  # type: ignore[attr-defined]
