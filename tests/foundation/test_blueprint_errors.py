"""Malformed blueprints: each exits 2 through the CLI with exactly one line `file:line: key: message`, no traceback."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from mlplat.cli import main

# (name, blueprint text, the exact error message after "<file>:")
CASES = [
    ("unknown key", 'nme = "demo"\n', "1: nme: unknown key; did you mean 'name'?"),
    ("unknown toggle", 'region = "us-west-2"\nenable_argcd = true\n', "2: enable_argcd: unknown key; did you mean 'enable_argocd'?"),
    # JARK keys mlplat does not honour say why, instead of a did-you-mean towards an unrelated key.
    ("jark v1 training operator", "enable_kubeflow_training_operator = true\n",
     "1: enable_kubeflow_training_operator: JARK's Kubeflow training operator v1, which mlplat does not offer: v1.9 is "
     "the last v1 line, maintenance-only, and its MPIJob v1 CRD takes the name the MPI operator's v2beta1 needs; "
     "remove it"),
    ("workload secret without its name", 'workload_secrets = {\n  hf-token = { key = "token" }\n}\n',
     "2: workload_secrets.hf-token.secret: required key is missing: the name of the Secrets Manager secret to copy"),
    ("workload secret into another namespace",
     'workload_secrets = {\n  hf-token = {\n    secret     = "ml/hf-token"\n    namespaces = ["team-a"]\n  }\n}\n',
     "4: workload_secrets.hf-token.namespaces[0]: expected one of workload_namespaces (ml-workloads), got 'team-a'; "
     "add it to workload_namespaces or remove it here"),
    ("s3 access of another namespace", 'workload_s3_access = {\n  team-a = { read_buckets = ["datasets-x"] }\n}\n',
     "2: workload_s3_access.team-a: expected one of workload_namespaces (ml-workloads), got 'team-a'; add it there"),
    ("s3 prefix without its slash",
     'workload_s3_access = {\n  ml-workloads = { write_prefixes = ["s3://ml-artifacts/team-a"] }\n}\n',
     "2: workload_s3_access.ml-workloads.write_prefixes[0]: expected an S3 location such as "
     "'s3://ml-artifacts/team-a/' (ending with '/'), got 's3://ml-artifacts/team-a'"),
    ("jark key not offered", 'name = "demo"\nenable_mpi_operator = true\n',
     "2: enable_mpi_operator: JARK's MPI operator, which mlplat does not offer: it publishes kustomize manifests, "
     "not a Helm chart mlplat can pin, and Kubeflow Trainer v2 takes over its role (set enable_kubeflow_trainer = "
     "true: MPI programs run as TrainJobs on the deepspeed-gpu runtime); remove it"),
    ("mlops key renamed", "kserve_enabled = true\n",
     "1: kserve_enabled: MLOps on EKS's name for KServe; in mlplat that is enable_kserve (in RawDeployment mode, "
     "without Knative or Istio): use it instead of this key"),
    ("jupyterhub without efs", "enable_jupyterhub = true\nenable_efs = false\n",
     "1: enable_jupyterhub: users' home directories live on EFS: set enable_efs = true"),
    ("jupyterhub key without jupyterhub", 'jupyterhub_users = ["alice"]\n',
     "1: jupyterhub_users: has no effect without enable_jupyterhub = true; set it or remove this key"),
    ("wrong type", "name = 3\n", "1: name: expected a string, got 3; write it in quotes, \"3\""),
    ("bad name", 'name = "ML_Platform"\n',
     "1: name: expected 3-32 lowercase letters, digits and hyphens, starting with a letter, got 'ML_Platform'"),
    ("bool as string", 'enable_efs = "yes"\n', "1: enable_efs: expected true or false, got 'yes'"),
    ("bad region", 'region = "mars-1"\n', "1: region: expected an AWS region name such as 'us-west-2', got 'mars-1'"),
    ("unsupported eks version", 'eks_cluster_version = "1.25"\n',
     "1: eks_cluster_version: expected one of '1.32', '1.33', '1.34', '1.35', '1.36', got '1.25' (this mlplat "
     "release records no EKS support dates or pins for it)"),
    ("eks version past extended support", 'eks_cluster_version = "1.31"\n',
     "1: eks_cluster_version: EKS no longer creates or runs clusters on 1.31: its extended support ended on "
     "2026-11-26; use '1.36' (or one of '1.32', '1.33', '1.34', '1.35', '1.36')"),
    ("az count too high", "availability_zones_count = 9\n",
     "1: availability_zones_count: expected a number between 2 and 6, got 9"),
    ("neuron az not in the region", 'neuron_az = "us-west-2z"\nnodepools = { neuron = { enabled = true } }\n',
     "1: neuron_az: us-west-2 has no zone 'us-west-2z'; its zones are us-west-2a, us-west-2b, us-west-2c, us-west-2d"),
    ("zone id of another region", 'azs = ["usw2-az1", "use1-az2"]\n',
     "1: azs[1]: expected a zone ID of region 'us-west-2' (such as 'usw2-az1'), got 'use1-az2'"),
    ("efa az outside", 'azs = ["us-west-2a", "us-west-2c"]\ncuda_efa_az = "us-west-2b"\n'
     'nodepools = { gpu-efa = { enabled = true } }\n',
     "2: cuda_efa_az: expected one of the platform's availability zones (us-west-2a, us-west-2c), got 'us-west-2b'"),
    ("az without its pool", 'cuda_efa_az = "us-west-2b"\n',
     "1: cuda_efa_az: has no effect: no enabled pool is pinned by it (gpu-efa); enable one "
     "(nodepools.gpu-efa.enabled = true) or remove this key"),
    ("azs and count", 'azs = ["us-west-2a", "us-west-2b"]\navailability_zones_count = 3\n',
     "2: availability_zones_count: set either azs or availability_zones_count, not both"),
    ("az of other region", 'azs = ["us-west-2a", "us-east-1b"]\n',
     "1: azs[1]: expected an availability zone of region 'us-west-2', got 'us-east-1b'"),
    ("single az", 'azs = ["us-west-2a"]\n', "1: azs: expected at least 2 availability zones (EKS needs two), got 1"),
    ("vpc too small", 'vpc_cidr = "10.0.0.0/24"\n', "1: vpc_cidr: expected an IPv4 network from /16 to /20, got '10.0.0.0/24'"),
    ("vpc public", 'vpc_cidr = "8.8.0.0/16"\n', "1: vpc_cidr: expected a private (RFC 1918) range, got '8.8.0.0/16'"),
    ("vpc not a cidr", 'vpc_cidr = "10.1.0.1/16"\n',
     "1: vpc_cidr: expected an IPv4 network such as '10.1.0.0/16', got '10.1.0.1/16'"),
    ("bad public cidr", 'cluster_endpoint_public_access_cidrs = ["203.0.113.7/24"]\n',
     "1: cluster_endpoint_public_access_cidrs[0]: expected a CIDR such as '203.0.113.0/24', got '203.0.113.7/24'"),
    ("bad admin arn", 'admin_principal_arns = ["admin"]\n',
     "1: admin_principal_arns[0]: expected an IAM role or user ARN such as 'arn:aws:iam::123456789012:role/Admin', "
     "got 'admin'"),
    ("fsx key without fsx", "fsx_storage_capacity = 2400\n",
     "1: fsx_storage_capacity: has no effect without enable_fsx = true; set it or remove this key"),
    ("fsx capacity", "enable_fsx = true\nfsx_storage_capacity = 1300\n",
     "2: fsx_storage_capacity: expected 1200, 2400 or a multiple of 2400 (FSx for Lustre SSD sizes), got 1300"),
    ("fsx capacity too small", "fsx_storage_capacity = 600\n",
     "1: fsx_storage_capacity: expected a number between 1200 and 2400000, got 600"),
    ("fsx type", 'fsx_deployment_type = "PERSISTENT_1"\n',
     "1: fsx_deployment_type: expected one of 'PERSISTENT_2', 'SCRATCH_2', got 'PERSISTENT_1'; did you mean 'PERSISTENT_2'?"),
    ("fsx throughput", "fsx_throughput = 200\n", "1: fsx_throughput: expected one of 125, 250, 500, 1000, got 200"),
    ("scratch with throughput", 'enable_fsx = true\nfsx_deployment_type = "SCRATCH_2"\nfsx_throughput = 250\n',
     "3: fsx_throughput: SCRATCH_2 has a fixed throughput; remove fsx_throughput or use PERSISTENT_2"),
    ("fsx s3 path", 'fsx_s3_import_path = "bucket/prefix"\n',
     "1: fsx_s3_import_path: expected an S3 URL such as 's3://my-bucket/prefix', got 'bucket/prefix'"),
    ("system sizes", "system_node_min_size = 3\nsystem_node_desired_size = 2\n",
     "2: system_node_desired_size: expected system_node_min_size <= system_node_desired_size <= system_node_max_size, "
     "got 3 <= 2 <= 4"),
    ("duplicate list items", 'system_node_instance_types = ["m6i.large", "m6i.large"]\n',
     "1: system_node_instance_types: expected each item once, got duplicates 'm6i.large'"),
    ("reserved tag", 'tags = { "aws:owner" = "me" }\n', "1: tags.aws:owner: tag keys starting with 'aws:' are reserved by AWS"),
    ("tag value type", "tags = { team = 5 }\n", "1: tags.team: expected a string, got 5; write it in quotes, \"5\""),
    ("unquoted word", "region = us-west-2\n",
     "1: region: unquoted value us-west-2: write it in quotes, \"us-west-2\" (Terraform reads an unquoted word as a "
     "variable reference)"),
    ("duplicate key", 'name = "a-b"\nenable_fsx = true\nenable_fsx = false\n',
     "3: enable_fsx: set twice (first on line 2); each key may be set only once"),
    ("duplicate nested key", 'nodepools = {\n  gpu = {\n    max_cpu = 8\n    max_cpu = 16\n  }\n}\n',
     "4: nodepools.gpu.max_cpu: set twice (first on line 3); each key may be set only once"),
    ("unterminated string", 'name = "a-b"\nregion = "us-west-2\nenable_efs = true\n',
     "2: syntax: an unterminated string starts here; close it"),
    ("unclosed block", 'name = "a-b"\nnodepools = {\n  gpu = { enabled = true }\n\nenable_efs = true\n',
     "2: syntax: a `{` that is never closed starts here; close it"),
    ("template", 'name = "a-${x}"\n',
     "1: name: expected a literal string, got the template \"a-${x}\"; a blueprint's values are not evaluated"),
    ("instance type typo", 'system_node_instance_types = ["m7i.xlargee"]\n',
     "1: system_node_instance_types[0]: 'm7i.xlargee' is not an EC2 instance type; did you mean 'm7i.xlarge'?"),
    ("min above max", "system_node_min_size = 5\nsystem_node_max_size = 2\n",
     "2: system_node_max_size: expected system_node_min_size <= system_node_desired_size <= system_node_max_size, "
     "got 5 <= 2 <= 2"),
    ("bad addon values yaml", 'enable_mlflow = true\naddon_values = { mlflow = "broken.yaml" }\n',
     "2: addon_values.mlflow: {dir}/broken.yaml:3: not valid YAML (expected ',' or ']', but got ':'); fix the file"),
    ("expression", "name = var.name\n",
     "1: name: expected a literal value (a string); variables, functions and expressions are not evaluated in a "
     "blueprint, got '${var.name}'"),
    ("syntax", 'name = "demo"\nregion = = "us-west-2"\n',
     "2: syntax: not valid HCL near '='; expected `key = value` lines (see blueprints/ for examples)"),
    ("unknown pool", "nodepools = {\n  gpux = {}\n}\n", "2: nodepools.gpux: unknown node pool; did you mean 'gpu'?"),
    ("unknown pool key", "nodepools = {\n  gpu = {\n    max_gpus = 4\n  }\n}\n", "3: nodepools.gpu.max_gpus: unknown key; did you mean 'max_accelerators'?"),
    ("unknown addon values", 'addon_values = { karpenterr = "x.yaml" }\n',
     "1: addon_values.karpenterr: unknown add-on; did you mean 'karpenter'?"),
    ("missing values file", 'addon_values = { karpenter = "nope.yaml" }\n',
     "1: addon_values.karpenter: values file '{dir}/nope.yaml' not found"),
]


@pytest.fixture(autouse=True)
def support_calendar_date(monkeypatch):
    """Messages about EKS versions depend on the date; these are the ones of 2026-11-30."""
    monkeypatch.setenv("MLPLAT_TODAY", "2026-11-30")


def run_cli(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["validate", "--blueprint-only", "--blueprint", str(path)])
    return code, out.getvalue(), err.getvalue()


def test_there_are_at_least_twenty_kinds_of_malformed_blueprint():
    assert len({name for name, _, _ in CASES}) >= 20


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_malformed_blueprint_exits_2_with_file_line_key(tmp_path, name, text, expected):
    path = tmp_path / "bad.tfvars"
    path.write_text(text)
    (tmp_path / "broken.yaml").write_text("a: 1\nb: [1, 2\nc: 3\n")
    code, out, err = run_cli(path)
    assert code == 2
    assert err == f"error: {path}:{expected.replace('{dir}', str(tmp_path))}\n"
    assert "Traceback" not in err and out == ""


def test_every_problem_is_reported_in_line_order(tmp_path):
    path = tmp_path / "bad.tfvars"
    path.write_text('enable_fsx = "yes"\nnme = "x"\nfsx_storage_capacity = 1300\n')  # type errors stop first
    code, _, err = run_cli(path)
    assert code == 2
    assert err.splitlines() == [
        f"error: {path}:1: enable_fsx: expected true or false, got 'yes'",
        f"{path}:2: nme: unknown key; did you mean 'name'?",
    ]


def test_missing_file_says_how_to_create_one(tmp_path):
    code, _, err = run_cli(tmp_path / "absent.tfvars")
    assert code == 2
    assert err == f"error: {tmp_path / 'absent.tfvars'}:0: blueprint: file not found; create one with `mlplat init` or pass --blueprint PATH\n"


def test_a_file_that_sets_nothing_is_valid_with_a_warning(tmp_path):
    from mlplat.blueprint import load

    path = tmp_path / "empty.tfvars"
    path.write_text("# nothing set yet\n")
    [warning] = load(path).warnings()
    assert warning.endswith("blueprint: warning: the file sets no keys: this is a platform named 'mlplat' in "
                            "us-west-2 with every default (`mlplat init` writes a starter to edit)")
    path.write_text('name = "team-a"\n')
    assert load(path).warnings() == []
