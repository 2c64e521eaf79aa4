"""Test session setup: jsii's Node 20 notice off, the repository on sys.path, and the order tests start in.

Under pytest-xdist (`make test` runs `-n 4 --dist loadgroup`) each end-to-end round trip is a group of its own and
starts first: they spend most of their time waiting on the AWS provider's fixed waits, while the other workers run
the rest. Each test module is a group too, so its module-scoped synth fixtures are built once.
"""

import gc
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# terraform run directly by tests (not through mlplat) collects garbage as mlplat has it do (mlplat/runner.py).
os.environ.setdefault("GOGC", "400")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# pytest-xdist gives every worker two groups at the start: a round trip's worker would run its second one only after
# minutes. These quick modules (no synthesis, no subprocess) are those second groups.
QUICK_MODULES = (
    "tests/accelerators/test_validation.py",
    "tests/modules/test_blueprint_rules.py",
    "tests/foundation/test_docs.py",
    "tests/foundation/test_destroy_checks.py",
    "tests/observability_stack/test_blueprint_keys.py",
)
# The slowest modules (seconds of terraform, checkov, node or a second Python process each, measured with
# `pytest -p no:xdist --durations=0`), started next so that no worker ends the run on one alone.
SLOW_MODULES = (
    "tests/foundation/test_terraform_validate.py",
    "tests/audit/test_aws_layer_audit.py",
    "tests/foundation/test_checkov.py",
    "tests/foundation/test_cdktn_cli.py",
    "tests/observability/test_prometheus_integration.py",
    "tests/emulator/test_persistence.py",
    "tests/emulator/test_inventory.py",
    "tests/observability/test_rules.py",  # the alert mutation check: one promtool run over every mutant
    "tests/emulator/test_adopt.py",  # one terraform apply, three plans
)
ORDER = QUICK_MODULES + SLOW_MODULES


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): tests pytest-xdist runs on one worker")
    if _is_xdist_controller(config) and config.getoption("testrunuid") is None:
        # Named here so that the run's shared synthesis directory (tests/support/synth.py) can be removed at its end.
        config.option.testrunuid = uuid.uuid4().hex


def pytest_collection_finish(session: pytest.Session) -> None:
    # A worker holds moto's and botocore's models, jsii's and the synthesized stacks: cyclic GC over that heap took
    # 15-24 s of each worker's CPU in `make test-fast` (measured with gc.callbacks). Everything imported for collection
    # lives to the end, so it is frozen out of the collector's view, and full collections are made rarer.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_xdist_controller(config):
        from tests.support.synth import shared_synth_root

        shutil.rmtree(shared_synth_root(config.option.testrunuid), ignore_errors=True)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (not hasattr(config, "workerinput") and config.pluginmanager.hasplugin("xdist")
            and bool(config.getoption("numprocesses", None)))


# First: xdist's own hook turns the xdist_group markers into the node IDs' "@group" suffixes, and a marker added
# after it is ignored (every module was then split across workers, building its module fixtures once per worker).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = item.nodeid if item.get_closest_marker("e2e") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("e2e"):
            return -1
        module = item.nodeid.split("::")[0]
        return ORDER.index(module) if module in ORDER else len(ORDER)

    # The round trips first, then the quick and the slow modules, then everything else in collection order. (The
    # Makefile passes --no-loadscope-reorder: xdist would otherwise start the groups with the most tests first.)
    items.sort(key=rank)
