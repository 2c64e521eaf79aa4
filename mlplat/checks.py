"""Offline checks of the synthesized Kubernetes layer, for when no cluster is there to apply it (`--local`, CI).

They check what can be known without a cluster: every release is pinned to the version in mlplat/versions.py, its
values parse, the add-on graph is ordered, every typed object is well-formed, and core Kubernetes kinds validate
against the Kubernetes OpenAPI schema when kubernetes-validate is installed (it is, with the test extras).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlplat import versions
from mlplat.addons import MANIFESTS_CHART

KUBERNETES_SCHEMA_VERSION = "1.33"


@dataclass
class CheckReport:
    releases: int = 0
    objects: int = 0
    core_objects_validated: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"releases": self.releases, "objects": self.objects,
                "core_objects_validated": self.core_objects_validated, "problems": self.problems, "notes": self.notes}


def _core_validator():
    try:
        import kubernetes_validate
    except ImportError:
        return None
    return kubernetes_validate


def check_kubernetes_stack(stack_json: Path) -> CheckReport:
    report = CheckReport()
    doc = json.loads(stack_json.read_text())
    pins = {c.chart: c for c in versions.CHARTS.values()}
    validator = _core_validator()
    if validator is None:
        report.notes.append("kubernetes-validate is not installed: core kinds were not schema-checked "
                            "(pip install -e '.[test]')")
    for rid, release in doc.get("resource", {}).get("helm_release", {}).items():
        report.releases += 1
        name = release.get("name", rid)
        chart = release.get("chart", "")
        if not release.get("version"):
            report.problems.append(f"release {name}: no pinned chart version")
        pin = pins.get(chart)
        if pin and (release.get("version") != pin.version or release.get("repository") != pin.repository):
            report.problems.append(f"release {name}: chart {chart} {release.get('version')} from "
                                   f"{release.get('repository')} differs from the pin {pin.version} in {pin.repository}")
        for text in release.get("values", []):
            try:
                values = yaml.safe_load(text.replace("$${", "${").replace("%%{", "%{")) or {}
            except yaml.YAMLError as exc:
                report.problems.append(f"release {name}: values are not valid YAML ({exc})")
                continue
            if MANIFESTS_CHART in chart or "assets/" in chart:
                for obj in values.get("objects", []):
                    _check_object(name, obj, report, validator)
    return report


def _check_object(release: str, obj: Any, report: CheckReport, validator: Any) -> None:
    report.objects += 1
    if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind") \
            or not obj.get("metadata", {}).get("name"):
        report.problems.append(f"release {release}: object without apiVersion/kind/metadata.name: {str(obj)[:120]}")
        return
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    if validator is not None and ("." not in group or group.endswith(".k8s.io")):
        try:
            validator.validate(obj, KUBERNETES_SCHEMA_VERSION, strict=True)
            report.core_objects_validated += 1
        except validator.SchemaNotFoundError:
            pass  # a custom kind; its CRD schema is checked by the test suite against the upstream CRDs
        except validator.ValidationError as exc:
            report.problems.append(f"release {release}: {obj['kind']} {obj['metadata']['name']}: {exc.message}")
