"""Builds the App's stacks from a blueprint: the AWS layer, then the Kubernetes layer fed by its outputs."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn import App

from mlplat import versions
from mlplat.blueprint import Blueprint
from mlplat.settings import Settings
from stacks.aws_layer import AwsLayer
from stacks.kubernetes_layer import KubernetesLayer


@dataclass(frozen=True)
class Stacks:
    aws: AwsLayer
    kubernetes: KubernetesLayer

    @property
    def in_order(self) -> tuple[str, ...]:
        return (self.aws.node.id, self.kubernetes.node.id)


def new_app(settings: Settings) -> App:
    return App(outdir=str(settings.outdir), context={"targetVersions": dict(versions.TARGET_VERSIONS)})


def add_stacks(app: App, blueprint: Blueprint, settings: Settings) -> Stacks:
    aws = AwsLayer(app, blueprint, settings)
    return Stacks(aws=aws, kubernetes=KubernetesLayer(app, blueprint, settings, aws))
