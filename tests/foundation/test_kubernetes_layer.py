"""The synthesized Kubernetes layer: providers fed by the AWS layer's outputs, pinned releases, values layering."""

from __future__ import annotations

import pytest

from mlplat import versions
from mlplat.checks import check_kubernetes_stack
from tests.support import k8s
from tests.support.chart_values import chart_defaults, unknown_keys
from tests.support.synth import synth

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-mlplat-aws.outputs."


@pytest.fixture(scope="module")
def canonical():
    return synth()


def test_only_the_helm_provider_configured_from_aws_outputs(canonical):
    providers = canonical.kubernetes["provider"]
    assert set(providers) == {"helm"}
    helm = providers["helm"][0]["kubernetes"]
    endpoint = REMOTE + "cross-stack-output-aws_eks_clustereks_cluster_55B0C966endpoint"
    # Through the access node's tunnel (mlplat/tunnel.py) when mlplat sets the port; else the endpoint itself.
    assert helm["host"] == (f'${{(var.api_tunnel_port > 0) ? format("https://127.0.0.1:%d", var.api_tunnel_port) : '
                            f'{endpoint.removeprefix("${")}}}')
    assert helm["tls_server_name"] == f'${{replace({endpoint.removeprefix("${")}, "https://", "")}}'
    assert canonical.kubernetes["variable"]["api_tunnel_port"]["default"] == 0
    assert helm["cluster_ca_certificate"].startswith("${base64decode(data.terraform_remote_state.")
    assert helm["exec"]["command"] == "aws" and helm["exec"]["args"][:3] == ["eks", "get-token", "--cluster-name"]
    remote = canonical.kubernetes["data"]["terraform_remote_state"]
    assert [r["backend"] for r in remote.values()] == ["local"]
    assert set(canonical.kubernetes["terraform"]["required_providers"]) == {"helm"}


def test_karpenter_release_is_pinned_and_computed_values_are_set_last(canonical):
    release = canonical.releases()["karpenter"]
    chart = versions.CHARTS["karpenter"]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "karpenter", chart.repository, chart.version, "kube-system")
    assert (release["atomic"], release["wait"]) == (True, True)
    values = canonical.values("karpenter")
    assert values["settings"]["clusterName"] == "mlplat"
    assert values["settings"]["clusterEndpoint"].startswith(REMOTE)
    assert values["settings"]["interruptionQueue"].startswith(REMOTE)
    assert values["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]
    assert list(unknown_keys(values, chart_defaults("karpenter"))) == []


def test_nodepools_follow_karpenter_and_validate(canonical):
    release = canonical.releases()["karpenter-nodepools"]
    assert release["chart"].startswith("assets/manifests-chart/")
    assert [d.split(".")[0] for d in release["depends_on"]] == ["helm_release"]
    assert "karpenter_release" in release["depends_on"][0]
    objects = canonical.objects("karpenter-nodepools")
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert ("NodePool", "gpu") in kinds and ("EC2NodeClass", "gpu") in kinds
    for obj in objects:
        k8s.validate(obj)


def test_user_overrides_merge_over_base_but_platform_keys_win(tmp_path):
    override = tmp_path / "karpenter.yaml"
    override.write_text("logLevel: debug\nsettings:\n  clusterName: someone-else\n  batchMaxDuration: 20s\n")
    from tests.support.synth import CANONICAL_TEXT

    text = CANONICAL_TEXT + f'addon_values = {{ karpenter = "{override}" }}\n'
    values = synth(text=text).values("karpenter")
    assert values["logLevel"] == "debug"
    assert values["settings"]["batchMaxDuration"] == "20s"
    assert values["settings"]["clusterName"] == "mlplat"


def test_offline_checks_pass_and_catch_a_bad_pin(canonical, tmp_path):
    stack = canonical.outdir / "stacks" / "mlplat-kubernetes" / "cdk.tf.json"
    report = check_kubernetes_stack(stack)
    assert report.problems == [] and report.releases >= 2 and report.objects >= 2
    tampered = stack.read_text().replace(f'"version": "{versions.CHARTS["karpenter"].version}"', '"version": "0.0.1"')
    bad = tmp_path / "cdk.tf.json"
    bad.write_text(tampered)
    # karpenter and karpenter-crd share the version: both are caught.
    assert check_kubernetes_stack(bad).problems == [
        f"release {chart}: chart {chart} 0.0.1 from {versions.CHARTS[chart].repository} differs from the pin "
        f"{versions.CHARTS[chart].version} in {versions.CHARTS[chart].repository}"
        for chart in ("karpenter-crd", "karpenter")]
