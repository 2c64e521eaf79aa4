"""One registry add-on installed as a pinned Helm release."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cdktn import ITerraformDependable
from cdktn_provider_helm.release import Release
from constructs import Construct

from mlplat.addons import AddOn, render_values


class AddonRelease(Construct):
    def __init__(self, scope: Construct, id: str, *, addon: AddOn, values: Mapping[str, Any], chart_path: str | None,
                 depends_on: Sequence[ITerraformDependable] = ()) -> None:
        super().__init__(scope, id)
        self.addon = addon
        self.release = Release(
            self, "release", name=addon.name, namespace=addon.namespace, create_namespace=True,
            chart=chart_path or addon.chart_name, repository=addon.repository,
            version=addon.chart_version, values=[render_values(values)],
            # Roll back a failed upgrade instead of leaving a half-applied release.
            atomic=True, cleanup_on_fail=True, wait=True, timeout=addon.timeout_seconds, max_history=5,
            skip_crds=addon.skip_crds or None,
            depends_on=list(depends_on) or None,
        )
