"""Test session setup: jsii's Node 20 notice off, the repository on sys.path, and the order tests start in.

Under pytest-xdist (`make test` runs `-n 6 --dist loadgroup`) each end-to-end round trip is a group of its own and
starts first: they spend most of their time waiting on the AWS provider's fixed waits, while the other workers run
the rest. Each test module is a group too, so its module-scoped synth fixtures are built once.
"""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# The slowest modules (seconds of terraform, checkov, node or a second Python process each, measured with
# `pytest -p no:xdist --durations=0`), started right after the round trips so that no worker ends on one alone.
SLOW_MODULES = (
    "tests/foundation/test_terraform_validate.py",
    "tests/audit/test_aws_layer_audit.py",
    "tests/foundation/test_checkov.py",
    "tests/foundation/test_cdktn_cli.py",
    "tests/observability/test_prometheus_integration.py",
    "tests/emulator/test_persistence.py",
    "tests/emulator/test_inventory.py",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): tests pytest-xdist runs on one worker")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = item.nodeid if item.get_closest_marker("e2e") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("e2e"):
            return -1
        module = item.nodeid.split("::")[0]
        return SLOW_MODULES.index(module) if module in SLOW_MODULES else len(SLOW_MODULES)

    # Longest first: the round trips, the slow modules, then everything else in collection order.
    items.sort(key=rank)
