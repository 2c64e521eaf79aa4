"""YAML read with the line of every key, so a problem in a pipeline or recipe file is reported as file:line."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml


class LocatedDict(dict):
    """A mapping that remembers the line of each key (1-based) and of itself."""

    line: int = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    out = LocatedDict(loader.construct_mapping(node, deep=True))
    out.line = node.start_mark.line + 1
    out.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class Problems:
    """Problems found while reading, each `file:line: key: message`, reported together."""

    items: list[str] = field(default_factory=list)

    def add(self, path: Path, line: int, key: str, message: str) -> None:
        self.items.append(f"{path}:{line}: {key}: {message}" if key else f"{path}:{line}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)


def read_yaml(path: Path) -> Any:
    """The document in `path` with located mappings; an unreadable or invalid file raises BlueprintError."""
    from mlplat.errors import BlueprintError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BlueprintError([f"{path}: cannot read it ({exc.strerror}); check the path"]) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise BlueprintError([f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the file"]) \
            from None


def line_of(mapping: Any, key: str | None = None) -> int:
    if isinstance(mapping, LocatedDict):
        return mapping.key_lines.get(key, mapping.line) if key is not None else mapping.line
    return 1


def unknown_keys(problems: Problems, path: Path, mapping: LocatedDict, allowed: Iterable[str], prefix: str,
                 why_not: dict[str, str] | None = None) -> None:
    """Report keys not in `allowed`: with the reason for keys known to be refused, else with a did-you-mean."""
    allowed = list(allowed)
    for key in mapping:
        if key in allowed:
            continue
        name = f"{prefix}{key}"
        if why_not and key in why_not:
            problems.add(path, line_of(mapping, key), name, why_not[key])
            continue
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        mean = f"; did you mean {prefix}{hint[0]}?" if hint else ""
        problems.add(path, line_of(mapping, key), name, f"unknown key (expected one of {', '.join(allowed)}){mean}")
