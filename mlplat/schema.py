"""Typed conversion of parsed HCL values into frozen dataclasses, driven by the dataclass annotations.

A field's metadata carries its documentation and constraints:
    doc       what the key does (the README reference is generated from it)
    choices   allowed values
    aliases   names users may reach for instead (suggested in "did you mean")
    minimum / maximum   inclusive bounds for numbers
    pattern   regular expression a string (or each list item) must match, with `pattern_doc` saying it in words
Problems are collected as (path, message) pairs; the caller turns the path into file:line.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import types
import typing
from typing import Any

Path = tuple[str, ...]


class Problems:
    def __init__(self) -> None:
        self.items: list[tuple[Path, str]] = []

    def add(self, path: Path, message: str) -> None:
        self.items.append((path, message))

    def __bool__(self) -> bool:
        return bool(self.items)


def describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def is_expression(value: Any) -> bool:
    # python-hcl2 turns references and arithmetic into "${...}" strings; a blueprint holds literal values only.
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def _optional_inner(tp: Any) -> Any | None:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and type(None) in typing.get_args(tp):
            return args[0]
    return None


def type_words(tp: Any) -> str:
    inner = _optional_inner(tp)
    if inner is not None:
        return f"{type_words(inner)} or null"
    origin = typing.get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if origin is tuple:
        return f"a list of {type_words(typing.get_args(tp)[0]).removeprefix('a ')}s"
    if origin in (dict, collections.abc.Mapping):
        value_tp = typing.get_args(tp)[1]
        if dataclasses.is_dataclass(value_tp):
            return "a map of objects"
        return f"a map of {type_words(value_tp).removeprefix('a ')}s"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return str(tp)


def _check_constraints(value: Any, meta: typing.Mapping[str, Any], path: Path, problems: Problems) -> bool:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        # Suggestions help with typos in words, not with numbers or versions.
        hint = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1) if any(
            ch.isalpha() for ch in str(value)) else []
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        problems.add(path, f"expected one of {listed}, got {describe(value)}{extra}")
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = meta.get("minimum"), meta.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                bound = f"between {lo} and {hi}"
            elif lo is not None:
                bound = f"at least {lo}"
            else:
                bound = f"at most {hi}"
            problems.add(path, f"expected a number {bound}, got {describe(value)}")
            return False
    pattern = meta.get("pattern")
    if pattern is not None and isinstance(value, str) and not re.fullmatch(pattern, value):
        problems.add(path, f"expected {meta.get('pattern_doc', 'a string matching ' + pattern)}, got {describe(value)}")
        return False
    return True


def convert(tp: Any, value: Any, path: Path, problems: Problems, meta: typing.Mapping[str, Any] | None = None) -> Any:
    """Convert `value` to type `tp`; on a problem, record it and return the sentinel `INVALID`."""
    meta = meta or {}
    if is_expression(value):
        problems.add(path, f"expected a literal value ({type_words(tp)}); variables, functions and expressions are not "
                           f"evaluated in a blueprint, got {value!r}")
        return INVALID
    inner = _optional_inner(tp)
    if inner is not None:
        if value is None or value == "":
            return None
        return convert(inner, value, path, problems, meta)
    origin = typing.get_origin(tp)
    if tp is bool:
        if not isinstance(value, bool):
            problems.add(path, f"expected true or false, got {describe(value)}")
            return INVALID
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(path, f"expected a whole number, got {describe(value)}")
            return INVALID
        return value if _check_constraints(value, meta, path, problems) else INVALID
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(path, f"expected a number, got {describe(value)}")
            return INVALID
        return float(value) if _check_constraints(value, meta, path, problems) else INVALID
    if tp is str:
        if not isinstance(value, str):
            hint = f'; write it in quotes, "{value}"' if isinstance(value, (int, float)) and not isinstance(
                value, bool) else ""
            problems.add(path, f"expected a string, got {describe(value)}{hint}")
            return INVALID
        return value if _check_constraints(value, meta, path, problems) else INVALID
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if not isinstance(value, list):
            problems.add(path, f"expected {type_words(tp)}, got {describe(value)}")
            return INVALID
        items = [convert(item_tp, v, path + (f"[{i}]",), problems, meta) for i, v in enumerate(value)]
        if any(i is INVALID for i in items):
            return INVALID
        if meta.get("unique") and len(set(items)) != len(items):
            dupes = sorted({i for i in items if items.count(i) > 1})
            problems.add(path, f"expected each item once, got duplicates {', '.join(map(repr, dupes))}")
            return INVALID
        return tuple(items)
    if origin in (dict, collections.abc.Mapping):
        key_tp, value_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            problems.add(path, f"expected {type_words(tp)}, got {describe(value)}")
            return INVALID
        allowed_keys = meta.get("keys")
        out: dict[str, Any] = {}
        for k, v in value.items():
            if allowed_keys is not None and k not in allowed_keys:
                hint = difflib.get_close_matches(k, list(allowed_keys), n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(allowed_keys)}"
                problems.add(path + (k,), f"unknown {meta.get('key_noun', 'key')}{extra}")
                continue
            key_pattern = meta.get("key_pattern")
            if key_pattern and not re.fullmatch(key_pattern, k):
                problems.add(path + (k,), f"expected a key that is {meta.get('key_pattern_doc', key_pattern)}, got {k!r}")
                continue
            item_meta = {} if dataclasses.is_dataclass(value_tp) else {m: meta[m] for m in meta if m not in ("keys",)}
            out[k] = convert(value_tp, v, path + (k,), problems, item_meta)
        if any(v is INVALID for v in out.values()):
            return INVALID
        return types.MappingProxyType(out)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            problems.add(path, f"expected an object {{ key = value, ... }}, got {describe(value)}")
            return INVALID
        return build(tp, value, path, problems)
    raise TypeError(f"unsupported blueprint type {tp!r} at {'.'.join(path)}")


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def build(cls: type, data: dict[str, Any], path: Path, problems: Problems) -> Any:
    """Build dataclass `cls` from `data`: unknown keys get a did-you-mean, missing keys take their defaults."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    # Keys the blueprint no longer (or not yet) takes, each with the message saying why.
    retired = {k: v for klass in reversed(cls.__mro__) for k, v in vars(klass).get("_retired", {}).items()}
    for key, value in data.items():
        if key in retired:
            problems.add(path + (key,), retired[key])
            continue
        if key not in fields:
            aliases = {a: n for n, f in fields.items() for a in f.metadata.get("aliases", ())}
            hint = [aliases[key]] if key in aliases else difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            problems.add(path + (key,), f"unknown key{extra}")
            continue
        converted = convert(hints[key], value, path + (key,), problems, fields[key].metadata)
        if converted is not INVALID:
            kwargs[key] = converted
    missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and n not in kwargs and n not in data]
    for name in missing:
        problems.add(path + (name,), f"required key is missing: expected {type_words(hints[name])}")
    if problems:
        return INVALID
    return cls(**kwargs, _explicit=frozenset(data))


