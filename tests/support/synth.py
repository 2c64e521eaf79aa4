"""Synthesize blueprints in-process (one jsii runtime per test session) and return the stacks as dicts."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

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
    bp = parse_text(text, "test.tfvars")
    outdir = _shared_outdir(text, endpoint)
    if outdir is None:
        outdir = Path(tempfile.mkdtemp(prefix="mlplat-synth-"))
        atexit.register(shutil.rmtree, outdir, ignore_errors=True)  # the process's synths live as long as it does
        stack_ids = _synthesize(bp, outdir, endpoint)
    else:
        with _locked(outdir.with_suffix(".lock")):
            done = outdir / "stacks.json"
            if done.is_file():
                stack_ids = json.loads(done.read_text())
            else:
                stack_ids = _synthesize(bp, outdir, endpoint)
                done.write_text(json.dumps(stack_ids))
    load = lambda stack_id: json.loads((outdir / "stacks" / stack_id / "cdk.tf.json").read_text())  # noqa: E731
    return Synth(blueprint=bp, aws=load(stack_ids[0]), kubernetes=load(stack_ids[1]), outdir=outdir)


def _synthesize(bp: Blueprint, outdir: Path, endpoint: str | None) -> list[str]:
    from stacks.app import add_stacks, new_app

    settings = Settings(outdir=outdir, state_dir=outdir / "state", aws_endpoint_url=endpoint)
    app = new_app(settings)
    stacks = add_stacks(app, bp, settings)
    app.synth()
    return [stacks.aws.node.id, stacks.kubernetes.node.id]


def _shared_outdir(text: str, endpoint: str | None) -> Path | None:
    """Under pytest-xdist, one directory per blueprint for the whole run, shared by the workers: the first to need a
    blueprint synthesizes it, the others wait for it and read it (the code cannot change within a run; the run's id
    is in the path). Outside xdist: None, and each process synthesizes what it needs once."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return None
    key = hashlib.sha256(f"{text}\0{endpoint}".encode()).hexdigest()[:20]
    return shared_synth_root(run) / key


def shared_synth_root(run: str) -> Path:
    """Where the workers of xdist run `run` keep their synthesized blueprints (removed when the run ends)."""
    return Path(tempfile.gettempdir()) / "mlplat-test-cache" / f"synth-{run}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def synth(delta: Mapping[str, Any] | None = None, *, text: str | None = None, endpoint: str | None = None) -> Synth:
    """Synthesize the canonical blueprint plus `delta` (later keys win), or `text` verbatim."""
    source = text if text is not None else blueprint_text(delta)
    return _synth_cached(source, endpoint)
