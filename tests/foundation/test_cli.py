"""The CLI as pipelines call it: exit codes, --json documents, init."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

from mlplat.blueprint import load
from mlplat.cli import COMMANDS, main
from tests.support.paths import ROOT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_commands_are_registered_once():
    assert [c.name for c in COMMANDS] == ["init", "validate", "synth", "plan", "deploy", "destroy", "outputs"]


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "prod.tfvars"
    code, out, _ = run("init", "--blueprint", str(target), "--name", "ml-prod", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "command": "init", "blueprint": str(target), "name": "ml-prod"}
    assert load(target).name == "ml-prod"
    code, out, err = run("init", "--blueprint", str(target))
    assert code == 2 and err == f"error: {target} already exists; pass --force to overwrite it\n"


def test_init_rejects_a_bad_name_without_writing(tmp_path):
    target = tmp_path / "x.tfvars"
    code, _, err = run("init", "--blueprint", str(target), "--name", "Bad_Name")
    assert code == 2 and "name: expected 3-32 lowercase letters" in err and not target.exists()


def test_synth_json_lists_stacks_and_offline_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    monkeypatch.setenv("MLPLAT_STATE_DIR", str(tmp_path / "state"))
    code, out, err = run("synth", "--json", "--blueprint", str(ROOT / "blueprint.tfvars"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True and sorted(doc["stacks"]) == ["mlplat-aws", "mlplat-kubernetes"]
    assert doc["kubernetes_checks"]["problems"] == [] and doc["kubernetes_checks"]["objects"] > 0
    assert (tmp_path / "out" / "stacks" / "mlplat-aws" / "cdk.tf.json").is_file()


def test_errors_in_json_mode_are_a_json_document_too(tmp_path):
    bad = tmp_path / "bad.tfvars"
    bad.write_text("enable_efs = 1\n")
    code, out, err = run("validate", "--blueprint-only", "--json", "--blueprint", str(bad))
    assert code == 2
    assert json.loads(out) == {"ok": False, "command": "validate",
                               "error": f"{bad}:1: enable_efs: expected true or false, got 1"}


def test_unknown_command_and_missing_confirmation_exit_2(tmp_path):
    code, _, _ = run("launch")
    assert code == 2


def test_deploy_without_a_terminal_or_auto_approve_is_refused():
    from mlplat.cli.base import confirm
    from mlplat.errors import MlplatError

    try:
        confirm("apply 3 changes to mlplat-aws?", auto_approve=False)
    except MlplatError as exc:
        assert exc.exit_code == 2
        assert str(exc) == ("apply 3 changes to mlplat-aws? needs confirmation and stdin is not a terminal: "
                            "pass --auto-approve")
    else:
        raise AssertionError("confirm() accepted a non-interactive run without --auto-approve")


def test_outputs_are_shown_one_per_line_and_long_values_shortened():
    from mlplat.cli.outputs import render

    text = render({"outputs": {"mlplat-aws": {"cluster_name": "mlplat", "ca": "x" * 500}}})
    assert text.splitlines() == ["mlplat-aws:", "  ca            " + "x" * 71 + "…", "  cluster_name  mlplat"]
