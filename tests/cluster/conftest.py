"""The fake Kubernetes API and an official client for it, for every module here (a module seeds its own `fake`
by overriding that fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from mlplat.kube import fake_api as F
from mlplat.kube.client import loopback_api_client


@pytest.fixture
def fake() -> Iterator[F.FakeKubeApi]:
    with F.FakeKubeApi() as server:
        yield server


@pytest.fixture
def api(fake: F.FakeKubeApi) -> Iterator[client.ApiClient]:
    with loopback_api_client(fake.url) as api_client:
        yield api_client
