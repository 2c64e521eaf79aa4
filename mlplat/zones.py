"""Availability zones: how the blueprint names them (zone names such as 'us-west-2a', or zone IDs such as
'usw2-az1'), and what can be known about a region's zones without an AWS account.

Zone names map to physical zones differently per account (until November 2025), zone IDs do not; either may be used.
The authority is the account itself: the AWS layer reads the region's zones (data.aws_availability_zones) and refuses
at plan time a zone the account does not have. Offline, `validate` catches what is impossible in every account:
a zone of another region, a letter past the region's last zone, a zone ID of another region.

Recorded 2026-11-30 from the AWS documentation ("Availability Zone IDs", EFS One Zone and EKS subnet requirement
pages, which list zone IDs) and the zones moto models; regions not listed here are checked against the general rule
that no region has more than six zones (us-east-1 has six: a-f, use1-az1..az6).
"""

from __future__ import annotations

import re

NAME = re.compile(r"(?P<region>[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d)(?P<letter>[a-z])")
ZONE_ID = re.compile(r"(?P<prefix>[a-z]{2,6}\d)-az(?P<number>\d+)")
ZONE_DOC = "an availability zone name such as 'us-west-2a' or a zone ID such as 'usw2-az1'"
MAX_ZONES = 6

# Region -> (zone letters, zone ID numbers) where recorded. us-west-1 has two zones, whose letters differ by account.
KNOWN_ZONES: dict[str, tuple[str, tuple[int, ...]]] = {
    "us-east-1": ("abcdef", (1, 2, 3, 4, 5, 6)),
    "us-east-2": ("abc", (1, 2, 3)),
    "us-west-1": ("abc", (1, 3)),
    "us-west-2": ("abcd", (1, 2, 3, 4)),
    "eu-west-1": ("abc", (1, 2, 3)),
    "ap-northeast-1": ("acd", (1, 2, 4)),
}
_DIRECTIONS = {"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}


def zone_id_prefix(region: str) -> str:
    """'us-west-2' -> 'usw2', 'ap-northeast-1' -> 'apne1', 'us-gov-west-1' -> 'usgw1' (AWS's zone ID scheme)."""
    parts = region.split("-")
    middle = "".join(_DIRECTIONS.get(p, p[0]) for p in parts[1:-1])
    return f"{parts[0]}{middle}{parts[-1]}"


def is_zone_id(zone: str) -> bool:
    return ZONE_ID.fullmatch(zone) is not None


def zone_problem(zone: str, region: str) -> str | None:
    """Why `zone` cannot be a zone of `region` in any account, or None."""
    letters, numbers = KNOWN_ZONES.get(region, ("abcdef"[:MAX_ZONES], tuple(range(1, MAX_ZONES + 1))))
    if (m := NAME.fullmatch(zone)) is not None:
        if m["region"] != region:
            return f"expected an availability zone of region {region!r}, got {zone!r}"
        if m["letter"] not in letters:
            listed = ", ".join(f"{region}{letter}" for letter in letters)
            return f"{region} has no zone {zone!r}; its zones are {listed}"
        return None
    if (m := ZONE_ID.fullmatch(zone)) is not None:
        prefix = zone_id_prefix(region)
        if m["prefix"] != prefix:
            return f"expected a zone ID of region {region!r} (such as '{prefix}-az1'), got {zone!r}"
        if int(m["number"]) not in numbers:
            listed = ", ".join(f"{prefix}-az{n}" for n in numbers)
            return f"{region} has no zone {zone!r}; its zone IDs are {listed}"
        return None
    return f"expected {ZONE_DOC}, got {zone!r}"
