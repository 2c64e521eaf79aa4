"""A scanner for credentials written into generated or checked-in files.

Three kinds of finding:
- a key that names a credential (password, passwd, secret, token, api key ...) holding a literal value, in any JSON or
  YAML document, including YAML nested in strings (Helm values inside terraform JSON) and `key value` lines of
  INI-like configuration text (Fluent Bit). References are fine: `${VAR}` (`$${VAR}` once escaped for terraform),
  `$__env{}`/`$__file{}`, `{{ template }}`, terraform expressions, Secret/key names (`existingSecret`, `passwordKey`,
  `secretName` ...) and file paths;
- a known default credential (`prom-operator`, `changeme` ...);
- a token that looks generated: 16-64 letters and digits with upper case, lower case and digits and high entropy,
  the shape of the platform's own generated passwords.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any, Iterator

import yaml

CREDENTIAL_KEY = re.compile(r"(?i)(pass(word|wd)?|pwd|secret|token|api_?key|credential|private_?key)$|"
                            r"password|passwd|secret_?key|access_?key|client_?secret")
# Keys whose value names where a credential lives, or how to read it, rather than being one.
REFERENCE_KEY = re.compile(r"(?i)(key|keys|ref|file|path|name|names|existing_?secret|users_?secret|mtime|length|"
                           r"version|enabled|id|arn)$|^creation_token$")
# ... except keys that are credentials themselves although they end in "key": apiKey, secret_key, AWS access keys.
CREDENTIAL_NAMED_KEY = re.compile(r"(?i)(api|secret|access|private|client|encryption)_?key$")
REFERENCE_VALUE = re.compile(r"^\s*(\$?\$\{.+\}|\$__(env|file)\{.+\}|\{\{.+\}\}|\$\(.+\))\s*$|^/|^\$[A-Z_][A-Z0-9_]*$")
KNOWN_DEFAULTS = ("prom-operator", "changeme", "change-me", "admin123", "password123", "kibanaserver",
                  "myStrongPassword", "strongpassword")
INI_LINE = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.\-]*)\s+(?P<value>\S.*?)\s*$")
TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{16,64}(?![A-Za-z0-9])")
# Identifiers made of words (2+ letters, optionally capitalised) and acronyms/numbers: AmazonEC2ReadOnly, v1Beta2,
# terraform ids with an attribute (55B0C966endpoint), versions (IPv6). A generated value has lone lower-case letters.
CAMEL_CASE_WORDS = re.compile(r"[a-z]?(?:[A-Z]?[a-z]{2,}|[A-Z0-9]+|[a-z][0-9]+)*")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_generated(token: str) -> bool:
    """Mixed case with digits scattered through it and high entropy; CamelCase names (AmazonEC2ReadOnly) are not."""
    mixed = (len(re.findall(r"[a-z]", token)) >= 2 and len(re.findall(r"[A-Z]", token)) >= 2
             and len(re.findall(r"[0-9]", token)) >= 1)
    # Words have longer lower-case runs ("Protocol"); random letters mostly one or two ("Xk9mP2qR").
    short_lower_runs = len(re.findall(r"(?<![a-z])[a-z]{1,2}(?![a-z])", token))
    wordlike = CAMEL_CASE_WORDS.fullmatch(token) and short_lower_runs < 3
    return mixed and not wordlike and _entropy(token) >= min(3.8, 0.8 * math.log2(len(token)))


def _is_reference(value: str) -> bool:
    return bool(REFERENCE_VALUE.search(value)) or value.strip() == ""


def _literal_credential(key: str, value: Any) -> bool:
    if not CREDENTIAL_KEY.search(key) or (REFERENCE_KEY.search(key) and not CREDENTIAL_NAMED_KEY.search(key)):
        return False
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and not _is_reference(value)


def _walk(node: Any, path: str, key: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every map entry and list item; a list item goes by the key of its list."""
    if isinstance(node, dict):
        items = [(f"{path}.{k}" if path else str(k), str(k), v) for k, v in node.items()]
    elif isinstance(node, list):
        items = [(f"{path}[{i}]", key, v) for i, v in enumerate(node)]
    else:
        return
    for here, name, value in items:
        yield here, name, value
        yield from _walk(value, here, name)


def _structured(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return None
    return docs if len(docs) != 1 else docs[0]


def findings(text: str, source: str) -> list[str]:
    """Every credential-looking value in `text`, as `source: where: what`."""
    out: list[str] = []
    lowered = text.lower()
    for default in KNOWN_DEFAULTS:
        if default.lower() in lowered:
            out.append(f"{source}: known default credential {default!r}")
    for token in TOKEN.findall(text):
        if looks_generated(token):
            out.append(f"{source}: generated-looking value {token!r}")
    out.extend(_structured_findings(text, source, depth=0))
    return out


def _structured_findings(text: str, source: str, depth: int) -> list[str]:
    out: list[str] = []
    data = _structured(text)
    if isinstance(data, (dict, list)):
        for path, key, value in _walk(data, ""):
            if _literal_credential(key, value):
                out.append(f"{source}: {path}: literal value for a credential key")
            if isinstance(value, str) and "\n" in value and depth < 3:
                out.extend(_structured_findings(value, f"{source}: {path}", depth + 1))
    # `key value` lines of configuration text (Fluent Bit, INI); YAML and JSON lines never match.
    for line_no, line in enumerate(text.splitlines(), 1):
        match = INI_LINE.match(line)
        if match and _literal_credential(match["key"], match["value"]):
            out.append(f"{source}:{line_no}: {match['key']}: literal value for a credential key")
    return out
