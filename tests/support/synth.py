"""Synthesize blueprints in-process (one jsii runtime per test session) and return the stacks as dicts."""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from mlplat.blueprint import Blueprint, parse_text
from mlplat.settings import Settings
from tests.support import hcl
from tests.support.paths import ROOT

# The canonical test blueprint: the shipped default; tests express everything else as deltas over it.
CANONICAL_TEXT = (ROOT / "blueprint.tfvars").read_text()


@dataclass(frozen=True)
class Synth:
    blueprint: Blueprint
    aws: dict[str, Any]
    kubernetes: dict[str, Any]
    outdir: Path

    def resources(self, stack: str, rtype: str) -> dict[str, Any]:
        return getattr(self, stack).get("resource", {}).get(rtype, {})

    def releases(self) -> dict[str, dict[str, Any]]:
        """helm_release resources keyed by release name."""
        return {r["name"]: r for r in self.resources("kubernetes", "helm_release").values()}

    def values(self, release: str) -> dict[str, Any]:
        """The Helm values of a release, with terraform's template escapes undone."""
        text = self.releases()[release]["values"][0]
        return yaml.safe_load(text.replace("$${", "${").replace("%%{", "%{"))

    def objects(self, release: str) -> list[dict[str, Any]]:
        return self.values(release)["objects"]


def blueprint_text(delta: Mapping[str, Any] | None = None) -> str:
    """The canonical blueprint with `delta`'s keys replacing its own (a key set twice would be an error)."""
    if not delta:
        return CANONICAL_TEXT
    import hcl2
    from hcl2 import SerializationOptions

    canonical = hcl2.loads(CANONICAL_TEXT, serialization_options=SerializationOptions(strip_string_quotes=True,
                                                                                         with_comments=False))
    kept = {k: v for k, v in canonical.items() if k not in delta}
    return "# the canonical blueprint\n" + hcl.render(kept) + "# test delta\n" + hcl.render(delta)


@functools.lru_cache(maxsize=None)
def _synth_cached(text: str, endpoint: str | None) -> Synth:
    from stacks.app import add_stacks, new_app

    bp = parse_text(text, "test.tfvars")
    outdir = Path(tempfile.mkdtemp(prefix="mlplat-synth-"))
    settings = Settings(outdir=outdir, state_dir=outdir / "state", aws_endpoint_url=endpoint)
    app = new_app(settings)
    stacks = add_stacks(app, bp, settings)
    app.synth()
    load = lambda stack: json.loads((outdir / "stacks" / stack.node.id / "cdk.tf.json").read_text())  # noqa: E731
    return Synth(blueprint=bp, aws=load(stacks.aws), kubernetes=load(stacks.kubernetes), outdir=outdir)


def synth(delta: Mapping[str, Any] | None = None, *, text: str | None = None, endpoint: str | None = None) -> Synth:
    """Synthesize the canonical blueprint plus `delta` (later keys win), or `text` verbatim."""
    source = text if text is not None else blueprint_text(delta)
    return _synth_cached(source, endpoint)
