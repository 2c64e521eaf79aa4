"""The values of the core releases exist in their charts: Karpenter's and External Secrets' against their values.yaml
in ../shared/reference."""

from __future__ import annotations

import pytest

from mlplat import versions
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.synth import synth


@pytest.fixture(scope="module")
def repaired():
    return synth({"enable_node_auto_repair": True, "enable_argocd": True})


def test_karpenter_values_exist_at_the_pinned_version(repaired):
    assert chart_version("karpenter") in ("1.13.0", versions.CHARTS["karpenter"].version)  # the tag's stale stamp
    assert list(unknown_keys(repaired.values("karpenter"), chart_defaults("karpenter"))) == []
    assert repaired.values("karpenter")["settings"]["featureGates"] == {"nodeRepair": True}


def test_karpenter_crd_release_sets_no_values(repaired):
    assert repaired.values("karpenter-crd") == {}


def test_external_secrets_values_exist_at_the_pinned_version(repaired):
    assert chart_version("external-secrets") == versions.CHARTS["external-secrets"].version
    assert list(unknown_keys(repaired.values("external-secrets"), chart_defaults("external-secrets"))) == []
