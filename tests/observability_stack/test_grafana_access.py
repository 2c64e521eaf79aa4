"""Grafana keeps its database on its own encrypted volume (grafana_storage_gib; 0: in the pod) and is reachable only
inside the cluster unless the blueprint asks for an internal network load balancer, which admits only the listed
CIDRs (the VPC's by default) — seed 004 exposes Grafana on an NLB; here it stays internal and restricted."""

from __future__ import annotations

import pytest

from mlplat.blueprint import parse_text
from mlplat.errors import BlueprintError
from tests.observability_stack.blueprints import ON
from tests.observability_stack.test_chart_values import leaf_keys
from tests.observability_stack.verified_keys import SUBCHARTS, accepted
from tests.support.synth import Synth, blueprint_text, synth

NLB = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
       "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
       "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
       "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance"}


def grafana(s: Synth) -> dict:
    return s.values("kube-prometheus-stack")["grafana"]


def test_grafana_keeps_its_database_on_an_encrypted_volume_and_stays_clusterip(on: Synth):
    values = grafana(on)
    assert values["persistence"] == {"enabled": True, "storageClassName": "gp3", "size": "10Gi"}
    assert values["deploymentStrategy"] == {"type": "Recreate"}  # a ReadWriteOnce volume cannot move mid-rollout
    assert "service" not in values and values["ingress"] == {"enabled": False}


def test_no_volume_with_zero_and_an_internal_restricted_nlb_when_asked():
    s = synth({**ON, "grafana_storage_gib": 0, "grafana_internal_load_balancer": True})
    values = grafana(s)
    assert "persistence" not in values and "deploymentStrategy" not in values
    assert values["service"] == {"type": "LoadBalancer", "annotations": NLB,
                                 "loadBalancerSourceRanges": ["10.1.0.0/16"]}
    # Keys recorded for the grafana chart kube-prometheus-stack pins (the stack's own key check covers the rest).
    assert [k for k in leaf_keys(values["service"], "service") if not accepted(k, SUBCHARTS["grafana"].keys)] == []
    listed = grafana(synth({**ON, "grafana_internal_load_balancer": True,
                            "grafana_load_balancer_source_cidrs": ["10.20.0.0/16", "192.168.0.0/24"]}))
    assert listed["service"]["loadBalancerSourceRanges"] == ["10.20.0.0/16", "192.168.0.0/24"]


@pytest.mark.parametrize("delta, message", [
    ({"grafana_load_balancer_source_cidrs": ["10.0.0.0/8"]},
     "grafana_load_balancer_source_cidrs: has no effect without grafana_internal_load_balancer = true; set it or "
     "remove this key"),
    ({"grafana_internal_load_balancer": True, "grafana_load_balancer_source_cidrs": ["10.0.0.1/8"]},
     "grafana_load_balancer_source_cidrs[0]: expected a CIDR such as '10.0.0.0/8', got '10.0.0.1/8'"),
])
def test_load_balancer_keys_are_checked(delta, message):
    with pytest.raises(BlueprintError) as caught:
        parse_text(blueprint_text({**ON, **delta}), "b.tfvars")
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [message]
