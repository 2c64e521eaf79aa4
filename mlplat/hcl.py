"""What python-hcl2's values lose and Terraform would report: where each key is, keys set twice, unquoted words, string
templates, and unterminated strings or blocks (at the line where they open, as Terraform reports them).

python-hcl2 turns the file into plain values; this walks its syntax tree (which keeps line numbers) beside that, so
every problem of a blueprint can name its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import hcl2
from lark import Token, Tree

Path = tuple[str, ...]


@dataclass
class Syntax:
    """Lines of the keys (path -> line) and the problems found, as (path, line, message)."""

    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[Path, int, str]] = field(default_factory=list)


def _line(node: Any) -> int:
    if isinstance(node, Token):
        return node.line or 1
    if isinstance(node, Tree) and not node.meta.empty:
        return node.meta.line
    for child in getattr(node, "children", []):
        line = _line(child)
        if line:
            return line
    return 1


def _children(node: Tree, name: str) -> Iterator[Tree]:
    return (c for c in node.children if isinstance(c, Tree) and c.data == name)


def _key(node: Tree) -> str:
    """The text of an attribute name or object key (an identifier or a quoted string)."""
    tokens = [t for t in node.scan_values(lambda v: isinstance(v, Token)) if t.type not in ("DBLQUOTE",)]
    return "".join(str(t) for t in tokens)


def _value_text(node: Tree) -> str:
    return "".join(str(t) for t in node.scan_values(lambda v: isinstance(v, Token)))


def _check_value(node: Any, path: Path, syntax: Syntax) -> None:
    """Record unquoted words and string templates in a value, and walk into objects and lists."""
    if not isinstance(node, Tree):
        return
    inner = node.children[0] if node.data == "expr_term" and len(node.children) == 1 else None
    if isinstance(inner, Tree) and inner.data == "identifier":
        word = _value_text(inner)
        syntax.problems.append((path, _line(node), f"unquoted value {word}: write it in quotes, \"{word}\" (Terraform "
                                                   f"reads an unquoted word as a variable reference)"))
        return
    if isinstance(inner, Tree) and inner.data == "string" and any(inner.find_data("interpolation")):
        syntax.problems.append((path, _line(node), f"expected a literal string, got the template {_value_text(inner)}; "
                                                   f"a blueprint's values are not evaluated"))
        return
    if isinstance(inner, Tree) and inner.data == "object":
        _check_object(inner, path, syntax)
    elif isinstance(inner, Tree) and inner.data == "tuple":
        for i, item in enumerate(_children(inner, "expr_term")):
            _check_value(item, path + (f"[{i}]",), syntax)


def _check_object(node: Tree, path: Path, syntax: Syntax) -> None:
    seen: dict[str, int] = {}
    for elem in _children(node, "object_elem"):
        key_node = next(_children(elem, "object_elem_key"))
        key = _key(key_node)
        line = _line(elem)
        if key in seen:
            syntax.problems.append((path + (key,), line, f"set twice (first on line {seen[key]}); each key may be "
                                                         f"set only once"))
            continue
        seen[key] = line
        syntax.lines[path + (key,)] = line
        values = [c for c in elem.children if isinstance(c, Tree) and c.data != "object_elem_key"]
        if values:
            _check_value(values[-1], path + (key,), syntax)


def inspect(text: str) -> Syntax:
    """Lines and problems of a file python-hcl2 can parse."""
    syntax = Syntax()
    tree = hcl2.parses_to_tree(text)
    seen: dict[str, int] = {}
    for body in tree.find_data("body"):
        for attribute in _children(body, "attribute"):
            name = _key(next(_children(attribute, "identifier")))
            line = _line(attribute)
            if name in seen:
                syntax.problems.append(((name,), line, f"set twice (first on line {seen[name]}); each key may be set "
                                                       f"only once"))
                continue
            seen[name] = line
            syntax.lines[(name,)] = line
            _check_value(attribute.children[-1], (name,), syntax)
        break  # the top-level body only; nested bodies are blocks, which a blueprint does not use
    return syntax


def unclosed(text: str) -> tuple[int, str] | None:
    """The line where an unterminated string or an unclosed `{` / `[` opens, and what it is (for a parse error that
    the parser would otherwise report at the end of the file)."""
    stack: list[tuple[str, int]] = []
    line, i, n = 1, 0, len(text)
    string_start: int | None = None
    while i < n:
        ch = text[i]
        if ch == "\n":
            if string_start is not None:
                return string_start, "an unterminated string"  # quoted strings end on their line
            line += 1
        elif string_start is not None:
            if ch == "\\":
                i += 1
            elif ch == '"':
                string_start = None
        elif ch == '"':
            string_start = line
        elif ch == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return line, "an unterminated /* comment"
            line += text.count("\n", i, end)
            i = end + 2
            continue
        elif ch in "{[":
            stack.append((ch, line))
        elif ch in "}]":
            if stack:
                stack.pop()
        i += 1
    if string_start is not None:
        return string_start, "an unterminated string"
    if stack:
        bracket, opened = stack[-1]
        return opened, f"a `{bracket}` that is never closed"
    return None
