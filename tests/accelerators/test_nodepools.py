"""Node pools: every pool kind renders one NodePool and one EC2NodeClass that the Karpenter v1.14 CRDs accept, with
the requirements, taints, labels, limits, disruption, volumes and selectors the blueprint asks for."""

from __future__ import annotations

import re

import pytest

from mlplat import versions
from mlplat.blueprint import parse_text
from mlplat.nodepools import POOL_KINDS, NodeClassContext, render
from tests.accelerators.support import ALL_POOLS, NO_FILESYSTEMS, RESERVATION
from tests.support import hcl, k8s
from tests.support.synth import CANONICAL_TEXT, synth

ROLE = "${data.terraform_remote_state.cross-stack-reference-input-mlplat-aws.outputs."
EBS, EFS, FSX = ("ebs.csi.aws.com/agent-not-ready", "efs.csi.aws.com/agent-not-ready",
                 "fsx.csi.aws.com/agent-not-ready")


@pytest.fixture(scope="module")
def all_pools():
    return synth(ALL_POOLS)


def by_kind(objects):
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def karpenter_rules(obj):
    """The CEL rules of the Karpenter CRDs that a JSON-schema check cannot see, for the fields the platform sets."""
    spec = obj["spec"]
    problems = []
    if obj["kind"] == "NodePool":
        tmpl = spec["template"]
        for key in list(tmpl["metadata"]["labels"]) + [r["key"] for r in tmpl["spec"]["requirements"]]:
            domain = key.split("/")[0] if "/" in key else ""
            if domain.endswith("karpenter.sh") and key not in ("karpenter.sh/capacity-type",):
                problems.append(f"restricted label {key}")
            if key == "kubernetes.io/hostname":
                problems.append(f"restricted label {key}")
        for r in tmpl["spec"]["requirements"]:
            if r["operator"] == "In" and not r["values"]:
                problems.append(f"In without values: {r['key']}")
            if r["operator"] in ("Gt", "Lt", "Gte", "Lte") and not (len(r["values"]) == 1 and int(r["values"][0]) >= 0):
                problems.append(f"{r['operator']} needs one non-negative integer: {r['key']}")
        for b in spec["disruption"]["budgets"]:
            if ("schedule" in b) != ("duration" in b):
                problems.append("budget schedule without duration")
    else:
        if ("role" in spec) == ("instanceProfile" in spec):
            problems.append("exactly one of role/instanceProfile")
        aliases = [t["alias"] for t in spec["amiSelectorTerms"] if "alias" in t]
        if aliases and (len(spec["amiSelectorTerms"]) != 1 or not re.fullmatch(r"(al2023|bottlerocket)@v[0-9.]+",
                                                                                  aliases[0])):
            problems.append(f"alias {aliases}")
        if sum(1 for b in spec["blockDeviceMappings"] if b.get("rootVolume")) > 1:
            problems.append("more than one rootVolume")
        if any(k == "eks:eks-cluster-name" or k.startswith("kubernetes.io/cluster") or k in (
                "karpenter.sh/nodepool", "karpenter.sh/nodeclaim", "karpenter.k8s.aws/ec2nodeclass")
               for k in spec["tags"]):
            problems.append("restricted tag")
        for term in spec.get("capacityReservationSelectorTerms", []):
            if not re.fullmatch(r"cr-[0-9a-z]+", term["id"]) or len(term) != 1:
                problems.append(f"capacity reservation term {term}")
    return problems


def test_every_pool_renders_one_valid_nodepool_and_nodeclass(all_pools):
    objects = all_pools.objects("karpenter-nodepools")
    assert sorted(by_kind(objects)) == sorted([("NodePool", n) for n in POOL_KINDS] +
                                              [("EC2NodeClass", n) for n in POOL_KINDS])
    for obj in objects:
        k8s.validate(obj)
        assert karpenter_rules(obj) == [], obj["metadata"]["name"]
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "mlplat"}


