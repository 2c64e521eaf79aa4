"""Offline validation of Kubernetes objects: custom kinds against the upstream CRD schemas in
../shared/reference/crds, core kinds against the Kubernetes OpenAPI schema (kubernetes-validate)."""

from __future__ import annotations

import copy
import functools
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support.paths import reference

KUBERNETES_VERSION = "1.33"


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
    """(apiVersion, kind) -> strict JSON schema, for every CRD file in the reference data."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(reference("crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
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
