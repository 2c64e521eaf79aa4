"""The modules' blueprint keys: each wrong value fails with one exact `file:line: key: message` (exit code 2), and
each key does something."""

from __future__ import annotations

import pytest

from mlplat.blueprint import parse_text
from mlplat.errors import BlueprintError

REPO = 'argocd_manifests_repo_url = "https://github.com/example/mlplat.git"\n' \
       'argocd_manifests_repo_revision = "v0.1.0"\n'
QUEUES = """enable_kueue = true
kueue_queues = {
  training = {
    nodepools = {
      gpu = { accelerators = 48 }
    }
  }
  serving = {
    nodepools = {
      gpu = { cpu = 0, memory_gib = 0, accelerators = 17 }
    }
  }
}
"""

CASES = [
    ("unknown delivery mode", 'addons_delivery = "flux"\n',
     "1: addons_delivery: expected one of 'helm', 'argocd', got 'flux'"),
    ("argocd delivery without argocd", 'addons_delivery = "argocd"\n' + REPO,
     "1: addons_delivery: 'argocd' delivers add-ons through Argo CD: set enable_argocd = true or use "
     "addons_delivery = \"helm\""),
    ("argocd delivery without a repository", 'enable_argocd = true\naddons_delivery = "argocd"\n'
                                             'argocd_manifests_repo_revision = "v0.1.0"\n',
     "2: addons_delivery: 'argocd' needs argocd_manifests_repo_url: the Git repository holding "
     "charts/mlplat-manifests (this project or a mirror of it)"),
    ("argocd delivery without a revision", 'enable_argocd = true\naddons_delivery = "argocd"\n'
                                           'argocd_manifests_repo_url = "https://github.com/example/mlplat.git"\n',
     "2: addons_delivery: 'argocd' needs argocd_manifests_repo_revision: the tag or commit of "
     "argocd_manifests_repo_url to render"),
    ("repository in helm mode", 'enable_argocd = true\n' + REPO,
     "2: argocd_manifests_repo_url: has no effect unless addons_delivery = \"argocd\"; set it or remove this key\n"
     "bp.tfvars:3: argocd_manifests_repo_revision: has no effect unless addons_delivery = \"argocd\"; set it or "
     "remove this key"),
    ("repository not a git url", 'argocd_manifests_repo_url = "github.com/example/mlplat"\n',
     "1: argocd_manifests_repo_url: expected a Git URL such as 'https://github.com/example/mlplat.git', "
     "got 'github.com/example/mlplat'"),
    ("chart path leaves the repository", 'enable_argocd = true\naddons_delivery = "argocd"\n' + REPO +
     'argocd_manifests_repo_path = "charts/../../etc"\n',
     "5: argocd_manifests_repo_path: expected a relative path such as 'charts/mlplat-manifests', got "
     "'charts/../../etc'"),
    ("load balancer without argocd", "argocd_internal_load_balancer = true\n",
     "1: argocd_internal_load_balancer: has no effect without enable_argocd = true; set it or remove this key"),
    ("source cidrs without load balancer", 'enable_argocd = true\nargocd_load_balancer_source_cidrs = ["10.0.0.0/8"]\n',
     "2: argocd_load_balancer_source_cidrs: has no effect without argocd_internal_load_balancer = true; set it or "
     "remove this key"),
    ("bad source cidr", 'enable_argocd = true\nargocd_internal_load_balancer = true\n'
                        'argocd_load_balancer_source_cidrs = ["10.0.0.1/8"]\n',
     "3: argocd_load_balancer_source_cidrs[0]: expected a CIDR such as '10.0.0.0/8', got '10.0.0.1/8'"),
    ("queue on a disabled pool", 'enable_kueue = true\nkueue_queues = {\n  training = {\n    nodepools = {\n'
                                 '      gpu-efa = {}\n    }\n  }\n}\n',
     "5: kueue_queues.training.nodepools.gpu-efa: the gpu-efa pool is not enabled; enable it "
     "(nodepools.gpu-efa.enabled = true) or remove it from this queue"),
    ("queue on an unknown pool", 'enable_kueue = true\nkueue_queues = {\n  training = {\n    nodepools = {\n'
                                 '      gpux = {}\n    }\n  }\n}\n',
     "5: kueue_queues.training.nodepools.gpux: unknown node pool; did you mean 'gpu'?"),
    ("queue quotas exceed the pool", QUEUES,
     "2: kueue_queues: the queues' quotas on the gpu pool add up to 65 (training: 48, serving: 17), more than its "
     "max_accelerators of 64; lower the quotas or raise nodepools.gpu.max_accelerators"),
    ("queue quotas exceed a lowered pool limit", QUEUES.replace("accelerators = 17", "accelerators = 16")
     + "nodepools = {\n  gpu = { max_accelerators = 32 }\n}\n",
     "2: kueue_queues: the queues' quotas on the gpu pool add up to 64 (training: 48, serving: 16), more than its "
     "max_accelerators of 32; lower the quotas or raise nodepools.gpu.max_accelerators"),
    ("accelerators on a cpu pool", 'enable_kueue = true\nnodepools = {\n  cpu = { enabled = true }\n}\n'
                                   'kueue_queues = {\n  etl = {\n    nodepools = {\n      cpu = { accelerators = 1 }\n'
                                   '    }\n  }\n}\n',
     "8: kueue_queues.etl.nodepools.cpu.accelerators: the cpu pool has no accelerators; remove accelerators"),
    ("queue without pools", 'enable_kueue = true\nkueue_queues = {\n  training = {\n    nodepools = {}\n  }\n}\n',
     "4: kueue_queues.training.nodepools: expected at least one node pool"),
    ("queue name", 'enable_kueue = true\nkueue_queues = {\n  Training = {\n    nodepools = { gpu = {} }\n  }\n}\n',
     "3: kueue_queues.Training: expected a key that is a lowercase DNS label such as 'training', got 'Training'"),
    ("queues without kueue", 'kueue_queues = {\n  training = {\n    nodepools = { gpu = {} }\n  }\n}\n',
     "1: kueue_queues: has no effect without enable_kueue = true; set it or remove this key"),
    ("kueue without a batch pool", 'enable_kueue = true\nnodepools = {\n  gpu = { enabled = false }\n}\n',
     "1: enable_kueue: no queue to create: enable a pool for batch work (cpu, gpu, gpu-efa, neuron, inferentia1) "
     "or declare kueue_queues"),
    ("mlflow keys without mlflow", "mlflow_db_instances = 2\n",
     "1: mlflow_db_instances: has no effect without enable_mlflow = true; set it or remove this key"),
    ("mlflow capacity range", "enable_mlflow = true\nmlflow_db_min_acu = 0\n",
     "2: mlflow_db_min_acu: expected a number between 0.5 and 256, got 0"),
    ("mlflow capacity step", "enable_mlflow = true\nmlflow_db_max_acu = 2.3\n",
     "2: mlflow_db_max_acu: expected a multiple of 0.5 ACU, got 2.3"),
    ("mlflow capacity order", "enable_mlflow = true\nmlflow_db_min_acu = 8\nmlflow_db_max_acu = 4\n",
     "3: mlflow_db_max_acu: expected at least mlflow_db_min_acu (8), got 4"),
    ("mlflow instances", "enable_mlflow = true\nmlflow_db_instances = 5\n",
     "2: mlflow_db_instances: expected a number between 1 and 3, got 5"),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_module_keys_fail_with_the_exact_message(name, text, expected):
    with pytest.raises(BlueprintError) as err:
        parse_text(text, "bp.tfvars")
    assert str(err.value) == f"bp.tfvars:{expected}"
    assert err.value.exit_code == 2


def test_valid_module_keys_parse():
    bp = parse_text(
        'enable_argocd = true\naddons_delivery = "argocd"\n' + REPO +
        'argocd_internal_load_balancer = true\nargocd_load_balancer_source_cidrs = ["10.0.0.0/8"]\n'
        + QUEUES.replace("accelerators = 17", "accelerators = 16")
        + "enable_mlflow = true\nmlflow_db_min_acu = 1.5\nmlflow_db_max_acu = 16\nmlflow_db_instances = 2\n"
          "mlflow_db_backup_retention_days = 14\nmlflow_db_deletion_protection = false\n", "bp.tfvars")
    assert [(q.name, q.weight, [(u.pool.name, u.cpu, u.memory_gib, u.accelerators) for u in q.quotas])
            for q in bp.kueue_queue_specs] == [("training", 1, [("gpu", 1536, 12288, 48)]),
                                               ("serving", 1, [("gpu", 0, 0, 16)])]
    assert (bp.mlflow_db_min_acu, bp.mlflow_db_max_acu, bp.mlflow_db_backup_retention_days) == (1.5, 16.0, 14)