def test_gpu_efa_pool_in_full(all_pools):
    pools = by_kind(all_pools.objects("karpenter-nodepools"))
    assert pools[("NodePool", "gpu-efa")]["spec"] == {
        "template": {
            "metadata": {"labels": {"mlplat.io/pool": "gpu-efa", "mlplat.io/accelerator": "nvidia",
                                    "mlplat.io/ami-family": "al2023", "mlplat.io/efa": "true"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu-efa"},
                "requirements": [
                    {"key": "karpenter.k8s.aws/instance-family", "operator": "In",
                     "values": ["p4d", "p4de", "p5", "p5e", "p5en"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["reserved", "on-demand"]},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
                           {"key": "vpc.amazonaws.com/efa", "value": "true", "effect": "NoSchedule"}],
                "startupTaints": [{"key": EBS, "effect": "NoExecute"}, {"key": EFS, "effect": "NoExecute"},
                                  {"key": FSX, "effect": "NoExecute"}],
                # Training pools never expire and never replace a node for drift (mid-job).
                "expireAfter": "Never",
                "terminationGracePeriod": "24h",
            },
        },
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30m",
                       "budgets": [{"nodes": "10%"}, {"nodes": "0", "reasons": ["Drifted"]}]},
        "limits": {"cpu": "3072", "memory": "32768Gi", "nvidia.com/gpu": "128"},
        "weight": 10,
    }
    nodeclass = pools[("EC2NodeClass", "gpu-efa")]["spec"]
    assert nodeclass["role"].startswith(ROLE) and "karpenter_node-role" in nodeclass["role"]
    assert {k: v for k, v in nodeclass.items() if k != "role"} == {
        "amiSelectorTerms": [{"alias": versions.AL2023_AMI_ALIAS}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "mlplat", "mlplat.io/cuda-efa-az": "true"}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "mlplat"}}],
        "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1,
                            "httpTokens": "required"},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
            "volumeSize": "1000Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True,
            "iops": 3000, "throughput": 125}}],
        "instanceStorePolicy": "RAID0",
        "tags": {"mlplat.io/platform": "mlplat", "mlplat.io/pool": "gpu-efa"},
        "capacityReservationSelectorTerms": [{"id": RESERVATION}],
    }


def test_each_kind_gets_its_taints_labels_limits_and_az(all_pools):
    pools = by_kind(all_pools.objects("karpenter-nodepools"))
    seen = {}
    for name in POOL_KINDS:
        spec = pools[("NodePool", name)]["spec"]
        tmpl = spec["template"]
        seen[name] = (
            [(t["key"], t["effect"]) for t in tmpl["spec"]["taints"]],
            tmpl["metadata"]["labels"]["mlplat.io/accelerator"],
            tmpl["metadata"]["labels"].get("mlplat.io/efa"),
            sorted(k for k in spec["limits"] if "/" in k),
            sorted(pools[("EC2NodeClass", name)]["spec"]["subnetSelectorTerms"][0]["tags"]),
        )
    gpu, neuron, efa = ("nvidia.com/gpu", "NoSchedule"), ("aws.amazon.com/neuron", "NoSchedule"), \
        ("vpc.amazonaws.com/efa", "NoSchedule")
    assert seen == {
        "general": ([], "none", None, [], ["karpenter.sh/discovery"]),
        "cpu": ([("mlplat.io/cpu-batch", "NoSchedule")], "none", None, [], ["karpenter.sh/discovery"]),
        "gpu": ([gpu], "nvidia", None, ["nvidia.com/gpu"], ["karpenter.sh/discovery"]),
        "gpu-efa": ([gpu, efa], "nvidia", "true", ["nvidia.com/gpu"],
                    ["karpenter.sh/discovery", "mlplat.io/cuda-efa-az"]),
        "neuron": ([neuron], "neuron", "true", ["aws.amazon.com/neuron"],
                   ["karpenter.sh/discovery", "mlplat.io/neuron-az"]),
        "inferentia1": ([neuron], "neuron", None, ["aws.amazon.com/neuron"], ["karpenter.sh/discovery"]),
    }


