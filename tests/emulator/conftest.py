"""Fixtures for the embedded local AWS: a running emulator, boto3 clients for it, and an EKS cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlplat.emulator import LocalAws

from .support import REGION, ClientFactory, Cluster, client_factory, create_cluster


@pytest.fixture(scope="module")
def shared_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """One emulator for a whole test module (API tests use unique names, so they do not collide)."""
    with LocalAws(tmp_path_factory.mktemp("emulator-state"), region=REGION) as aws:
        yield aws


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[LocalAws]:
    """A fresh, empty emulator for one test."""
    with LocalAws(tmp_path / "emulator-state", region=REGION) as local_aws:
        yield local_aws


@pytest.fixture(scope="module")
def client(shared_aws: LocalAws) -> ClientFactory:
    return client_factory(shared_aws)


@pytest.fixture
def cluster(client: ClientFactory) -> Cluster:
    return create_cluster(client)
