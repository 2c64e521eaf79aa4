"""End to end on the embedded AWS, through the CLI as a pipeline would call it: deploy, a second plan shows no
changes, destroy leaves no resources in the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.paths import ROOT
from tests.support.synth import blueprint_text
from tests.support.terraform import mirror

pytestmark = pytest.mark.e2e


def mlplat(args: list[str], cwd, blueprint=ROOT / "blueprint.tfvars") -> dict:
    env = {**os.environ, "MLPLAT_PROVIDER_MIRROR": str(mirror()), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([sys.executable, "-m", "mlplat", *args, "--local", "--json",
                           "--blueprint", str(blueprint)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["ok"], result.get("error") or proc.stderr[-3000:]
    return result


def test_deploy_replan_destroy_on_the_embedded_aws(tmp_path):
    deployed = mlplat(["deploy", "--auto-approve"], tmp_path)
    created = deployed["stacks"]["mlplat-aws"]
    assert created["add"] > 60 and created["change"] == 0 and created["remove"] == 0
    outputs = deployed["outputs"]["mlplat-aws"]
    assert outputs["cluster_name"] == "mlplat"
    assert outputs["karpenter_queue_name"] == "mlplat-karpenter"
    assert outputs["efs_file_system_id"].startswith("fs-") and outputs["fsx_file_system_id"].startswith("fs-")
    assert deployed["kubernetes"]["applied"] is False
    assert deployed["kubernetes"]["checks"]["problems"] == []

    replanned = mlplat(["plan"], tmp_path)
    assert replanned["stacks"] == {"mlplat-aws": {"add": 0, "change": 0, "remove": 0}}
    assert replanned["changes"] == 0

    assert mlplat(["outputs"], tmp_path)["outputs"]["mlplat-aws"] == outputs

    destroyed = mlplat(["destroy", "--auto-approve"], tmp_path)
    assert destroyed["stacks"]["mlplat-aws"]["remove"] == created["add"]
    assert destroyed["emulator_resources_left"] == {}


def test_module_aws_parts_deploy_replan_and_destroy_cleanly(tmp_path):
    """The modules' AWS side (Aurora, the MLflow bucket and role, generated secrets, External Secrets' reader role)."""
    blueprint = tmp_path / "modules.tfvars"
    blueprint.write_text(blueprint_text({"enable_argocd": True, "enable_mlflow": True, "enable_kueue": True,
                                         "enable_ai_ml_observability_stack": True,
                                         "mlflow_db_deletion_protection": False, "enable_fsx": False}))
    deployed = mlplat(["deploy", "--auto-approve"], tmp_path, blueprint)
    outputs = deployed["outputs"]["mlplat-aws"]
    assert outputs["mlflow_db_endpoint"] and outputs["mlflow_artifact_bucket"].startswith("mlplat-mlflow-")
    assert {k for k in outputs if k.startswith("secret_arn_")} == {
        "secret_arn_grafana_admin", "secret_arn_opensearch_admin", "secret_arn_argocd_admin",
        "secret_arn_mlflow_admin", "secret_arn_mlflow_db", "secret_arn_mlflow_flask"}
    assert mlplat(["plan"], tmp_path, blueprint)["changes"] == 0
    destroyed = mlplat(["destroy", "--auto-approve"], tmp_path, blueprint)
    assert destroyed["stacks"]["mlplat-aws"]["remove"] == deployed["stacks"]["mlplat-aws"]["add"]
    assert destroyed["emulator_resources_left"] == {}
