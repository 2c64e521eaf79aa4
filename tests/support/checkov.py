"""checkov on synthesized stacks: cdktn's Terraform JSON normalised for checkov's `terraform_json` parser, one checkov
run (it takes seconds to start) over several stacks, and the results per stack as comparable lists.

checkov runs from its own virtualenv, .venv-checkov (`make checkov`, a prerequisite of `make test`): its pins conflict
with this project's (see the `checkov` dependency group in pyproject.toml, the one place its version is pinned).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from tests.support.paths import ROOT

CONFIG = ROOT / ".checkov.yaml"
VENV = ROOT / ".venv-checkov"
INSTALL_HINT = ("run `make checkov` (`make test` does), which installs the version pinned in pyproject.toml's "
                "`checkov` dependency group into .venv-checkov, or set MLPLAT_CHECKOV to a checkov executable of that "
                "version")


def pinned_version() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (requirement,) = pyproject["dependency-groups"]["checkov"]
    name, _, version = requirement.partition("==")
    assert name == "checkov" and version, f"expected 'checkov==X.Y.Z' in pyproject.toml, got {requirement!r}"
    return version


def executable() -> Path:
    path = Path(os.environ.get("MLPLAT_CHECKOV") or VENV / "bin" / "checkov")
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise AssertionError(f"checkov is missing ({path} is not an executable): {INSTALL_HINT}")
    return path


def skip_list() -> list[str]:
    return list(yaml.safe_load(CONFIG.read_text()).get("skip-check") or [])


def _strip_comments(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_comments(v) for k, v in node.items() if k != "//"}
    if isinstance(node, list):
        return [_strip_comments(v) for v in node]
    return node


def normalise(doc: Mapping[str, Any]) -> dict[str, Any]:
    """cdktn's Terraform JSON in the shape checkov's terraform_json parser reads.

    - `terraform` dropped: the parser treats each key of a top-level block as a block of its own, and the scalar
      `required_version` makes it reject the whole file (a parsing error, no checks at all). It holds no resources.
    - `//` keys (cdktn's construct metadata and stack outputs) dropped at every level,
    - `ephemeral` blocks dropped (checkov has no checks for them; references to them stay opaque strings),
    - each provider's list form (`"aws": [{...}]`) turned into the object form when it has one configuration.
    checkov 3.3.30 tolerates the last three; they are removed anyway so the results depend on resources alone.
    """
    out = _strip_comments(dict(doc))
    out.pop("terraform", None)
    out.pop("ephemeral", None)
    if "provider" in out:
        out["provider"] = {name: conf[0] if isinstance(conf, list) and len(conf) == 1 else conf
                           for name, conf in out["provider"].items()}
    return out


@dataclass(frozen=True)
class Result:
    failed: list[str]  # "CHECK_ID address (construct path): check name", sorted
    passed: dict[str, list[str]]  # check ID -> addresses

    def __repr__(self) -> str:  # pytest prints fixture values: keep them to a line
        return f"Result({len(self.failed)} failed, {sum(map(len, self.passed.values()))} passed)"


def _addresses(doc: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """checkov names a resource `resource.<name>` in its Python checks and `<type>.<name>` in its graph checks; map both
    to the terraform address, and the address to the construct path cdktn records (to find the code)."""
    address, path = {}, {}
    for block, prefix in (("resource", ""), ("data", "data.")):
        for rtype, items in (doc.get(block) or {}).items():
            for name, conf in items.items():
                full = f"{prefix}{rtype}.{name}"
                address[f"{block}.{name}"] = address[f"{prefix}{rtype}.{name}"] = full
                meta = (conf.get("//") or {}).get("metadata", {}) if isinstance(conf, dict) else {}
                if "path" in meta:
                    path[full] = meta["path"].split("/", 1)[-1]
    return address, path


def scan(stacks: Mapping[str, Mapping[str, Any]]) -> dict[str, Result]:
    """Run checkov once over `stacks` (key -> synthesized Terraform JSON); the results by key."""
    exe = executable()
    with tempfile.TemporaryDirectory(prefix="mlplat-checkov-") as tmp:
        files = []
        for key, doc in stacks.items():
            file = Path(tmp) / f"{key}.tf.json"
            file.write_text(json.dumps(normalise(doc), indent=2))
            files += ["-f", file.name]
        cmd = [str(exe), *files, "--framework", "terraform_json", "--output", "json",
               "--config-file", str(CONFIG)]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    # 0: no failed check, 1: some failed; anything else is checkov itself failing.
    try:
        reports = json.loads(proc.stdout) if proc.returncode in (0, 1) else None
    except json.JSONDecodeError:
        reports = None
    if reports is None:
        raise AssertionError(f"checkov exited {proc.returncode} without a JSON report: {' '.join(cmd)}\n"
                             f"{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}")
    reports = reports if isinstance(reports, list) else [reports]
    assert [r.get("check_type") for r in reports] == ["terraform_json"], f"unexpected reports: {reports!r:.2000}"
    report = reports[0]
    summary = report["summary"]
    assert summary["checkov_version"] == pinned_version(), (
        f"checkov {summary['checkov_version']} ran, pyproject.toml pins {pinned_version()}: {INSTALL_HINT}")
    assert summary["parsing_errors"] == 0, (
        f"checkov could not parse {report['results'].get('parsing_errors')}: extend tests.support.checkov.normalise")

    results: dict[str, Result] = {}
    for key, doc in stacks.items():
        address, path = _addresses(doc)

        def records(kind: str) -> list[dict[str, Any]]:
            return [r for r in report["results"].get(kind, []) if Path(r["file_path"]).name == f"{key}.tf.json"]

        def where(record: dict[str, Any]) -> str:
            return address.get(record["resource"], record["resource"])

        failed = sorted({f"{r['check_id']} {where(r)} ({path.get(where(r), '?')}): {r['check_name']}"
                         for r in records("failed_checks")})
        passed: dict[str, list[str]] = {}
        for r in records("passed_checks"):
            passed.setdefault(r["check_id"], []).append(where(r))
        if not failed and not passed:
            raise AssertionError(f"checkov reported no result for {key}: {summary}")
        results[key] = Result(failed=failed, passed={k: sorted(v) for k, v in passed.items()})
    return results
