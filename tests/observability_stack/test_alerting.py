"""Alert delivery: Alertmanager's configuration rendered from the blueprint's receivers, checked by amtool (Debian's
prometheus-alertmanager package) for validity and for where each severity is routed, and the cluster and AWS objects
that carry the receivers' credentials and permissions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mlplat.errors import BlueprintError
from tests.observability import support as s
from tests.observability_stack.blueprints import ON, RECEIVERS
from tests.support.synth import Synth, blueprint_text, synth

FILES = "/etc/alertmanager/secrets/alertmanager-receivers"


@pytest.fixture(scope="module")
def receivers() -> Synth:
    return synth(RECEIVERS)


def alertmanager(s_: Synth) -> dict:
    return s_.values("kube-prometheus-stack")["alertmanager"]


def config_file(s_: Synth, tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(alertmanager(s_)["config"]))
    return path


def routed(config: Path, *labels: str) -> list[str]:
    """The receivers amtool's routing test picks for an alert with `labels`."""
    proc = subprocess.run([s.tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(proc.stdout.strip().split(","))


@pytest.mark.parametrize("name", ["on", "receivers"])
def test_amtool_accepts_the_configuration(name, on, receivers, tmp_path):
    proc = subprocess.run([s.tool("amtool"), "check-config", str(config_file({"on": on, "receivers": receivers}[name],
                                                                                 tmp_path))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_each_severity_reaches_the_receivers_that_asked_for_it(receivers, tmp_path):
    config = config_file(receivers, tmp_path)
    assert {severity: routed(config, f"severity={severity}", "alertname=GPUXidErrorFatal")
            for severity in ("critical", "warning", "info")} == {
        "critical": ["audit", "ml-team", "oncall"],
        "warning": ["audit", "ml-team", "tickets"],
        "info": ["audit"],
    }
    # The heartbeat goes to the dead man's switch only, which gets nothing else.
    assert routed(config, "alertname=Watchdog", "severity=none") == ["deadman"]
    assert routed(config, "alertname=InfoInhibitor", "severity=none") == ["null"]


def test_without_receivers_alerts_stay_in_alertmanager(on, tmp_path):
    config = config_file(on, tmp_path)
    assert routed(config, "severity=critical") == ["null"]
    assert routed(config, "alertname=Watchdog", "severity=none") == ["null"]
    assert alertmanager(on)["alertmanagerSpec"].get("secrets") is None
    assert "alertmanager-receivers" not in {o["metadata"]["name"] for o in on.objects("platform-secrets")}
    sids = {st.get("Sid") for r in on.resources("aws", "aws_iam_role_policy").values()
            for st in json.loads(r["policy"])["Statement"]}
    assert {"ReadPlatformSecrets"} <= sids and not {"ReadNamedUserSecrets", "PublishAlerts"} & sids
    assert [r["name"] for r in on.resources("aws", "aws_iam_role").values() if "alertmanager" in r["name"]] == []


def test_receivers_read_their_credentials_from_mounted_files(receivers):
    got = {r["name"]: {k: v for k, v in r.items() if k != "name"}
           for r in alertmanager(receivers)["config"]["receivers"]}
    assert got == {
        "null": {},
        "oncall": {"pagerduty_configs": [{"routing_key_file": f"{FILES}/oncall", "send_resolved": True}]},
        "ml-team": {"slack_configs": [{"api_url_file": f"{FILES}/ml-team", "send_resolved": True,
                                       "channel": "#ml-alerts"}]},
        "deadman": {"webhook_configs": [{"url": "https://nosnch.in/abc123", "send_resolved": True}]},
        "tickets": {"webhook_configs": [{"url": "https://tickets.example.com/alertmanager", "send_resolved": True,
                                         "http_config": {"authorization": {
                                             "type": "Bearer", "credentials_file": f"{FILES}/tickets"}}}]},
        "audit": {"sns_configs": [{"topic_arn": "arn:aws:sns:us-west-2:123456789012:ml-alerts",
                                   "sigv4": {"region": "us-west-2"}, "send_resolved": True}]},
    }
    assert alertmanager(receivers)["alertmanagerSpec"]["secrets"] == ["alertmanager-receivers"]
    assert alertmanager(receivers)["serviceAccount"] == {"create": True, "name": "alertmanager"}


def test_external_secrets_copies_exactly_the_named_secrets(receivers):
    [external] = [o for o in receivers.objects("platform-secrets")
                  if o["kind"] == "ExternalSecret" and o["metadata"]["name"] == "alertmanager-receivers"]
    assert external["metadata"]["namespace"] == "monitoring"
    assert external["spec"]["data"] == [
        {"secretKey": "ml-team", "remoteRef": {"key": "ops/slack-webhook"}},
        {"secretKey": "oncall", "remoteRef": {"key": "ops/pagerduty-routing-key"}},
        {"secretKey": "tickets", "remoteRef": {"key": "ops/tickets-token"}},
    ]
    statements = {st["Sid"]: st for r in receivers.resources("aws", "aws_iam_role_policy").values()
                  for st in json.loads(r["policy"])["Statement"]}
    prefix = "arn:${data.aws_partition.partition.partition}:secretsmanager:us-west-2:"
    resources = statements["ReadNamedUserSecrets"]["Resource"]
    assert [r.split(":secret:")[1] for r in resources] == ["ops/pagerduty-routing-key-??????",
                                                            "ops/slack-webhook-??????", "ops/tickets-token-??????"]
    assert all(r.startswith(prefix) for r in resources), resources


def test_alertmanager_may_publish_to_exactly_the_listed_topics(receivers):
    statements = {st["Sid"]: st for r in receivers.resources("aws", "aws_iam_role_policy").values()
                  for st in json.loads(r["policy"])["Statement"]}
    assert statements["PublishAlerts"] == {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
                                           "Resource": ["arn:aws:sns:us-west-2:123456789012:ml-alerts"]}
    identities = {(a["namespace"], a["service_account"])
                  for a in receivers.resources("aws", "aws_eks_pod_identity_association").values()}
    assert ("monitoring", "alertmanager") in identities
    [role] = [r for r in receivers.resources("aws", "aws_iam_role").values() if r["name"] == "mlplat-alertmanager"]
    trust = json.loads(role["assume_role_policy"])["Statement"][0]["Condition"]["StringEquals"]
    assert (trust["aws:RequestTag/kubernetes-namespace"], trust["aws:RequestTag/kubernetes-service-account"]) == (
        "monitoring", "alertmanager")


def test_a_critical_gpu_alert_inhibits_warnings_on_that_gpu_only(receivers):
    rules = alertmanager(receivers)["config"]["inhibit_rules"]
    assert {"source_matchers": ['severity = "critical"', 'node =~ ".+"', 'gpu =~ ".+"'],
            "target_matchers": ['severity =~ "warning|info"', 'node =~ ".+"', 'gpu =~ ".+"'],
            "equal": ["node", "gpu"]} in rules


def test_bad_receivers_are_refused_with_the_fix():
    from mlplat.blueprint import parse_text

    text = blueprint_text({**ON, "alert_watchdog_receiver": "deadmn", "alert_receivers": {
        "sns-bad": {"type": "sns", "secret": "x"},
        "hook": {"type": "webhook"},
        "quiet": {"type": "slack", "secret": "s", "severities": []},
        "deadman": {"type": "webhook", "url": "https://x.example.com", "severities": ["critical"]},
        "untyped": {"secret": "s"},
    }})
    with pytest.raises(BlueprintError) as err:
        parse_text(text, "test.tfvars")
    assert [p.split(": ", 1)[1] for p in err.value.problems] == [
        "alert_watchdog_receiver: names no receiver of alert_receivers; did you mean 'deadman'?",
        "alert_receivers.sns-bad: sns receivers need topic_arn; they take topic_arn",
        "alert_receivers.sns-bad.secret: sns receivers take topic_arn, not secret; remove it",
        "alert_receivers.hook: webhook receivers need url; they take url and optionally secret (a bearer token)",
        "alert_receivers.quiet.severities: expected at least one of 'critical', 'warning', 'info'; remove the "
        "receiver if it should get none",
        "alert_receivers.untyped.type: required key is missing: expected one of 'slack', 'pagerduty', 'webhook', "
        "'sns'",
    ]


def test_a_watchdog_receiver_takes_no_severities():
    from mlplat.blueprint import parse_text

    with pytest.raises(BlueprintError) as err:
        parse_text(blueprint_text({**ON, "alert_watchdog_receiver": "deadman", "alert_receivers": {
            "deadman": {"type": "webhook", "url": "https://x.example.com", "severities": ["critical"]}}}),
            "test.tfvars")
    assert [p.split(": ", 1)[1] for p in err.value.problems] == [
        "alert_receivers.deadman.severities: the alert_watchdog_receiver gets only the Watchdog alert; remove "
        "severities, or add another receiver for alerts"]
