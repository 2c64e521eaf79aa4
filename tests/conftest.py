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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = item.nodeid if item.get_closest_marker("e2e") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
    # Longest first: the round trips, then everything else in collection order.
    items.sort(key=lambda item: 0 if item.get_closest_marker("e2e") else 1)
