"""The stack's blueprint keys: defaults, bounds, and keys that would do nothing without the stack."""

from __future__ import annotations

import pytest

from mlplat.blueprint import parse_text
from mlplat.errors import BlueprintError

STACK = "enable_ai_ml_observability_stack = true\n"


def problems(text):
    with pytest.raises(BlueprintError) as err:
        parse_text(text, "bp.tfvars")
    return str(err.value).splitlines()


def test_defaults_are_opensearch_no_tracing_15_days():
    bp = parse_text(STACK, "bp.tfvars")
    assert (bp.observability_logs_backend, bp.enable_tracing, bp.prometheus_retention, bp.prometheus_storage_gib,
            bp.logs_storage_gib, bp.tracing_storage_gib) == ("opensearch", False, "15d", 100, 100, 50)
    assert (bp.needs_opensearch, bp.needs_loki, bp.needs_tracing) == (True, False, False)
    loki = parse_text(STACK + 'observability_logs_backend = "loki"\nenable_tracing = true\n', "bp.tfvars")
    assert (loki.needs_opensearch, loki.needs_loki, loki.needs_tracing) == (False, True, True)
    off = parse_text("", "bp.tfvars")
    assert (off.needs_opensearch, off.needs_loki, off.needs_tracing) == (False, False, False)


@pytest.mark.parametrize(("text", "expected"), [
    ('observability_logs_backend = "elasticsearch"\n',
     "bp.tfvars:2: observability_logs_backend: expected one of 'opensearch', 'loki', got 'elasticsearch'; "
     "did you mean 'opensearch'?"),
    ('prometheus_retention = "15 days"\n',
     "bp.tfvars:2: prometheus_retention: expected a duration such as '15d', '720h' or '4w', got '15 days'"),
    ('prometheus_retention = "0d"\n',
     "bp.tfvars:2: prometheus_retention: expected a duration such as '15d', '720h' or '4w', got '0d'"),
    ("prometheus_storage_gib = 5\n",
     "bp.tfvars:2: prometheus_storage_gib: expected a number between 10 and 16384, got 5"),
    ("logs_storage_gib = 20000\n", "bp.tfvars:2: logs_storage_gib: expected a number between 10 and 16384, got 20000"),
    ('enable_tracing = "yes"\n', "bp.tfvars:2: enable_tracing: expected true or false, got 'yes'"),
], ids=["backend", "retention words", "retention zero", "prometheus volume", "logs volume", "tracing type"])
def test_bad_values_are_reported_with_the_expected_form(text, expected):
    assert problems(STACK + text) == [expected]


def test_stack_keys_without_the_stack_are_errors_not_silent_no_ops():
    text = ('enable_tracing = true\nobservability_logs_backend = "loki"\nprometheus_retention = "30d"\n'
            "prometheus_storage_gib = 50\nlogs_storage_gib = 50\ntracing_storage_gib = 20\n")
    fix = "has no effect without the observability stack; set enable_ai_ml_observability_stack = true or remove it"
    assert problems(text) == [f"bp.tfvars:{n}: {key}: {fix}" for n, key in enumerate(
        ["enable_tracing", "observability_logs_backend", "prometheus_retention", "prometheus_storage_gib",
         "logs_storage_gib", "tracing_storage_gib"], start=1)]
    assert parse_text(STACK + text, "bp.tfvars").needs_tracing
    # Restating a default is harmless.
    assert not parse_text('enable_tracing = false\nobservability_logs_backend = "opensearch"\n', "bp.tfvars").needs_tracing
