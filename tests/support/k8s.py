"""Offline validation of Kubernetes objects: custom kinds against the upstream CRD schemas in
../shared/reference/crds, core kinds against the Kubernetes OpenAPI schema (kubernetes-validate)."""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support.paths import reference

KUBERNETES_VERSION = "1.33"

# libyaml's loader: the reference files are megabytes, which the pure-Python loader reads ~5x slower.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The API server silently prunes unknown fields; the tests reject them instead, so typos cannot hide."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    # metadata is validated by the API server's own rules, not the CRD schema
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return schema


@functools.lru_cache(maxsize=None)
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, for every CRD file in the reference data.

    Parsing the 17 MB of CRDs takes seconds in every test worker, so the result is kept in a file in the system's
    temporary directory, keyed by the files' names, sizes and modification times and by this module's code (a change
    parses again)."""
    paths = sorted(reference("crds").glob("*.yaml"))
    stamp = repr([(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in paths]).encode()
    key = hashlib.sha256(stamp + Path(__file__).read_bytes()).hexdigest()  # this file: how the schemas are made
    cache = Path(tempfile.gettempdir()) / "mlplat-test-cache" / f"crd-schemas-{key[:16]}.pickle"
    try:
        return pickle.loads(cache.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError):
        pass
    out = _parse_crds(paths)
    cache.parent.mkdir(exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}")
    partial.write_bytes(pickle.dumps(out))
    os.replace(partial, cache)  # whole or absent, whichever worker writes last
    return out


def _parse_crds(paths: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        for doc in yaml.load_all(path.read_text(), Loader=SAFE_LOADER):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if schema:
                    out[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return out


def validate(obj: dict[str, Any]) -> None:
    """Raise AssertionError naming the object and the first schema violation."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    name = f"{kind} {obj.get('metadata', {}).get('namespace', '')}/{obj.get('metadata', {}).get('name')}"
    schema = crd_schemas().get((api_version, kind))
    if schema is not None:
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise AssertionError(f"{name} ({api_version}) violates its CRD schema at "
                                 f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
        return
    if "." in api_version.split("/")[0] and not api_version.startswith(
            ("apps/", "batch/", "storage.k8s.io/", "rbac.authorization.k8s.io/", "policy/", "networking.k8s.io/",
             "scheduling.k8s.io/", "autoscaling/", "admissionregistration.k8s.io/", "apiextensions.k8s.io/",
             "coordination.k8s.io/", "node.k8s.io/", "discovery.k8s.io/")):
        raise AssertionError(f"{name}: no schema for {api_version} {kind} in ../shared/reference/crds or core Kubernetes")
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{name} is not a valid {kind}: {exc.message}") from None
