"""The four blueprints the stack's tests share (each synthesized once per session): the canonical blueprint with the
stack off, and the stack on with each logs backend, with and without tracing."""

from __future__ import annotations

import pytest

from tests.observability_stack.blueprints import EFA_NO_FSX, EFA_POOL, LOKI_TRACING, ON, OPENSEARCH_TRACING
from tests.support.synth import Synth, synth


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
