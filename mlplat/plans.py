"""What a plan will do, resource by resource: read from terraform's saved plan (`terraform show -json`), ordered so
that what cannot be undone comes first (replacements and deletions, with the attributes that force a replacement),
for people (a coloured list) and for pipelines (JSON). Also the saved-plan bundle of `plan --out` / `deploy --plan`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from mlplat.errors import EXIT_BAD_INPUT, MlplatError

# Order of appearance, most consequential first, with the marker terraform uses.
ACTIONS = {"replace": "-/+", "delete": "-", "update": "~", "import": "<-", "create": "+"}
REASONS = {
    "replace_because_tainted": "tainted: an earlier apply did not finish it",
    "replace_because_cannot_update": "an attribute cannot change in place",
    "replace_by_request": "replacement was requested",
    "replace_by_triggers": "a replace_triggered_by reference changed",
    "delete_because_no_resource_config": "no longer in the blueprint",
    "delete_because_count_index": "no longer in the blueprint",
    "delete_because_each_key": "no longer in the blueprint",
}
_COLOURS = {"replace": "\033[1;35m", "delete": "\033[1;31m", "update": "\033[33m", "import": "\033[36m",
            "create": "\033[32m"}
_RESET = "\033[0m"


@dataclass(frozen=True)
class Change:
    address: str  # terraform's address, e.g. aws_subnet.network_private-0_A0649C48
    path: str  # where it comes from in the stack, e.g. network/private-0
    action: str  # create, update, replace, delete, or import (taken into the state, mlplat/adopt.py)
    reason: str = ""  # why a replace or delete happens, when terraform says
    replace_paths: tuple[str, ...] = ()  # attributes whose change forces the replacement

    @property
    def resource_type(self) -> str:
        return self.address.split(".")[0] if not self.address.startswith("data.") else self.address.split(".")[1]


@dataclass
class Plan:
    stack: str
    file: Path
    add: int = 0
    change: int = 0
    remove: int = 0
    changes: list[Change] = field(default_factory=list)
    imports: int = 0
    adoption: list[str] = field(default_factory=list)  # what became of the creates an interrupt cut short

    @property
    def total(self) -> int:
        return self.add + self.change + self.remove + self.imports

    def counts(self) -> dict[str, int]:
        counts = {action: 0 for action in ACTIONS}
        for c in self.changes:
            counts[c.action] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {"add": self.add, "change": self.change, "remove": self.remove,
                **({"adoption": self.adoption} if self.adoption else {}), **{
            f"{action}s" if action != "replace" else "replacements": n for action, n in self.counts().items()},
            "changes": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(c).items()}
                        for c in self.changes]}


def _construct_paths(stack_json: Path) -> dict[str, str]:
    """`<type>.<logical id>` -> construct path below the stack, from the synthesized JSON's metadata."""
    try:
        doc = json.loads(stack_json.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    out = {}
    for block, prefix in (("resource", ""), ("data", "data.")):
        for rtype, items in doc.get(block, {}).items():
            for logical_id, item in items.items():
                path = item.get("//", {}).get("metadata", {}).get("path", "")
                out[f"{prefix}{rtype}.{logical_id}"] = path.split("/", 1)[-1]
    return out


def _action(actions: list[str]) -> str | None:
    if actions in (["delete", "create"], ["create", "delete"]):
        return "replace"
    if actions in (["create"], ["update"], ["delete"]):
        return actions[0]
    return None  # no-op, read


def _attribute(path: list[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def changes_from_show(shown: dict[str, Any], stack_json: Path) -> list[Change]:
    """The planned changes of a `terraform show -json <planfile>` document, most consequential first."""
    paths = _construct_paths(stack_json)
    out = []
    for rc in shown.get("resource_changes", []):
        action = _action(rc.get("change", {}).get("actions", []))
        if rc.get("change", {}).get("importing") is not None and action in (None, "update"):
            action = "import"  # an update that follows an import shows in the plan as the import's
        if action is None or rc.get("mode") == "data":
            continue
        base = rc["address"].split("[", 1)[0]
        out.append(Change(address=rc["address"], path=paths.get(base, ""), action=action,
                          reason=REASONS.get(rc.get("action_reason", ""), rc.get("action_reason", "")),
                          replace_paths=tuple(_attribute(p) for p in rc.get("change", {}).get("replace_paths", []))))
    order = list(ACTIONS)
    return sorted(out, key=lambda c: (order.index(c.action), c.path or c.address))


def colour_enabled(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ


def _counts_text(plan: Plan) -> str:
    """"2 to replace, 1 to create": the destructive actions first."""
    counts = plan.counts()
    return ", ".join(f"{counts[a]} to {a}" for a in ACTIONS if counts[a])


def headline(plan: Plan) -> str:
    return f"{plan.stack}: {_counts_text(plan) if plan.changes else 'no changes'}"


def render(plan: Plan, colour: bool = False) -> list[str]:
    """One line per change, replacements and deletions first: marker, action, construct path, type, and why."""
    lines = [headline(plan)]
    for c in plan.changes:
        why = []
        if c.replace_paths:
            why.append("forced by " + ", ".join(c.replace_paths))
        if c.reason:
            why.append(c.reason)
        text = (f"  {ACTIONS[c.action]:>3} {c.action:<7} {c.path or c.address}  ({c.resource_type})"
                + (f"  [{'; '.join(why)}]" if why else ""))
        if colour:
            text = f"{_COLOURS[c.action]}{text}{_RESET}"
        lines.append(text)
    return lines


def question(plan: Plan) -> str:
    """The confirmation, naming the destructive counts first."""
    return f"apply to {plan.stack}: {_counts_text(plan)}?"


# --- saved plans ---------------------------------------------------------------------------------------------------

BUNDLE_META = "mlplat-plan.json"


def blueprint_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_bundle(target: Path, plans: list[Plan], *, platform: str, blueprint: Path, local: bool) -> None:
    """Write the stacks' saved plans and what they were made from into one file."""
    meta = {"platform": platform, "blueprint": str(blueprint), "blueprint_sha256": blueprint_digest(blueprint),
            "local": local, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "stacks": [p.stack for p in plans]}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as bundle:
        data = json.dumps(meta, indent=2).encode()
        info = tarfile.TarInfo(BUNDLE_META)
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
        for plan in plans:
            bundle.add(plan.file, arcname=f"{plan.stack}.tfplan")


def open_bundle(source: Path, *, platform: str, blueprint: Path, local: bool) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The bundle's metadata and plan files, refused when it is not for this platform, blueprint and target."""
    try:
        with tarfile.open(source, "r:gz") as bundle:
            files = {m.name: bundle.extractfile(m).read() for m in bundle.getmembers() if m.isfile()}  # type: ignore[union-attr]
        meta = json.loads(files.pop(BUNDLE_META))
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as exc:
        raise MlplatError(f"--plan {source}: not a plan saved by `mlplat plan --out` ({exc})",
                          exit_code=EXIT_BAD_INPUT) from None
    problems = []
    if meta["platform"] != platform:
        problems.append(f"it is a plan of platform {meta['platform']!r}, not {platform!r}")
    if meta["local"] != local:
        problems.append("it was made " + ("with" if meta["local"] else "without") + " --local")
    if meta["blueprint_sha256"] != blueprint_digest(blueprint):
        problems.append(f"{blueprint} changed since the plan was made ({meta['created']})")
    if problems:
        raise MlplatError(f"--plan {source} does not match what you asked to deploy: {'; '.join(problems)}. Plan "
                          f"again (mlplat plan --out FILE); nothing was applied", exit_code=EXIT_BAD_INPUT)
    return meta, files


def print_changes(plans: list[Plan], stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    colour = colour_enabled(stream)
    for plan in plans:
        for line in render(plan, colour):
            print(line, file=stream)
