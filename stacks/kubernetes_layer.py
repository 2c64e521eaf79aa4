"""The Kubernetes layer: Helm and Kubernetes providers configured from the AWS layer's outputs, and every enabled
add-on of the registry installed in dependency order."""

from __future__ import annotations

from pathlib import Path

from cdktn import AssetType, TerraformAsset, TerraformOutput, TerraformStack
from cdktn_provider_helm.provider import HelmProvider
from cdktn_provider_kubernetes.provider import KubernetesProvider, KubernetesProviderExec
from constructs import Construct

from mlplat import versions
from mlplat.addons import LOCAL_CHARTS_DIR, MANIFESTS_CHART, AddonContext, install_order, values_for
from mlplat.blueprint import Blueprint
from mlplat.catalog import REGISTRY
from mlplat.settings import Settings
from modules.addon_release import AddonRelease
from stacks.aws_layer import AwsLayer
from stacks.providers import configure_backend

STACK_SUFFIX = "kubernetes"


class KubernetesLayer(TerraformStack):
    def __init__(self, scope: Construct, blueprint: Blueprint, settings: Settings, aws: AwsLayer) -> None:
        super().__init__(scope, f"{blueprint.name}-{STACK_SUFFIX}")
        bp = blueprint
        configure_backend(self, bp, settings)
        self.add_dependency(aws)
        cluster = {
            "host": aws.outputs["cluster_endpoint"],
            "cluster_ca_certificate": f"${{base64decode({aws.outputs['cluster_certificate_authority_data']})}}",
            # A short-lived token from the caller's AWS credentials at plan/apply time: no kubeconfig, no secret.
            "exec": {"api_version": "client.authentication.k8s.io/v1beta1", "command": "aws",
                     "args": ["eks", "get-token", "--cluster-name", aws.outputs["cluster_name"],
                              "--region", bp.region, "--output", "json"]},
        }
        HelmProvider(self, "helm", kubernetes=cluster)
        KubernetesProvider(self, "kubernetes", host=cluster["host"],
                           cluster_ca_certificate=cluster["cluster_ca_certificate"], exec=[KubernetesProviderExec(**cluster["exec"])])
        self.add_override("terraform.required_providers.helm.version", versions.HELM_PROVIDER_CONSTRAINT)
        self.add_override("terraform.required_providers.kubernetes.version", versions.KUBERNETES_PROVIDER_CONSTRAINT)

        context = AddonContext(blueprint=bp, outputs=aws.outputs)
        self.releases: dict[str, AddonRelease] = {}
        manifests_chart: str | None = None
        for addon in install_order(REGISTRY, bp):
            chart_path = None
            if addon.chart is None:
                if manifests_chart is None:
                    manifests_chart = TerraformAsset(self, "manifests-chart", path=str(LOCAL_CHARTS_DIR / MANIFESTS_CHART),
                                                     type=AssetType.DIRECTORY).path
                chart_path = manifests_chart
            self.releases[addon.name] = AddonRelease(
                self, addon.name, addon=addon, values=values_for(addon, context), chart_path=chart_path,
                depends_on=[self.releases[d].release for d in addon.depends_on],
            )
        TerraformOutput(self, "releases", value=sorted(self.releases))