def test_cpu_kinds_require_a_recent_generation_and_accelerator_kinds_name_families(all_pools):
    pools = by_kind(all_pools.objects("karpenter-nodepools"))
    generation = {name: [r for r in pools[("NodePool", name)]["spec"]["template"]["spec"]["requirements"]
                         if r["key"] == "karpenter.k8s.aws/instance-generation"] for name in POOL_KINDS}
    floor = [{"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]}]
    assert generation == {"general": floor, "cpu": floor, "gpu": [], "gpu-efa": [], "neuron": [], "inferentia1": []}


def test_bottlerocket_pool_keeps_images_on_the_data_volume(all_pools):
    nodeclass = by_kind(all_pools.objects("karpenter-nodepools"))[("EC2NodeClass", "cpu")]["spec"]
    assert nodeclass["amiSelectorTerms"] == [{"alias": versions.BOTTLEROCKET_AMI_ALIAS}]
    volume = {"volumeType": "gp3", "encrypted": True, "deleteOnTermination": True, "iops": 3000, "throughput": 125}
    assert nodeclass["blockDeviceMappings"] == [
        {"deviceName": "/dev/xvda", "ebs": {**volume, "volumeSize": "8Gi"}},
        {"deviceName": "/dev/xvdb", "rootVolume": True, "ebs": {**volume, "volumeSize": "100Gi"}},
    ]


def test_canonical_blueprint_has_general_and_gpu_pools_only():
    objects = synth().objects("karpenter-nodepools")
    assert sorted(by_kind(objects)) == [("EC2NodeClass", "general"), ("EC2NodeClass", "gpu"),
                                        ("NodePool", "general"), ("NodePool", "gpu")]
    gpu = by_kind(objects)[("NodePool", "gpu")]["spec"]
    assert gpu["template"]["spec"]["requirements"][:2] == [
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5", "g6", "g6e"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand", "spot"]},
    ]
    assert "capacityReservationSelectorTerms" not in by_kind(objects)[("EC2NodeClass", "gpu")]["spec"]


def test_csi_startup_taints_follow_the_file_systems():
    taints = {name: [t["key"] for t in obj["spec"]["template"]["spec"]["startupTaints"]]
              for (kind, name), obj in by_kind(synth(NO_FILESYSTEMS).objects("karpenter-nodepools")).items()
              if kind == "NodePool"}
    assert taints == {"general": [EBS], "gpu": [EBS]}
    with_both = by_kind(synth().objects("karpenter-nodepools"))[("NodePool", "gpu")]
    assert [t["key"] for t in with_both["spec"]["template"]["spec"]["startupTaints"]] == [EBS, EFS, FSX]


