"""`mlplat preflight` as a pipeline calls it: exit 2 and a JSON document listing every finding when one blocks.
(A module of its own: the command starts the embedded AWS in this process, which the shared one would hold.)"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from mlplat.cli import main
from mlplat.emulator import LocalAws
from mlplat.emulator.extensions.servicequotas import set_ec2_quota
from tests.support.paths import ROOT

from .support import REGION


def test_a_blocking_finding_exits_2_with_every_finding_in_the_json(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # The account the command will find: the platform's saved emulator state, with a short G quota.
    with LocalAws(tmp_path / ".mlplat-local" / "mlplat" / "emulator", region=REGION):
        set_ec2_quota("123456789012", REGION, "L-DB2E81BA", 96)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["preflight", "--local", "--json", "--blueprint", str(ROOT / "blueprint.tfvars")])
    doc = json.loads(out.getvalue())
    assert (code, doc["ok"]) == (2, False), err.getvalue()[-2000:]
    assert doc["error"].splitlines()[:2] == [
        "preflight found what would make the deploy fail; nothing was changed:",
        "BLOCK quota L-DB2E81BA: Running On-Demand G and VT instances: 96 vCPUs for 1536 (nodepools.gpu.max_cpu = "
        "1536): below the pools' limit"]
    assert doc["preflight"]["counts"] == {"ok": 9, "warn": 1, "block": 1}
    assert "Traceback" not in err.getvalue()
