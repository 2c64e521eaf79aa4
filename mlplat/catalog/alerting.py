"""Alertmanager's configuration from the blueprint's receivers: routing by severity, a Watchdog route for a dead
man's switch, and inhibition of warnings by criticals on the same target.

Credentials never enter the configuration: External Secrets copies each receiver's Secrets Manager secret into the
`alertmanager-receivers` Secret, which Alertmanager mounts, and the configuration names the mounted files
(`api_url_file`, `routing_key_file`, `credentials_file`). SNS needs no credential: Alertmanager signs with its Pod
Identity role (modules/alert_publisher.py), allowed to publish to exactly the listed topics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplat.observability_config import SEVERITIES

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

RECEIVER_SECRET = "alertmanager-receivers"
SECRETS_DIR = "/etc/alertmanager/secrets"  # where the operator mounts alertmanagerSpec.secrets
ALERTMANAGER_NAMESPACE = "monitoring"
ALERTMANAGER_SERVICE_ACCOUNT = "alertmanager"
NULL_RECEIVER = "null"
# Labels that name what an alert is about, for inhibition: a critical alert on a GPU silences warnings on that GPU.
GPU_TARGET = ("node", "gpu")


def secret_file(receiver: str) -> str:
    return f"{SECRETS_DIR}/{RECEIVER_SECRET}/{receiver}"


def _receiver(bp: "Blueprint", name: str) -> dict[str, Any]:
    r = bp.alert_receivers[name]
    if r.type == "slack":
        slack: dict[str, Any] = {"api_url_file": secret_file(name), "send_resolved": True}
        if r.channel:
            slack["channel"] = r.channel
        return {"name": name, "slack_configs": [slack]}
    if r.type == "pagerduty":
        return {"name": name, "pagerduty_configs": [{"routing_key_file": secret_file(name), "send_resolved": True}]}
    if r.type == "webhook":
        hook: dict[str, Any] = {"url": r.url, "send_resolved": True}
        if r.secret:
            hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": secret_file(name)}}
        return {"name": name, "webhook_configs": [hook]}
    region = r.topic_arn.split(":")[3]
    return {"name": name, "sns_configs": [{"topic_arn": r.topic_arn, "sigv4": {"region": region},
                                           "send_resolved": True}]}


def _severity_matcher(severities: tuple[str, ...]) -> str:
    if len(severities) == 1:
        return f'severity = "{severities[0]}"'
    return 'severity =~ "' + "|".join(s for s in SEVERITIES if s in severities) + '"'


def alertmanager_config(bp: "Blueprint") -> dict[str, Any]:
    """The whole Alertmanager configuration (replaces the chart's, which sends everything to `null`)."""
    watchdog = bp.alert_watchdog_receiver or NULL_RECEIVER
    routes: list[dict[str, Any]] = [{
        # The always-firing alert proves the pipeline works end to end; it must reach only the dead man's switch.
        "receiver": watchdog, "matchers": ['alertname = "Watchdog"'],
        "group_wait": "0s", "group_interval": "1m", "repeat_interval": "1m",
    }, {
        # kube-prometheus-stack's helper that only exists to inhibit info alerts.
        "receiver": NULL_RECEIVER, "matchers": ['alertname = "InfoInhibitor"'],
    }]
    for name, receiver in sorted(bp.alert_receivers.items()):
        if name == bp.alert_watchdog_receiver:
            continue  # a dead man's switch gets the heartbeat only
        # `continue`: every receiver whose severities match gets the alert, not only the first.
        routes.append({"receiver": name, "matchers": [_severity_matcher(receiver.severities)], "continue": True})
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NULL_RECEIVER, "group_by": ["alertname", "namespace", "node"],
            "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h", "routes": routes,
        },
        "inhibit_rules": [
            # The same alert at a higher severity (the chart's own pairs, e.g. KubeletTooManyPods).
            {"source_matchers": ['severity = "critical"'], "target_matchers": ['severity =~ "warning|info"'],
             "equal": ["namespace", "alertname"]},
            {"source_matchers": ['severity = "warning"'], "target_matchers": ['severity = "info"'],
             "equal": ["namespace", "alertname"]},
            # A broken GPU (fatal XID, uncorrectable ECC, row remap failure) silences its throttling, idle and
            # application-XID warnings. Both sides must carry the labels: an absent label would match any other.
            {"source_matchers": ['severity = "critical"', *(f'{label} =~ ".+"' for label in GPU_TARGET)],
             "target_matchers": ['severity =~ "warning|info"', *(f'{label} =~ ".+"' for label in GPU_TARGET)],
             "equal": list(GPU_TARGET)},
            {"source_matchers": ['alertname = "InfoInhibitor"'], "target_matchers": ['severity = "info"'],
             "equal": ["namespace"]},
        ],
        "receivers": [{"name": NULL_RECEIVER}, *(_receiver(bp, name) for name in sorted(bp.alert_receivers))],
    }


def alertmanager_values(bp: "Blueprint") -> dict[str, Any]:
    """Platform-owned kube-prometheus-stack values for Alertmanager."""
    spec: dict[str, Any] = {}
    if bp.alert_secrets:
        spec["secrets"] = [RECEIVER_SECRET]
    return {"config": alertmanager_config(bp),
            "serviceAccount": {"create": True, "name": ALERTMANAGER_SERVICE_ACCOUNT},
            "alertmanagerSpec": spec}
