"""AWS-managed IAM policies (AmazonEKSClusterPolicy, ...) in the partition the emulator serves.

moto ships them but loads none by default, so attaching one fails with NoSuchEntity. Loading them everywhere would
load them once per partition (moto visits every partition's IAM backend to map access keys to accounts), about 0.6 s
and 3 MB of saved state each; so only the served partition gets them.

Service-linked role names: moto derives them from the service principal (spot.amazonaws.com -> AWSServiceRoleForspot);
EC2 Spot's is AWSServiceRoleForEC2Spot (the ARN AWS's own managed policies name:
arn:aws:iam::*:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot, moto's aws_managed_policies data).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam import models as iam_models
from moto.iam.models import AWSManagedPolicy, IAMBackend, ManagedPolicy


@cache
def _policy_documents() -> dict[str, Any]:
    return json.loads(aws_managed_policies_data)


def install(partition: str) -> None:
    def init_aws_policies(backend: IAMBackend) -> list[ManagedPolicy]:
        if backend.partition != partition:
            return []
        return [
            AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, document)
            for name, document in _policy_documents().items()
        ]

    IAMBackend._init_aws_policies = init_aws_policies  # type: ignore[method-assign]
    iam_models.SERVICE_NAME_CONVERSION["spot"] = "EC2Spot"
