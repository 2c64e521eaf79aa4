"""Blueprint errors of the accelerator keys: each is reported as `file:line: key: message` with exit code 2, and the
message says what was expected and how to fix it."""

from __future__ import annotations

import pytest

from mlplat.blueprint import parse_text
from mlplat.errors import BlueprintError

EFA = 'cuda_efa_az = "us-west-2a"\n'
CASES = [
    ("unknown family", 'nodepools = {\n  gpu = {\n    instance_families = ["g6e", "p5"]\n  }\n}\n',
     "3: nodepools.gpu.instance_families: unknown instance family 'p5' for the gpu pool; expected one of g4dn, g5, "
     "g6, g6e, gr6, g7e"),
    ("family of no pool", 'nodepools = {\n  cpu = {\n    enabled = true\n    instance_families = ["c9x"]\n'
     '    max_cpu = 1\n  }\n}\n',
     "4: nodepools.cpu.instance_families: unknown instance family 'c9x' for the cpu pool; expected one of c6i, c6a, "
     "c7i, c7a, m6i, m7i, r6i, r7i"),
    ("no family", 'nodepools = {\n  neuron = {\n    instance_families = []\n  }\n}\n',
     "3: nodepools.neuron.instance_families: expected at least one instance family"),
    ("accelerators below one node", EFA + 'nodepools = {\n  "gpu-efa" = {\n    enabled = true\n'
     '    instance_families = ["p4d", "p5e"]\n    max_accelerators = 4\n  }\n}\n',
     "6: nodepools.gpu-efa.max_accelerators: max_accelerators = 4 is below one node: the smallest instance the pool "
     "may launch (p4d.24xlarge) has 8 nvidia.com/gpu; set at least 8"),
    ("zero neuron devices", 'nodepools = {\n  inferentia1 = {\n    enabled = true\n    max_accelerators = 0\n  }\n}\n',
     "4: nodepools.inferentia1.max_accelerators: max_accelerators = 0 is below one node: the smallest instance the "
     "pool may launch (inf1.xlarge) has 1 aws.amazon.com/neuron; set at least 1"),
    ("cpu below one node", 'neuron_az = "us-west-2b"\nnodepools = {\n  neuron = {\n    enabled = true\n'
     '    instance_families = ["trn1n"]\n    max_cpu = 64\n  }\n}\n',
     "6: nodepools.neuron.max_cpu: max_cpu = 64 is below one node: the smallest instance the pool may launch "
     "(trn1n.32xlarge) has 128 vCPUs; set at least 128"),
    ("efa pool without az", 'nodepools = {\n  "gpu-efa" = {\n    enabled = true\n  }\n}\n',
     "2: nodepools.gpu-efa: the gpu-efa pool is pinned to one AZ (EFA jobs need all their nodes in one AZ): set "
     "cuda_efa_az to one of the platform's zones (the first 2 zones of us-west-2, or those listed in azs)"),
    ("neuron pool without az", 'nodepools = {\n  neuron = {\n    enabled = true\n  }\n}\n',
     "2: nodepools.neuron: the neuron pool is pinned to one AZ (Trainium capacity is zonal): set neuron_az to one of "
     "the platform's zones (the first 2 zones of us-west-2, or those listed in azs)"),
    ("reservation id form", 'nodepools = {\n  gpu = {\n    capacity_reservation_ids = ["cr-12345"]\n  }\n}\n',
     "3: nodepools.gpu.capacity_reservation_ids[0]: expected a capacity reservation id such as "
     "'cr-0123456789abcdef0', got 'cr-12345'"),
    ("capacity block id form", 'nodepools = {\n  gpu = {\n    capacity_reservation_ids = ["cb-0123456789abcdef0"]\n'
     '  }\n}\n',
     "3: nodepools.gpu.capacity_reservation_ids[0]: expected a capacity reservation id such as "
     "'cr-0123456789abcdef0', got 'cb-0123456789abcdef0'"),
    ("reserved without ids", 'nodepools = {\n  gpu = {\n    capacity_types = ["reserved"]\n  }\n}\n',
     "3: nodepools.gpu.capacity_types: 'reserved' needs capacity_reservation_ids naming the ODCRs or Capacity Blocks"),
    ("taint nobody tolerates", 'nodepools = {\n  gpu = {\n    taints = ["nvidia.com/gpu=true:NoSchedule", '
     '"team=research:NoSchedule"]\n  }\n}\n',
     "3: nodepools.gpu.taints: no toleration matches taint key 'team': the platform's node agents (device plugins, "
     "exporters, log shipper) tolerate only nvidia.com/gpu, aws.amazon.com/neuron, vpc.amazonaws.com/efa, "
     "mlplat.io/cpu-batch, mlplat.io/dedicated; use one of them, e.g. 'mlplat.io/dedicated=<team>:NoSchedule'"),
    ("malformed taint", 'nodepools = {\n  cpu = {\n    taints = ["mlplat.io/cpu-batch"]\n  }\n}\n',
     "3: nodepools.cpu.taints[0]: expected a taint such as 'mlplat.io/dedicated=research:NoSchedule' "
     "(key[=value]:effect), got 'mlplat.io/cpu-batch'"),
    ("mig config", EFA + 'enable_nvidia_gpu_operator = true\nnodepools = {\n  "gpu-efa" = {\n    enabled = true\n'
     '    mig_config = "all-1g.10gb"\n  }\n}\n',
     "6: nodepools.gpu-efa.mig_config: no longer supported: MIG slices cannot be provisioned on Karpenter pools: "
     "Karpenter 1.14 counts whole GPUs per instance type, so pods asking for slices never launch a node "
     "(NodeOverlay, which could declare them, is an alpha feature); request whole GPUs (nvidia.com/gpu) and remove "
     "this key"),
    ("mig strategy", 'nvidia_mig_strategy = "mixed"\n',
     "1: nvidia_mig_strategy: no longer supported: MIG slices cannot be provisioned on Karpenter pools: Karpenter "
     "1.14 counts whole GPUs per instance type, so pods asking for slices never launch a node (NodeOverlay, which "
     "could declare them, is an alpha feature); request whole GPUs (nvidia.com/gpu) and remove this key"),
    ("operator without nvidia pools", 'enable_nvidia_gpu_operator = true\nnodepools = {\n  gpu = {\n'
     '    enabled = false\n  }\n}\n',
     "1: enable_nvidia_gpu_operator: the GPU operator serves the NVIDIA pools, but none is enabled: enable the gpu "
     "or gpu-efa pool, or remove enable_nvidia_gpu_operator"),
    ("operator on bottlerocket", 'enable_nvidia_gpu_operator = true\nnodepools = {\n  gpu = {\n'
     '    ami_family = "bottlerocket"\n  }\n}\n',
     "4: nodepools.gpu.ami_family: Bottlerocket's NVIDIA images bring their own driver and device plugin, which the "
     "GPU operator does not manage: use ami_family = \"al2023\" or turn enable_nvidia_gpu_operator off"),
    ("neuron node recovery", "enable_neuron_node_recovery = true\n",
     "1: enable_neuron_node_recovery: no longer supported: replaced by enable_node_auto_repair: the Neuron node "
     "problem detector's recovery marks an Auto Scaling group instance unhealthy, and Karpenter nodes belong to "
     "none"),
    ("spot role without spot", 'create_spot_service_linked_role = true\nnodepools = {\n  gpu = {\n'
     '    enabled = false\n  }\n}\n',
     "1: create_spot_service_linked_role: no enabled pool allows spot capacity, so nothing needs the role; remove "
     "this key or add 'spot' to a pool's capacity_types"),
    ("budget above 100%", 'nodepools = {\n  gpu = {\n    disruption_budget = "150%"\n  }\n}\n',
     "3: nodepools.gpu.disruption_budget: expected a node count such as '2' or a percentage up to '100%' such as "
     "'10%', got '150%'"),
    ("system namespace", 'workload_namespaces = ["team-a", "kube-system"]\n',
     "1: workload_namespaces[1]: 'kube-system' is a Kubernetes system namespace; workload namespaces must be the "
     "users' own, such as 'ml-workloads'"),
]


