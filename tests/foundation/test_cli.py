"""The CLI as pipelines call it: exit codes, --json documents, init."""

from __future__ import annotations

import io
import json
import os
import shutil
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
    assert [c.name for c in COMMANDS] == ["init", "validate", "cost", "bootstrap", "preflight", "synth", "plan",
                                          "deploy", "destroy", "outputs", "status", "kubeconfig", "open", "pipeline",
                                          "doctor"]


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "prod.tfvars"
    code, out, _ = run("init", "--blueprint", str(target), "--name", "ml-prod", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "command": "init", "blueprint": str(target), "name": "ml-prod"}
    assert load(target).name == "ml-prod"
    code, out, err = run("init", "--blueprint", str(target))
    assert code == 2 and err == f"error: {target} already exists; pass --force to overwrite it\n"


def test_init_rejects_a_bad_name_naming_the_flag_without_writing(tmp_path):
    target = tmp_path / "x.tfvars"
    code, _, err = run("init", "--blueprint", str(target), "--name", "Bad_Name")
    assert (code, err) == (2, "error: --name: expected 3-32 lowercase letters, digits and hyphens, starting with a "
                              "letter, got 'Bad_Name'\n")
    assert not target.exists()


def test_init_creates_missing_folders_and_refuses_a_directory(tmp_path):
    target = tmp_path / "envs" / "prod" / "prod.tfvars"
    code, _, err = run("init", "--blueprint", str(target), "--name", "ml-prod", "--region", "eu-west-1")
    assert code == 0, err
    assert (load(target).name, load(target).region) == ("ml-prod", "eu-west-1")
    code, _, err = run("init", "--blueprint", str(tmp_path), "--name", "ml-prod", "--force")
    assert (code, err) == (2, f"error: {tmp_path} is a directory; pass a file path such as "
                              f"{tmp_path / 'blueprint.tfvars'}\n")


def test_init_writes_a_commented_starter_for_a_real_account(tmp_path):
    target = tmp_path / "team.tfvars"
    assert run("init", "--blueprint", str(target), "--name", "team-a")[0] == 0
    text = target.read_text()
    bp = load(target)
    # The keys a real deploy needs are there to uncomment; FSx (billed by capacity) is off; no demo comment.
    for key in ("# admin_principal_arns", "# cluster_endpoint_public_access_cidrs", "# azs", "# enable_mlflow",
                "# enable_kueue", "# enable_ai_ml_observability_stack", "# enable_argocd"):
        assert key in text, key
    assert (bp.enable_fsx, bp.eks_cluster_version) == (False, "1.36")
    assert "embedded local AWS" not in text


def test_init_from_a_shipped_blueprint_renames_it(tmp_path):
    target = tmp_path / "train.tfvars"
    code, _, err = run("init", "--blueprint", str(target), "--name", "train-a",
                       "--from", str(ROOT / "blueprints" / "gpu-training.tfvars"))
    assert code == 0, err
    bp = load(target)
    assert (bp.name, [p.name for p in bp.enabled_pools]) == ("train-a", ["general", "gpu", "gpu-efa"])


def test_version_bare_command_and_global_flags(tmp_path):
    from mlplat.cli import version

    code, out, _ = run("--version")
    assert (code, out) == (0, f"mlplat {version()}\n")
    code, out, _ = run()
    assert code == 0 and out.startswith("usage: mlplat") and "exit codes:" in out
    bad = tmp_path / "bad.tfvars"
    bad.write_text("enable_efs = 1\n")
    # Options before the command work as after it.
    code, out, err = run("--json", "validate", "--blueprint-only", "--blueprint", str(bad))
    assert code == 2 and json.loads(out)["error"] == f"{bad}:1: enable_efs: expected true or false, got 1"


def test_argument_errors_are_json_in_json_mode():
    code, out, err = run("plan", "--json", "--bogus")
    assert code == 2
    assert json.loads(out) == {"ok": False, "command": None, "error": "mlplat: unrecognized arguments: --bogus"}
    assert err == "error: mlplat: unrecognized arguments: --bogus\n(see mlplat --help)\n"


def test_synth_without_node_is_one_line_not_a_traceback(tmp_path):
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([sys.executable, "-m", "mlplat", "synth", "--blueprint", str(ROOT / "blueprint.tfvars")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "error: Node.js not found on PATH: synthesizing runs the cdktn (jsii) runtime on Node.js >= 20; install it "
        "(`make run` puts Node 22 into .tools/bin), then run again")
    assert "Traceback" not in proc.stderr


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


def test_outputs_are_shown_one_per_line_at_full_length():
    from mlplat.cli.outputs import render

    text = render({"outputs": {"mlplat-aws": {"cluster_name": "mlplat", "ca": "x" * 500}}})
    assert text.splitlines() == ["mlplat-aws:", "  ca            " + "x" * 500, "  cluster_name  mlplat"]


def test_outputs_leave_out_cdktns_cross_stack_plumbing():
    from mlplat.runner import platform_outputs

    assert platform_outputs({"cluster_name": {"value": "mlplat", "type": "string"},
                             "cross-stack-output-aws_eks_clustereksclusterC1A2B3endpoint": {"value": "https://x"}}
                            ) == {"cluster_name": "mlplat"}


def test_doctor_checks_the_terraform_the_commands_run(tmp_path):
    """TERRAFORM_BINARY as the runner reads it: a missing one fails with the fix, an old one names the version."""
    from mlplat.cli.doctor import check_terraform

    missing = check_terraform({"TERRAFORM_BINARY": "no-such-terraform", "PATH": os.environ["PATH"]})
    assert (missing.ok, missing.detail) == (False, "terraform not found (looked for 'no-such-terraform' on PATH)")
    assert missing.fix.startswith("install terraform >= 1.11")
    old = tmp_path / "old-terraform"
    old.write_text("#!/bin/sh\necho 'Terraform v1.10.5'\n")
    old.chmod(0o755)
    checked = check_terraform({"TERRAFORM_BINARY": str(old)})
    assert (checked.ok, checked.detail) == (False, f"{old} 1.10.5")
    assert check_terraform({"TERRAFORM_BINARY": shutil.which("terraform") or "terraform"}).ok
