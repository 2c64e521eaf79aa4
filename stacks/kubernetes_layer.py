"""The Kubernetes layer: Helm and Kubernetes providers configured from the AWS layer's outputs, and every enabled
add-on of the registry installed in dependency order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdktn import AssetType, Fn, Op, TerraformAsset, TerraformOutput, TerraformStack, TerraformVariable, Token
from cdktn_provider_helm.provider import HelmProvider
from constructs import Construct

from mlplat import versions
from mlplat.addons import LOCAL_CHARTS_DIR, MANIFESTS_CHART, AddOn, AddonContext, install_order, values_for
from mlplat.blueprint import Blueprint
from mlplat.catalog import REGISTRY
from mlplat.catalog.modules import ARGOCD_APPLICATIONS, helm_bootstrap
from mlplat.settings import KUBERNETES_STACK_SUFFIX, TUNNEL_PORT_VARIABLE, Settings
from modules.addon_release import AddonRelease
from modules.argocd_application import GitOpsConfig, application, delivery_objects, sync_waves
from stacks.aws_layer import AwsLayer
from stacks.providers import configure_backend



class KubernetesLayer(TerraformStack):
    def __init__(self, scope: Construct, blueprint: Blueprint, settings: Settings, aws: AwsLayer) -> None:
        super().__init__(scope, f"{blueprint.name}-{KUBERNETES_STACK_SUFFIX}")
        bp = blueprint
        configure_backend(self, bp, settings)
        self.add_dependency(aws)
        # Through the cluster access node (mlplat/tunnel.py), terraform reaches a private endpoint at
        # https://127.0.0.1:<port> and checks the certificate against the endpoint's own name.
        tunnel_port = TerraformVariable(self, TUNNEL_PORT_VARIABLE, type="number", default=0, description=(
            "Local port of an SSM port-forwarding session to the cluster endpoint (set by mlplat); 0: connect directly"))
        endpoint = aws.outputs["cluster_endpoint"]
        cluster = {
            "host": Token.as_string(Fn.conditional(Op.gt(tunnel_port.number_value, 0),
                                                   Fn.format("https://127.0.0.1:%d", [tunnel_port.number_value]),
                                                   endpoint)),
            "tls_server_name": Fn.replace(endpoint, "https://", ""),
            "cluster_ca_certificate": f"${{base64decode({aws.outputs['cluster_certificate_authority_data']})}}",
            # A short-lived token from the caller's AWS credentials at plan/apply time: no kubeconfig, no secret.
            "exec": {"api_version": "client.authentication.k8s.io/v1beta1", "command": "aws",
                     "args": ["eks", "get-token", "--cluster-name", aws.outputs["cluster_name"],
                              "--region", bp.region, "--output", "json"]},
        }
        # Helm is the only provider: every add-on, including the platform's own objects (the manifests chart), is a
        # Helm release, so the hashicorp/kubernetes provider (and its download) is not needed.
        HelmProvider(self, "helm", kubernetes=cluster)
        self.add_override("terraform.required_providers.helm.version", versions.HELM_PROVIDER_CONSTRAINT)

        context = AddonContext(blueprint=bp, outputs=aws.outputs)
        self.releases: dict[str, AddonRelease] = {}
        manifests_chart: str | None = None

        def release(addon: AddOn, values: dict[str, Any], after: tuple[str, ...] = ()) -> None:
            nonlocal manifests_chart
            chart_path = None
            if addon.chart is None:
                if manifests_chart is None:
                    manifests_chart = TerraformAsset(self, "manifests-chart", path=str(LOCAL_CHARTS_DIR / MANIFESTS_CHART),
                                                     type=AssetType.DIRECTORY).path
                chart_path = manifests_chart
            self.releases[addon.name] = AddonRelease(
                self, addon.name, addon=addon, values=values, chart_path=chart_path,
                depends_on=[self.releases[d].release for d in dict.fromkeys((*addon.dependencies, *after))],
            )

        # --- delivery mode (modules issue): 'argocd' installs Argo CD and what it depends on with Helm, and every
        # other add-on as an Argo CD Application of the same chart, version and values (modules/argocd_application.py).
        order = install_order(REGISTRY, bp)
        gitops = None
        if bp.addons_delivery == "argocd":
            gitops = GitOpsConfig(project=bp.name, namespace=ARGOCD_APPLICATIONS.namespace,
                                  manifests_repo_url=bp.argocd_manifests_repo_url,
                                  manifests_revision=bp.argocd_manifests_repo_revision,
                                  manifests_path=bp.argocd_manifests_repo_path)
            helm_installed = helm_bootstrap(order)
            waves = sync_waves(order, helm_installed)
        self.applications: dict[str, dict[str, Any]] = {}
        for addon in order:
            if gitops is not None and addon.name not in helm_installed:
                self.applications[addon.name] = application(addon, values_for(addon, context), gitops,
                                                            waves[addon.name])
            else:
                release(addon, values_for(addon, context))
        if gitops is not None:
            # The parent starts the first sync wave once the whole Helm bootstrap (node pools included) is up.
            release(ARGOCD_APPLICATIONS, {"objects": delivery_objects(list(self.applications.values()), gitops)},
                    after=tuple(sorted(helm_installed)))
        # --- end delivery mode
        TerraformOutput(self, "releases", value=sorted(self.releases))
