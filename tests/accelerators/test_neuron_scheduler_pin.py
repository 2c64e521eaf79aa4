"""The Neuron scheduler's kube-scheduler follows the control plane's minor version."""

import pytest

from mlplat import versions
from tests.support.synth import synth


def test_every_supported_eks_version_has_a_matching_scheduler_tag():
    assert set(versions.KUBE_SCHEDULER_TAGS) == set(versions.EKS_VERSIONS)
    for minor, tag in versions.KUBE_SCHEDULER_TAGS.items():
        assert tag.startswith(f"v{minor}.") and tag.endswith(f"-eks-{minor.replace('.', '-')}-" + tag.rsplit("-", 1)[1])


@pytest.mark.parametrize("eks", ["1.33"])
def test_neuron_release_uses_the_tag_of_the_cluster_version(eks):
    s = synth({"eks_cluster_version": eks, "availability_zones_count": 4, "neuron_az": "us-west-2d",
               "nodepools": {"neuron": {"enabled": True}}})
    image = s.values("aws-neuron")["scheduler"]["customScheduler"]["image"]
    assert image == {"repository": "public.ecr.aws/eks-distro/kubernetes/kube-scheduler", "tag": "v1.33.7-eks-1-33-23"}