def test_blueprint_overrides_reach_the_objects():
    delta = {"nodepools": {"gpu": {
        "instance_families": ["g6e"], "capacity_types": ["spot"], "max_cpu": 96, "max_memory_gib": 768,
        "max_accelerators": 8, "weight": 70, "root_volume_gib": 750, "consolidation_policy": "WhenEmpty",
        "consolidate_after": "10m", "expire_after": "Never", "disruption_budget": "2",
        "taints": ["nvidia.com/gpu=true:NoSchedule", "mlplat.io/dedicated=research:NoSchedule"],
    }}}
    bp = parse_text(CANONICAL_TEXT + hcl.render(delta), "bp.tfvars")
    ctx = NodeClassContext(cluster_name="mlplat", node_role_name="role", with_efs=False, with_fsx=False, tags={})
    nodepool, nodeclass = render(next(p for p in bp.enabled_pools if p.name == "gpu"), ctx)
    spec = nodepool["spec"]
    assert (spec["template"]["spec"]["requirements"][:2], spec["template"]["spec"]["taints"],
            spec["template"]["spec"]["expireAfter"], spec["disruption"], spec["limits"], spec["weight"]) == (
        [{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g6e"]},
         {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]}],
        [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
         {"key": "mlplat.io/dedicated", "value": "research", "effect": "NoSchedule"}],
        "Never",
        {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m", "budgets": [{"nodes": "2"}]},
        {"cpu": "96", "memory": "768Gi", "nvidia.com/gpu": "8"},
        70,
    )
    assert nodeclass["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "750Gi"
    for obj in (nodepool, nodeclass):
        k8s.validate(obj)
        assert karpenter_rules(obj) == []


def test_ami_aliases_are_recorded_releases_that_ship_every_offered_eks_version():
    """An alias resolves per node to the image of the cluster's minor: the pinned release must ship them all."""
    from datetime import date

    assert versions.AL2023_AMI_ALIAS == f"al2023@{versions.AL2023_AMI_RELEASE}"
    assert versions.BOTTLEROCKET_AMI_ALIAS == f"bottlerocket@{versions.BOTTLEROCKET_RELEASE}"
    for minor in versions.eks_versions_offered(date.today()):
        assert minor in versions.AL2023_AMI_RELEASES[versions.AL2023_AMI_RELEASE], minor
        assert minor in versions.BOTTLEROCKET_RELEASES[versions.BOTTLEROCKET_RELEASE], minor


def test_every_known_family_has_a_smallest_shape_for_the_limit_checks():
    from mlplat.nodepools import FAMILIES

    known = {f for kind in POOL_KINDS.values() for f in kind.known_families}
    assert sorted(known - set(FAMILIES)) == []
    for kind in POOL_KINDS.values():
        assert set(kind.default_families) <= set(kind.known_families), kind.name
        accelerated = [f for f in kind.known_families if FAMILIES[f].accelerators]
        assert accelerated == (list(kind.known_families) if kind.accelerator else []), kind.name
        assert all(FAMILIES[f].smallest.split(".")[0] == f for f in kind.known_families)


def _ec2_record() -> dict[str, dict]:
    """EC2 DescribeInstanceTypes as recorded by moto (pinned in pyproject.toml): AWS's own answers, not ours."""
    import gzip
    import json
    from importlib.resources import files

    return json.loads(gzip.decompress((files("moto.ec2") / "resources" / "instance_types.json.gz").read_bytes()))


def _devices(info: dict) -> int:
    gpus = info.get("GpuInfo", {}).get("Gpus", [])
    neuron = info.get("NeuronInfo", {}).get("NeuronDevices", [])
    return sum(d["Count"] for d in gpus + neuron)


def test_family_shapes_match_ec2s_record_of_the_instance_types():
    """Each family's smallest size, its vCPUs, accelerators, NeuronCores per device, and the most EFA interfaces per
    accelerator of any size (what a Kueue quota of vpc.amazonaws.com/efa must allow), as EC2 describes them."""
    from mlplat.nodepools import FAMILIES, FamilyShape

    record = _ec2_record()
    derived = {}
    for family in FAMILIES:
        sizes = {name: info for name, info in record.items() if name.split(".")[0] == family}
        smallest_name = min(sizes, key=lambda n: (sizes[n]["VCpuInfo"]["DefaultVCpus"], n))
        smallest = sizes[smallest_name]
        neuron = smallest.get("NeuronInfo", {}).get("NeuronDevices", [{}])[0]
        ratios = [info["NetworkInfo"].get("EfaInfo", {}).get("MaximumEfaInterfaces", 0) / _devices(info)
                  for info in sizes.values() if _devices(info)]
        derived[family] = FamilyShape(smallest_name, smallest["VCpuInfo"]["DefaultVCpus"], _devices(smallest),
                                      neuron.get("CoreInfo", {}).get("Count", 0), max(ratios, default=0.0))
    assert FAMILIES == derived
