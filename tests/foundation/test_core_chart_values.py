"""The values of the core releases exist in their charts: Karpenter's against its values.yaml in ../shared/reference,
External Secrets' (not in the reference) against a record of its chart's keys."""

from __future__ import annotations

import pytest

from mlplat import versions
from tests.observability_stack.test_chart_values import leaf_keys
from tests.observability_stack.verified_keys import Verified, accepted
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.synth import synth

# external-secrets/external-secrets tag helm-chart-1.3.2 deploy/charts/external-secrets/values.yaml, checked
# 2026-11-30: the CRD switch, the service account, and the placement of the controller, webhook and cert controller.
EXTERNAL_SECRETS = Verified("1.3.2", "external-secrets/external-secrets tag helm-chart-1.3.2", frozenset({
    "installCRDs", "serviceAccount.name", "nodeSelector/*", "tolerations", "webhook.nodeSelector/*",
    "webhook.tolerations", "certController.nodeSelector/*", "certController.tolerations"}))


@pytest.fixture(scope="module")
def repaired():
    return synth({"enable_node_auto_repair": True, "enable_argocd": True})


def test_karpenter_values_exist_at_the_pinned_version(repaired):
    assert chart_version("karpenter") in ("1.13.0", versions.CHARTS["karpenter"].version)  # the tag's stale stamp
    assert list(unknown_keys(repaired.values("karpenter"), chart_defaults("karpenter"))) == []
    assert repaired.values("karpenter")["settings"]["featureGates"] == {"nodeRepair": True}


def test_karpenter_crd_release_sets_no_values(repaired):
    assert repaired.values("karpenter-crd") == {}


def test_external_secrets_values_are_recorded_keys(repaired):
    assert EXTERNAL_SECRETS.version == versions.CHARTS["external-secrets"].version
    assert [k for k in leaf_keys(repaired.values("external-secrets")) if not accepted(k, EXTERNAL_SECRETS.keys)] == []
