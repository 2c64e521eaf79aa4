"""Check that every Helm value the platform sets exists in the chart's own default values.yaml.

A key is accepted when the defaults have it at that path. Below a default that is an empty map (`podLabels: {}`,
`nodeSelector: {}`) or a list, anything goes: those are the chart's free-form slots.
"""

from __future__ import annotations

from typing import Any, Iterator

import yaml

from tests.support.paths import reference

# libyaml's loader: the reference files are megabytes, which the pure-Python loader reads ~5x slower.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def chart_defaults(chart: str) -> dict[str, Any]:
    return yaml.load(reference("chart-values", chart, "values.yaml").read_text(), Loader=SAFE_LOADER) or {}


def chart_version(chart: str) -> str:
    return str(yaml.load(reference("chart-values", chart, "Chart.yaml").read_text(), Loader=SAFE_LOADER)["version"])


# Kubernetes maps whose keys are the user's (label keys, resource names), even where a chart ships a default entry.
FREE_FORM = {"nodeSelector", "labels", "annotations", "podLabels", "podAnnotations", "additionalLabels",
             "additionalAnnotations", "commonLabels", "resources", "affinity", "extraArgs"}


def unknown_keys(values: Any, defaults: Any, path: str = "") -> Iterator[str]:
    if not isinstance(values, dict):
        return
    if not isinstance(defaults, dict) or not defaults or path.rsplit(".", 1)[-1] in FREE_FORM:
        return  # a free-form map, or a scalar the chart lets users replace with a map
    for key, value in values.items():
        here = f"{path}.{key}" if path else str(key)
        if key not in defaults:
            yield here
            continue
        yield from unknown_keys(value, defaults[key], here)
