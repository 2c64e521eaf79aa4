"""Karpenter's AWS side against Karpenter's own v1.14 definitions, recorded in
tests/upstream/karpenter-v1.14-controller.yaml: every controller policy statement (actions, resources, condition
keys and values) and every interruption rule, statement for statement."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT

RECORD = yaml.safe_load((ROOT / "tests" / "upstream" / "karpenter-v1.14-controller.yaml").read_text())
PLACEHOLDERS = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-west-2", "${AWS::AccountId}": "123456789012",
                "${ClusterName}": "mlplat", "${KarpenterNodeRole.Arn}": "NODE_ROLE_ARN",
                "${KarpenterInterruptionQueue.Arn}": "QUEUE_ARN"}


def substitute(value: Any) -> Any:
    if isinstance(value, str):
        for placeholder, actual in PLACEHOLDERS.items():
            value = value.replace(placeholder, actual)
        return value
    if isinstance(value, list):
        return [substitute(v) for v in value]
    if isinstance(value, dict):
        return {substitute(k): substitute(v) for k, v in value.items()}
    return value


def normalized(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement as comparable data: sorted action and resource lists, condition values as sorted lists."""
    def listed(v: Any) -> list:
        return sorted(v) if isinstance(v, list) else [v]

    condition = {op: {k: listed(v) for k, v in keys.items()} for op, keys in statement.get("Condition", {}).items()}
    return {"Sid": statement["Sid"], "Effect": statement.get("Effect", "Allow"),
            "Action": listed(statement["Action"]), "Resource": listed(statement["Resource"]), "Condition": condition}


def ours() -> dict[str, list[dict[str, Any]]]:
    # Imported here, not at collection: modules.karpenter_aws loads the jsii runtime, seconds in every test worker.
    from modules.common import ClusterScope
    from modules.karpenter_aws import KarpenterAwsConfig, controller_policies

    scope = ClusterScope(partition="aws", region="us-west-2", account_id="123456789012", cluster_name="mlplat")
    config = KarpenterAwsConfig(scope=scope, cluster_name="mlplat")
    return {name: [normalized(st) for st in statements]
            for name, statements in controller_policies(config, "NODE_ROLE_ARN", "QUEUE_ARN").items()}


def upstream() -> dict[str, list[dict[str, Any]]]:
    return {name: [normalized({"Sid": st["sid"], "Action": st["actions"], "Resource": st["resources"],
                               "Condition": st["condition"]}) for st in substitute(statements)]
            for name, statements in RECORD["policies"].items()}


def test_the_controller_has_upstreams_six_policies():
    assert list(ours()) == list(upstream())


@pytest.mark.parametrize("policy", list(RECORD["policies"]))
def test_every_statement_equals_upstream(policy):
    assert ours()[policy] == upstream()[policy]


def test_no_statement_grants_more_than_upstream():
    """Nothing extra anywhere, e.g. iam:CreateServiceLinkedRole (the Spot role is a blueprint opt-in instead)."""
    granted = {a for statements in ours().values() for st in statements for a in st["Action"]}
    assert granted == {a for statements in upstream().values() for st in statements for a in st["Action"]}
    assert "iam:CreateServiceLinkedRole" not in granted


def test_interruption_rules_are_upstreams_five():
    from modules.karpenter_aws import INTERRUPTION_EVENTS

    rules = sorted((p["source"][0], p["detail-type"][0]) for p in INTERRUPTION_EVENTS.values())
    assert rules == sorted((r["source"], r["detail-type"]) for r in RECORD["interruption_rules"])


def test_synthesized_policies_are_the_same_documents():
    """What the stack writes is controller_policies() with the account's tokens, one managed policy each."""
    from tests.audit.support import resources
    from tests.support.synth import synth

    s = synth()
    docs = {p["name"]: json.loads(p["policy"]) for path, p in resources(s, "aws_iam_policy").items()
            if path.startswith("karpenter/")}
    assert sorted(docs) == sorted(f"{name}-mlplat" for name in RECORD["policies"])
    sids = {name: [st["Sid"] for st in doc["Statement"]] for name, doc in docs.items()}
    assert sids == {f"{name}-mlplat": [st["sid"] for st in statements]
                    for name, statements in RECORD["policies"].items()}
