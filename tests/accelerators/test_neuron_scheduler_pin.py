"""The Neuron scheduler's kube-scheduler follows the control plane's minor version, with a tag EKS Distro published
(tests/upstream/eks-distro-kube-scheduler-tags.json records them; a tag of the right shape is not enough)."""

import json
from datetime import date

import pytest

from mlplat import versions
from tests.support.paths import ROOT
from tests.support.synth import synth

RECORD = json.loads((ROOT / "tests" / "upstream" / "eks-distro-kube-scheduler-tags.json").read_text())


def test_every_version_eks_still_offers_has_a_published_scheduler_tag():
    for minor in versions.eks_versions_offered(date.today()):
        assert minor in versions.KUBE_SCHEDULER_TAGS, f"no kube-scheduler pin for EKS {minor}"
    for minor, tag in versions.KUBE_SCHEDULER_TAGS.items():
        assert tag in RECORD["tags"].get(minor, []), f"{tag} is not in EKS Distro's {minor} releases"


@pytest.mark.parametrize("eks", ["1.33", "1.36"])
def test_neuron_release_uses_the_tag_of_the_cluster_version(eks):
    s = synth({"eks_cluster_version": eks, "availability_zones_count": 4, "neuron_az": "us-west-2d",
               "nodepools": {"neuron": {"enabled": True}}})
    image = s.values("aws-neuron")["scheduler"]["customScheduler"]["image"]
    assert image == {"repository": "public.ecr.aws/eks-distro/kubernetes/kube-scheduler",
                     "tag": {"1.33": "v1.33.13-eks-1-33-31", "1.36": "v1.36.2-eks-1-36-7"}[eks]}
