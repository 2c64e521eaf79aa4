"""Small shared pieces of the AWS-layer modules: IAM documents as dicts, tags."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping


def policy(*statements: Mapping[str, Any]) -> str:
    """An IAM policy document; tokens inside strings are resolved by cdktn at synth time."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def allow(actions: Iterable[str], resources: Iterable[str] | str = "*", sid: str | None = None,
          condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions),
                            "Resource": resources if isinstance(resources, str) else list(resources)}
    if sid:
        stmt["Sid"] = sid
    if condition:
        stmt["Condition"] = dict(condition)
    return stmt


def service_trust(*services: str) -> str:
    return policy({"Effect": "Allow", "Principal": {"Service": list(services) if len(services) > 1 else services[0]},
                   "Action": "sts:AssumeRole"})


# EKS Pod Identity: the agent assumes the role for the pod, with session tags.
POD_IDENTITY_TRUST = policy(
    {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
)


def managed_policy(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"