@pytest.mark.parametrize("name, text, expected", CASES, ids=[c[0] for c in CASES])
def test_blueprint_error(name, text, expected):
    with pytest.raises(BlueprintError) as err:
        parse_text(text, "bp.tfvars")
    assert str(err.value) == "bp.tfvars:" + expected
    assert err.value.exit_code == 2


def test_valid_accelerator_blueprint_passes():
    text = ('cuda_efa_az = "us-west-2a"\nneuron_az = "us-west-2b"\nenable_nvidia_gpu_operator = true\n'
            'enable_node_auto_repair = true\nnodepools = {\n  "gpu-efa" = {\n    enabled = true\n'
            '    instance_families = ["p5"]\n    max_accelerators = 1\n'
            '    capacity_reservation_ids = ["cr-0123456789abcdef0"]\n    capacity_types = ["reserved"]\n  }\n'
            '  neuron = {\n    enabled = true\n    taints = ["aws.amazon.com/neuron=true:NoSchedule", '
            '"mlplat.io/dedicated=research:NoSchedule"]\n  }\n}\n')
    bp = parse_text(text, "bp.tfvars")
    assert [p.name for p in bp.enabled_pools] == ["general", "gpu", "gpu-efa", "neuron"]
    efa = next(p for p in bp.enabled_pools if p.name == "gpu-efa")
    assert (efa.capacity_types, efa.max_accelerators, bp.enable_node_auto_repair) == (("reserved",), 1, True)
