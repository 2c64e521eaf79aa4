"""Every toggle of the anchors' Terraform stacks (recorded from their variables.tf with the commit) is answered: an
mlplat key that does the job, or the reason it is not offered; a blueprint that uses the anchor's name is told which."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mlplat.anchor_keys import ANCHOR_KEYS, OTHER_REFUSALS
from mlplat.blueprint import Blueprint, parse_text
from mlplat.docs import ANCHORS_BEGIN, ANCHORS_END
from mlplat.errors import BlueprintError
from tests.support.paths import ROOT

RECORD = json.loads((ROOT / "tests" / "upstream" / "anchor-toggles.json").read_text())
RECORDED = {name: source["anchor"] for source in RECORD["sources"] for name in source["toggles"]}
BLUEPRINT_KEYS = {f.name for f in dataclasses.fields(Blueprint)}


def error_of(text: str) -> str:
    with pytest.raises(BlueprintError) as caught:
        parse_text(text, "b.tfvars")
    return str(caught.value)


def test_every_recorded_toggle_is_mapped_and_nothing_else():
    assert {n: e.anchor for n, e in ANCHOR_KEYS.items()} == RECORDED


def test_each_source_of_the_record_names_its_commit():
    for source in RECORD["sources"]:
        assert len(source["commit"]) == 40 and source["toggles"], source["repo"]


@pytest.mark.parametrize("name", sorted(ANCHOR_KEYS))
def test_the_keys_a_toggle_maps_to_exist(name):
    entry = ANCHOR_KEYS[name]
    assert set(entry.keys) <= BLUEPRINT_KEYS
    assert entry.offered or entry.note, "a toggle that is not offered says why"


@pytest.mark.parametrize("name", sorted(n for n in ANCHOR_KEYS if n in BLUEPRINT_KEYS))
def test_a_shared_name_is_the_same_key(name):
    assert ANCHOR_KEYS[name].keys == (name,)
    assert parse_text(f"{name} = false\n", "b.tfvars") is not None


@pytest.mark.parametrize("name", sorted(n for n in ANCHOR_KEYS if n not in BLUEPRINT_KEYS))
def test_a_foreign_name_is_answered_not_guessed(name):
    assert error_of(f'name = "demo"\n{name} = true\n') == f"b.tfvars:2: {name}: {ANCHOR_KEYS[name].message()}"


@pytest.mark.parametrize("name", sorted(OTHER_REFUSALS))
def test_other_anchor_names_are_refused_with_their_reason(name):
    assert error_of(f"{name} = true\n") == f"b.tfvars:1: {name}: {OTHER_REFUSALS[name]}"


def test_messages_read_as_written():
    assert error_of("enable_aibrix_stack = true\n") == (
        "b.tfvars:1: enable_aibrix_stack: JARK's AIBrix stack, which mlplat does not offer: not built yet (the MLOps "
        "modules issue tracks it); remove it")
    assert error_of("airflow_enabled = true\n") == (
        "b.tfvars:1: airflow_enabled: MLOps on EKS's name for Airflow; in mlplat that is enable_airflow (the "
        "official chart with the KubernetesExecutor, metadata on Aurora PostgreSQL, task logs on S3, DAGs from git "
        "(airflow_dags_git_repo) or the example DAG that runs a pipeline): use it instead of this key")
    assert error_of("dcgm_exporter_enabled = true\n") == (
        "b.tfvars:1: dcgm_exporter_enabled: MLOps on EKS's name for the DCGM exporter; in mlplat that is "
        "enable_ai_ml_observability_stack (installed with the stack when an NVIDIA pool is enabled, scraped by a "
        "ServiceMonitor): use it instead of this key")


def test_the_readme_table_lists_every_toggle():
    readme = (ROOT / "README.md").read_text()
    table = readme.split(ANCHORS_BEGIN, 1)[1].split(ANCHORS_END, 1)[0]
    listed = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert listed == set(RECORDED)
