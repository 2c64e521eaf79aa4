"""The add-on registry: install order, and errors naming both sides of a missing, conflicting or cyclic dependency."""

from __future__ import annotations

import pytest

from mlplat import versions
from mlplat.addons import AddOn, AddonGraphError, deep_merge, escape_for_terraform, install_order
from mlplat.blueprint import parse_text
from mlplat.catalog import REGISTRY, by_name

BP = parse_text('name = "demo"\n', "bp.tfvars")
ON = lambda bp: True  # noqa: E731
OFF = lambda bp: False  # noqa: E731


def names(addons):
    return [a.name for a in addons]


def test_dependencies_come_first_and_ties_keep_registry_order():
    reg = [AddOn("app", "ns", ON, depends_on=("crds", "db")), AddOn("db", "ns", ON, depends_on=("crds",)),
           AddOn("crds", "ns", ON), AddOn("extra", "ns", ON)]
    assert names(install_order(reg, BP)) == ["crds", "db", "app", "extra"]


def test_disabled_dependency_names_both_sides_and_the_toggle():
    reg = [AddOn("grafana-dashboards", "ns", ON, depends_on=("kube-prometheus-stack",)),
           AddOn("kube-prometheus-stack", "ns", OFF, toggle="enable_ai_ml_observability_stack")]
    with pytest.raises(AddonGraphError) as err:
        install_order(reg, BP)
    assert str(err.value) == ("add-on 'grafana-dashboards' depends on 'kube-prometheus-stack', which is not enabled "
                              "(set enable_ai_ml_observability_stack = true)")


def test_unknown_dependency():
    with pytest.raises(AddonGraphError) as err:
        install_order([AddOn("a", "ns", ON, depends_on=("ghost",))], BP)
    assert str(err.value) == "add-on 'a' depends on 'ghost', which is not in the registry"


def test_conflict_names_both_sides():
    reg = [AddOn("nvidia-device-plugin", "ns", ON, conflicts_with=("gpu-operator",)), AddOn("gpu-operator", "ns", ON)]
    with pytest.raises(AddonGraphError) as err:
        install_order(reg, BP)
    assert str(err.value) == "add-on 'nvidia-device-plugin' conflicts with 'gpu-operator': enable only one of them"


def test_cycle_is_named_in_full():
    reg = [AddOn("a", "ns", ON, depends_on=("b",)), AddOn("b", "ns", ON, depends_on=("c",)),
           AddOn("c", "ns", ON, depends_on=("a",))]
    with pytest.raises(AddonGraphError) as err:
        install_order(reg, BP)
    assert str(err.value) == "add-on dependency cycle: a -> b -> c -> a"


def test_registry_is_consistent():
    known = by_name()
    assert len(known) == len(REGISTRY)
    for addon in REGISTRY:
        assert set(addon.depends_on) <= set(known), addon.name
        assert set(addon.conflicts_with) <= set(known), addon.name
        if addon.chart is not None:
            assert addon.chart in versions.CHARTS.values(), f"{addon.name} is not pinned in mlplat/versions.py"


def test_every_pin_says_where_it_comes_from():
    for key, chart in versions.CHARTS.items():
        assert chart.version and chart.source and chart.repository.startswith(("https://", "oci://")), key


def test_values_merge_maps_and_replace_lists():
    base = {"a": {"b": 1, "c": [1, 2]}, "keep": True}
    assert deep_merge(base, {"a": {"c": [3], "d": 4}}) == {"a": {"b": 1, "c": [3], "d": 4}, "keep": True}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "keep": True}  # the base is not modified


def test_literal_templates_are_escaped_but_cdktn_tokens_are_not():
    text = 'title: ${datasource} %{if} ref: ${TfToken[TOKEN.12]}'
    assert escape_for_terraform(text) == 'title: $${datasource} %%{if} ref: ${TfToken[TOKEN.12]}'
