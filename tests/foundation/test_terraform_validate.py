"""`terraform validate` with the real hashicorp/aws provider from the mirror (5.100 here) on the synthesized AWS
layer of every shipped blueprint and of the toggle combinations the stack branches on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.synth import synth
from tests.support.terraform import terraform

SHIPPED = sorted([ROOT / "blueprint.tfvars", *(ROOT / "blueprints").glob("*.tfvars")])
TOGGLES = {
    "storage-off": {"enable_efs": False, "enable_fsx": False},
    "fsx-scratch-external-bucket": {"fsx_deployment_type": "SCRATCH_2", "fsx_s3_import_path": "s3://datasets/x"},
    "per-az-nat-public-endpoint-admins": {"single_nat_gateway": False, "availability_zones_count": 3,
                                          "cluster_endpoint_public_access_cidrs": ["203.0.113.0/24"],
                                          "admin_principal_arns": ["arn:aws:iam::123456789012:role/Admin"]},
    "all-modules": {"enable_argocd": True, "enable_kueue": True, "enable_mlflow": True,
                    "enable_ai_ml_observability_stack": True},
}


def validate(stack_dir: Path, tmp_path: Path) -> None:
    # A copy: init writes a lock file and provider links, which must not leak into the shared synth output.
    work = tmp_path / stack_dir.name
    shutil.copytree(stack_dir, work)
    tf = terraform(tmp_path)
    tf.init(work, backend=False)
    tf.validate(work)  # raises with terraform's diagnostics


def test_shipped_blueprints_are_the_expected_set():
    assert [p.name for p in SHIPPED] == ["blueprint.tfvars", "everything-on.tfvars", "gpu-training.tfvars",
                                         "inference.tfvars", "neuron.tfvars"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_blueprint_aws_layer_validates(path, tmp_path):
    s = synth(text=path.read_text())
    validate(s.outdir / "stacks" / f"{s.blueprint.name}-aws", tmp_path)


@pytest.mark.parametrize("name", sorted(TOGGLES))
def test_toggle_combination_aws_layer_validates(name, tmp_path):
    s = synth(TOGGLES[name])
    validate(s.outdir / "stacks" / "mlplat-aws", tmp_path)