def field(default: Any, doc: str, **meta: Any) -> Any:
    """A blueprint key: default value, one-line documentation and constraints (see module docstring)."""
    if isinstance(default, (dict, list)):
        raise TypeError("use tuples and MappingProxyType for defaults so blueprints stay immutable")
    metadata = {"doc": doc, **meta}
    if isinstance(default, types.MappingProxyType):
        return dataclasses.field(default_factory=lambda: default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def explicit_field() -> Any:
    """Which keys the file set explicitly (as opposed to defaults); some rules depend on it."""
    return dataclasses.field(default=frozenset(), repr=False, compare=False)


def acu_range_problems(keys: Any, prefix: str) -> list[tuple[tuple[str, ...], str]]:
    """The rules of an Aurora Serverless v2 capacity pair `<prefix>_min_acu`/`<prefix>_max_acu` (MLflow's, Slurm's,
    Airflow's database): each a multiple of 0.5 ACU, the minimum not above the maximum."""
    low_key, high_key = f"{prefix}_min_acu", f"{prefix}_max_acu"
    low, high = getattr(keys, low_key), getattr(keys, high_key)
    out: list[tuple[tuple[str, ...], str]] = [((key,), f"expected a multiple of 0.5 ACU, got {value:g}")
                                              for key, value in ((low_key, low), (high_key, high)) if (value * 2) % 1]
    if low > high:
        out.append(((high_key,), f"expected at least {low_key} ({low:g}), got {high:g}"))
    return out
