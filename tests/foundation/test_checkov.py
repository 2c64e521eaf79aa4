"""checkov (pinned in pyproject.toml, installed into .venv-checkov by `make test`) on the synthesized AWS layer of every
shipped blueprint: no failed check beyond the skip list in .checkov.yaml, where each entry says why it is skipped."""

from __future__ import annotations

import re

import pytest

from tests.support import checkov
from tests.support.paths import ROOT
from tests.support.synth import synth

SHIPPED = sorted([ROOT / "blueprint.tfvars", *(ROOT / "blueprints").glob("*.tfvars")])
# The hardening of the AWS layer these checks see must stay: never skipped, and passed by every resource they cover.
MUST_PASS = {
    "CKV2_AWS_11": "aws_vpc",  # VPC flow logs
    "CKV2_AWS_12": "aws_vpc",  # the default security group allows nothing
    "CKV2_AWS_64": "aws_kms_key",  # an explicit key policy
    "CKV_AWS_158": "aws_cloudwatch_log_group",  # log groups encrypted with the platform key
    "CKV2_AWS_61": "aws_s3_bucket",  # a lifecycle configuration on every bucket
}
RDP = 3389
INTERNET = {"0.0.0.0/0", "::/0"}


@pytest.fixture(scope="module")
def stacks():
    """The AWS layer of each shipped blueprint, by file stem (synthesized once per session, shared with other tests)."""
    return {path.stem: synth(text=path.read_text()).aws for path in SHIPPED}


@pytest.fixture(scope="module")
def checkov_installed():
    return checkov.executable()  # fails with how to install it, before anything is synthesized


@pytest.fixture(scope="module")
def results(checkov_installed, stacks):
    return checkov.scan(stacks)  # one checkov run over all of them: it takes seconds to start


@pytest.mark.parametrize("name", [p.stem for p in SHIPPED])
def test_shipped_blueprint_aws_layer_has_no_failed_checkov_check(results, name):
    # Each line: check ID, terraform address (construct path): check name. Fix the stack, or skip the check in
    # .checkov.yaml with a reason.
    assert results[name].failed == []


@pytest.mark.parametrize("name", [p.stem for p in SHIPPED])
def test_hardening_checks_pass_on_every_resource_they_cover(stacks, results, name):
    resources = stacks[name]["resource"]
    expected = {check: sorted(f"{rtype}.{n}" for n in resources.get(rtype, {})) for check, rtype in MUST_PASS.items()}
    assert {check: results[name].passed.get(check, []) for check in MUST_PASS} == expected
    # The layer always has a VPC, the platform key and log groups (buckets depend on the blueprint).
    assert all(expected[c] for c in ("CKV2_AWS_11", "CKV2_AWS_12", "CKV2_AWS_64", "CKV_AWS_158"))


def _skip_entries() -> list[tuple[str, str]]:
    """(check ID, reason comment) for each line of the skip-check list in .checkov.yaml, as written."""
    entries, inside = [], False
    for line in checkov.CONFIG.read_text().splitlines():
        if re.match(r"skip-check\s*:", line):
            inside = True
        elif inside and re.match(r"\S", line):
            inside = False  # the next top-level key
        elif inside and (m := re.match(r"\s*-\s*([^\s#]+)\s*(?:#\s*(.*))?$", line)):
            entries.append((m.group(1), (m.group(2) or "").strip()))
    return entries


def test_every_skipped_check_has_a_reason():
    entries = _skip_entries()
    assert [check for check, _ in entries] == checkov.skip_list(), "write the skip list one `- ID  # reason` a line"
    assert [check for check, reason in entries if len(reason) < 15] == []
    assert len(set(checkov.skip_list())) == len(checkov.skip_list()), "a check is listed twice"


def test_hardening_checks_are_never_skipped():
    assert sorted(set(checkov.skip_list()) & set(MUST_PASS)) == []


def _covers(rule: dict, port: int) -> bool:
    if str(rule.get("ip_protocol", rule.get("protocol"))) in ("-1", "all"):
        return True
    return rule.get("from_port") is not None and rule["from_port"] <= port <= rule["to_port"]


def _open_to_internet(rule: dict) -> bool:
    cidrs = {rule.get("cidr_ipv4"), rule.get("cidr_ipv6"), *(rule.get("cidr_blocks") or []),
             *(rule.get("ipv6_cidr_blocks") or [])}
    return bool(cidrs & INTERNET)


@pytest.mark.parametrize("name", [p.stem for p in SHIPPED])
def test_no_ingress_rule_opens_rdp_to_the_internet(stacks, name):
    """What CKV_AWS_25 (skipped as a false positive in .checkov.yaml) is after, checked here instead."""
    resources = stacks[name]["resource"]
    rules = [(f"aws_vpc_security_group_ingress_rule.{n}", r)
             for n, r in resources.get("aws_vpc_security_group_ingress_rule", {}).items()]
    rules += [(f"aws_security_group_rule.{n}", r) for n, r in resources.get("aws_security_group_rule", {}).items()
              if r.get("type") == "ingress"]
    rules += [(f"aws_security_group.{n}", r) for n, sg in resources.get("aws_security_group", {}).items()
              for r in sg.get("ingress") or []]
    assert rules, "expected the layer's ingress rules"
    assert [address for address, rule in rules if _covers(rule, RDP) and _open_to_internet(rule)] == []
