"""Render a dict as blueprint HCL, so tests state a canonical blueprint plus small deltas."""

from __future__ import annotations

import json
from typing import Any, Mapping


def value(v: Any, indent: int = 0) -> str:
    pad = "  " * (indent + 1)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(i, indent) for i in v) + "]"
    if isinstance(v, Mapping):
        if not v:
            return "{}"
        inner = "\n".join(f"{pad}{json.dumps(k)} = {value(i, indent + 1)}" for k, i in v.items())
        return "{\n" + inner + "\n" + "  " * indent + "}"
    raise TypeError(f"cannot render {v!r} as HCL")


def render(data: Mapping[str, Any]) -> str:
    return "".join(f"{k} = {value(v)}\n" for k, v in data.items())
