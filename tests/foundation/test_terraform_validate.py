"""`terraform validate` with the real hashicorp/aws provider from the mirror (5.100 here) on the synthesized AWS
layer of every shipped blueprint and of the toggle combinations the stack branches on.

All of them are validated by one terraform process, each as a child module of a throwaway root: terraform spends
about four seconds loading the AWS provider's schema per run, and this way pays it once instead of once per variant.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.modules.blueprints import FULL
from tests.observability_stack.blueprints import RECEIVERS
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
    "modules-full": FULL,  # two database instances, internal load balancer, custom queues
    "alert-receivers": RECEIVERS,  # External Secrets reads the user's secrets; Alertmanager publishes to SNS
    # External Secrets' role with the user's secrets only (no module generates one)
    "workload-secrets": {"workload_secrets": {"hf-token": {"secret": "ml/hf-token"}},
                         "workload_s3_access": {"ml-workloads": {"read_buckets": ["datasets-x"],
                                                                 "write_prefixes": ["s3://ml-artifacts/team-a/"]}}},
}
# A root-only block in a child module is ignored with this warning, which says nothing about the stack itself.
CHILD_MODULE_WARNING = "Backend configuration ignored"


def aws_layers() -> dict[str, Path]:
    layers = {}
    for path in SHIPPED:
        s = synth(text=path.read_text())
        layers[f"shipped-{path.stem}"] = s.outdir / "stacks" / f"{s.blueprint.name}-aws"
    for name, delta in TOGGLES.items():
        layers[f"toggles-{name}"] = synth(delta).outdir / "stacks" / "mlplat-aws"
    return layers


def validate_together(layers: dict[str, Path], work: Path) -> dict:
    """Copy each stack under `work` (init must not write into the shared synth output) and validate them as modules
    of one root; returns terraform's JSON report."""
    root = work / "root"
    root.mkdir()
    required = None
    for name, stack_dir in layers.items():
        shutil.copytree(stack_dir, root / name)
        terraform_block = json.loads((stack_dir / "cdk.tf.json").read_text())["terraform"]
        required = required or terraform_block["required_providers"]
        assert terraform_block["required_providers"] == required, f"{name} pins other providers than the rest"
    (root / "main.tf.json").write_text(json.dumps({
        "terraform": {"required_providers": required},
        "module": {name: {"source": f"./{name}"} for name in layers}}))
    tf = terraform(work)
    tf.init(root, backend=False)
    proc = subprocess.run([tf.binary, "validate", "-json", "-no-color"], cwd=root, env=tf.env, capture_output=True,
                          text=True, timeout=600)
    return json.loads(proc.stdout)


def problems(report: dict) -> list[str]:
    return [f"{d['severity']}: {d.get('range', {}).get('filename', '?')}: {d['summary']}: {d.get('detail', '')}"
            for d in report["diagnostics"] if d["summary"] != CHILD_MODULE_WARNING]


def test_shipped_blueprints_are_the_expected_set():
    assert [p.name for p in SHIPPED] == ["blueprint.tfvars", "everything-on.tfvars", "gpu-training.tfvars",
                                         "inference.tfvars", "neuron.tfvars"]


def broken_copy(stack_dir: Path, work: Path) -> Path:
    """A copy of `stack_dir` whose VPC has an argument the AWS provider does not know."""
    broken = work / "broken-src"
    shutil.copytree(stack_dir, broken)
    config = json.loads((broken / "cdk.tf.json").read_text())
    vpc = next(iter(config["resource"]["aws_vpc"].values()))
    vpc["no_such_argument"] = True
    (broken / "cdk.tf.json").write_text(json.dumps(config))
    return broken


def test_every_shipped_blueprint_and_toggle_combination_validates(tmp_path):
    """One terraform run validates every variant and a deliberately broken copy of one: the broken one must be the
    only problem reported, by name, so the joint validation is shown not to be blind to a child module."""
    layers = aws_layers()
    work = tmp_path / "work"
    work.mkdir()
    report = validate_together({**layers, "broken": broken_copy(layers["toggles-storage-off"], tmp_path)}, work)
    assert report["valid"] is False
    assert [p.split(": ")[1:3] for p in problems(report)] == [["broken/cdk.tf.json", "Extraneous JSON object property"]]
    # Each child module was read: its (ignored) backend block is reported once per module.
    warned = {d["range"]["filename"].split("/")[0] for d in report["diagnostics"]
              if d["summary"] == CHILD_MODULE_WARNING}
    assert warned == {*layers, "broken"}


@pytest.mark.parametrize("name", sorted(TOGGLES))
def test_toggle_combination_is_its_own_stack(name):
    """Every toggle combination changes the AWS layer (a combination that synthesized the default would be a
    variant validated for nothing)."""
    assert synth(TOGGLES[name]).aws != synth().aws
