"""The four blueprints the stack's tests share (each synthesized once per session): the canonical blueprint with the
stack off, and the stack on with each logs backend, with and without tracing."""

from __future__ import annotations

import pytest

from tests.support.synth import Synth, synth

ON = {"enable_ai_ml_observability_stack": True}
# Loki with tracing, and every sizing key away from its default.
LOKI_TRACING = {**ON, "observability_logs_backend": "loki", "enable_tracing": True, "prometheus_retention": "30d",
                "prometheus_storage_gib": 200, "logs_storage_gib": 50, "tracing_storage_gib": 20}
# OpenSearch with tracing, and Kueue (whose controller gets a ServiceMonitor).
OPENSEARCH_TRACING = {**ON, "enable_tracing": True, "enable_kueue": True}
# An EFA pool (EFA exporter) without FSx (no CloudWatch exporter); and the same pool with the stack off.
EFA_POOL = {"nodepools": {"gpu-efa": {"enabled": True}}, "cuda_efa_az": "us-west-2a"}
EFA_NO_FSX = {**ON, **EFA_POOL, "enable_fsx": False}


@pytest.fixture(scope="session")
def off() -> Synth:
    return synth()


@pytest.fixture(scope="session")
def on() -> Synth:
    return synth(ON)


@pytest.fixture(scope="session")
def loki_tracing() -> Synth:
    return synth(LOKI_TRACING)


@pytest.fixture(scope="session")
def opensearch_tracing() -> Synth:
    return synth(OPENSEARCH_TRACING)


@pytest.fixture(scope="session")
def efa() -> Synth:
    return synth(EFA_NO_FSX)


@pytest.fixture(scope="session")
def efa_stack_off() -> Synth:
    return synth(EFA_POOL)


@pytest.fixture(scope="session")
def stack_on(on, loki_tracing, opensearch_tracing) -> dict[str, Synth]:
    return {"opensearch": on, "loki+tracing": loki_tracing, "opensearch+tracing+kueue": opensearch_tracing}
