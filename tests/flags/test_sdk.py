"""The SDK clients: fresh from announcements and polling, never raising, surviving outages."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from structlog.testing import capture_logs

from flags import (
    ActorId,
    AsyncFlags,
    AuditInfo,
    Definition,
    DeleteFlag,
    Flags,
    FlagState,
    FlagStore,
    build_change,
)
from flags.snapshot import Snapshot
from tests.redis_process import RedisProcess

WHO = AuditInfo(who="sdk-test")


def eventually(condition: Callable[[], bool], within: float = 3.0) -> float:
    """Seconds until ``condition`` held; fails after ``within`` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError(f"condition not met within {within}s")
        time.sleep(0.005)
    return time.monotonic() - start


async def async_eventually(condition: Callable[[], bool], within: float = 3.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def test_sync_client_sees_a_store_change_at_once(redis_url: str, prefix: str) -> None:
    store = FlagStore.from_url(redis_url, prefix=prefix)
    with Flags(redis_url, prefix=prefix, poll_interval=3600) as client:
        assert client.enabled("new_flag") is False
        await store.apply("new_flag", build_change("true"), WHO)
        # Poll interval is an hour: only the announcement can make this visible.
        assert await asyncio.to_thread(eventually, lambda: client.enabled("new_flag")) < 1.0
        await store.apply("new_flag", build_change("true", actors=[ActorId("User:bob")]), WHO)
        await store.apply("new_flag", build_change("false"), WHO)
        await asyncio.to_thread(eventually, lambda: not client.enabled("new_flag"))
        await store.apply("new_flag", build_change("true", actors=[ActorId("User:bob")]), WHO)
        await asyncio.to_thread(eventually, lambda: client.enabled("new_flag", "User:bob"))
        assert client.enabled("new_flag", "User:eve") is False
        assert client.state("new_flag") == FlagState(actors=frozenset({"User:bob"}))
    await store.close()


async def test_async_client_sees_a_store_change_at_once(redis_url: str, prefix: str) -> None:
    store = FlagStore.from_url(redis_url, prefix=prefix)
    async with AsyncFlags(redis_url, prefix=prefix, poll_interval=3600) as client:
        await store.apply("async_flag", build_change("25", percentage_of="actors"), WHO)
        await async_eventually(lambda: client.state("async_flag") is not None)
        share = sum(client.enabled("async_flag", f"User:{i}") for i in range(2000)) / 2000
        assert 0.2 < share < 0.3
        await store.apply("async_flag", DeleteFlag(), WHO)
        await async_eventually(lambda: client.state("async_flag") is None)
    await store.close()


async def test_changes_by_other_writers_show_within_the_poll_interval(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    async with AsyncFlags(redis_url, prefix=prefix, poll_interval=0.3) as client:
        # Another writer (a Ruby app, redis-cli): no announcement, only the keys.
        raw.sadd(f"{prefix}flipper_features", "written_by_ruby")
        raw.hset(f"{prefix}written_by_ruby", "boolean", "true")
        waited = await async_eventually(lambda: client.enabled("written_by_ruby"), within=2.0)
        assert waited < 0.3 + 0.5
    with Flags(redis_url, prefix=prefix, poll_interval=0.3) as sync_client:
        assert sync_client.enabled("written_by_ruby")
        raw.delete(f"{prefix}written_by_ruby")
        await asyncio.to_thread(eventually, lambda: not sync_client.enabled("written_by_ruby"), 2.0)


def test_unknown_flags_fall_back_to_the_definition_default_then_false(redis_url: str, prefix: str) -> None:
    definition = Definition(name="on_by_default", type="beta", group="group::x", default_enabled=True)
    with Flags(redis_url, prefix=prefix, definitions={"on_by_default": definition}) as client:
        assert client.enabled("on_by_default") is True
        assert client.enabled("on_by_default", "User:a") is True
        assert client.enabled("no_such_flag") is False


async def test_explicit_false_overrides_the_default(redis_url: str, prefix: str) -> None:
    store = FlagStore.from_url(redis_url, prefix=prefix)
    await store.apply("on_by_default", build_change("false"), WHO)
    definition = Definition(name="on_by_default", type="beta", group="group::x", default_enabled=True)
    with Flags(redis_url, prefix=prefix, definitions={"on_by_default": definition}) as client:
        assert client.enabled("on_by_default") is False
    await store.apply("on_by_default", DeleteFlag(), WHO)
    with Flags(redis_url, prefix=prefix, definitions={"on_by_default": definition}) as client:
        assert client.enabled("on_by_default") is True
    await store.close()


def test_evaluation_never_raises(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    raw.sadd(f"{prefix}flipper_features", "grouped", "corrupt")
    raw.hset(f"{prefix}grouped", "groups/explodes", "1")
    raw.hset(f"{prefix}corrupt", mapping={"percentage_of_actors": "fifty", "percentage_of_time": "1e3x"})

    class NoId:
        pass

    class BadId:
        @property
        def flipper_id(self) -> str:
            raise RuntimeError("broken model")

    with capture_logs() as logs, Flags(redis_url, prefix=prefix) as client:
        client.register_group("explodes", lambda actor: 1 / 0 > 0)
        assert client.enabled("grouped", "User:a") is False
        assert client.enabled("corrupt", "User:a") is False
        assert client.enabled("corrupt") is False
        for actor in (NoId(), BadId(), 42, b"bytes", object()):
            assert client.enabled("grouped", actor) is False
        assert client.enabled(["unhashable"]) is False  # type: ignore[arg-type]
        assert client.enabled(None) is False  # type: ignore[arg-type]
    events = [e["event"] for e in logs]
    assert "flags.group_predicate_failed" in events
    corrupt = [e for e in logs if e["event"] == "flags.corrupt_gate_value"]
    assert {(e["feature"], e["gate"], e["value"]) for e in corrupt} == {
        ("corrupt", "percentage_of_actors", "fifty"),
        ("corrupt", "percentage_of_time", "1e3x"),
    }


def test_actor_objects_with_a_flipper_id(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    raw.sadd(f"{prefix}flipper_features", "for_users")
    raw.hset(f"{prefix}for_users", mapping={"actors/User:7": "1", "groups/staff": "1"})

    class User:
        def __init__(self, id: int, staff: bool = False) -> None:
            self.flipper_id = f"User:{id}"
            self.staff = staff

    with Flags(redis_url, prefix=prefix) as client:
        client.register_group("staff", lambda actor: getattr(actor, "staff", False))
        assert client.enabled("for_users", User(7)) is True
        assert client.enabled("for_users", User(8)) is False
        assert client.enabled("for_users", User(8, staff=True)) is True
        assert client.enabled("for_users", "User:7") is True


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, stopped afterwards even when the test fails."""
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_redis_outage_keeps_the_last_good_snapshot_and_recovers(redis_server: RedisProcess) -> None:
    server = redis_server
    writer = redis.Redis.from_url(server.url, decode_responses=True)
    writer.sadd("flipper_features", "survivor")
    writer.hset("survivor", "boolean", "true")
    with capture_logs() as logs, Flags(server.url, poll_interval=0.2) as client:
        assert client.enabled("survivor") is True
        server.stop()
        eventually(lambda: client.stale, within=5)
        time.sleep(1.0)  # several failed polls and reconnects
        assert client.enabled("survivor") is True  # the last good snapshot
        outage_warnings = [e for e in logs if e["event"] == "flags.redis_unavailable"]
        assert len(outage_warnings) == 1, outage_warnings
        assert outage_warnings[0]["serving"] == "last good snapshot"

        server.start()  # same port, empty data: a new state to pick up
        writer.sadd("flipper_features", "survivor")
        writer.hset("survivor", "actors/User:a", "1")
        eventually(lambda: not client.stale and client.enabled("survivor") is False, within=10)
        assert client.enabled("survivor", "User:a") is True
        assert [e["event"] for e in logs].count("flags.redis_recovered") == 1
    writer.close()
    server.stop()


async def test_async_client_survives_an_outage(redis_server: RedisProcess) -> None:
    server = redis_server
    writer = redis.Redis.from_url(server.url, decode_responses=True)
    writer.sadd("flipper_features", "survivor")
    writer.hset("survivor", "boolean", "true")
    async with AsyncFlags(server.url, poll_interval=0.2) as client:
        server.stop()
        await async_eventually(lambda: client.stale, within=5)
        assert client.enabled("survivor") is True
        server.start()
        writer.sadd("flipper_features", "survivor")
        await async_eventually(lambda: not client.stale and not client.enabled("survivor"), within=10)
    writer.close()
    server.stop()


def test_starting_with_redis_down_serves_defaults_without_raising() -> None:
    definition = Definition(name="default_on", type="ops", group="group::x", default_enabled=True)
    with capture_logs() as logs:
        client = Flags("redis://127.0.0.1:1/0", definitions={"default_on": definition}, poll_interval=0.2)
        client.start()
        assert client.enabled("default_on") is True
        assert client.enabled("anything_else") is False
        client.close()
    [warning] = [e for e in logs if e["event"] == "flags.redis_unavailable"]
    assert warning["serving"] == "definition defaults"


def test_an_announcement_racing_a_reload_is_not_undone_by_it() -> None:
    snapshot = Snapshot()
    snapshot.finish_reload({"raced": FlagState()})
    snapshot.begin_reload()  # a poll reads Redis ...
    snapshot.apply_announcement('{"flag": "raced", "version": 2, "exists": 1, "after": {"boolean": "true"}}')
    snapshot.finish_reload({"raced": FlagState()})  # ... and its (older) answer arrives late
    assert snapshot.enabled("raced") is True


@pytest.mark.parametrize("message", ["not json", "{}", '{"flag": 3}', '{"flag": "x", "after": []}', "[]"])
def test_malformed_announcements_are_ignored(message: str) -> None:
    snapshot = Snapshot()
    with capture_logs() as logs:
        assert snapshot.apply_announcement(message) is None
    assert logs[0]["event"] == "flags.bad_announcement"
    assert len(snapshot) == 0


async def test_close_returns_even_when_a_cancel_is_swallowed(
    redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py can take a cancel that lands as a pub/sub read times out for that timeout: the
    # refresh loop then never sees the cancel. close() must not depend on it (this hung CI once).

    async def drain_swallowing_cancels(self: AsyncFlags, timeout: float = 0.0) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # as if the cancel were the read timeout
            await asyncio.sleep(timeout)

    monkeypatch.setattr(AsyncFlags, "_drain", drain_swallowing_cancels)
    client = await AsyncFlags(redis_server.url, poll_interval=0.2).start()
    started = time.monotonic()
    await asyncio.wait_for(client.close(), timeout=10)
    assert time.monotonic() - started < 3
    assert client._task is None


async def test_the_snapshot_says_which_flags_changed_since_a_version(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    store = FlagStore.from_url(redis_url, prefix=prefix)
    await store.apply("first_flag", build_change("true"), WHO)
    async with AsyncFlags(redis_url, prefix=prefix, poll_interval=0.3) as client:
        start = client.version
        assert client.changed_since(start) == frozenset()
        await store.apply("second_flag", build_change("true"), WHO)  # announced
        await async_eventually(lambda: client.state("second_flag") is not None)
        announced = client.version
        assert client.changed_since(start) == {"second_flag"}
        raw.hset(f"{prefix}first_flag", "boolean", "false")  # not announced: found by the next poll
        await async_eventually(lambda: client.state("first_flag") != FlagState(boolean=True), within=2.0)
        assert client.changed_since(announced) == {"first_flag"}
        assert client.changed_since(start) == {"first_flag", "second_flag"}
        assert client.changed_since(client.version + 5) is None  # a version it never had
        polled = client.version
        await asyncio.sleep(0.7)  # polls that find nothing new move nothing
        assert client.version == polled and client.changed_since(polled) == frozenset()
    await store.close()


def test_a_snapshot_forgets_old_changes_whole() -> None:
    snapshot = Snapshot()
    snapshot.finish_reload({f"flag_{i}": FlagState(boolean=True) for i in range(3)})
    first = snapshot.version
    snapshot.begin_reload()
    snapshot.finish_reload({f"flag_{i}": FlagState(boolean=False) for i in range(10_001)})  # past the log's size
    assert snapshot.changed_since(first) is None  # not a partial answer
    assert snapshot.changed_since(snapshot.version) == frozenset()


async def test_listeners_hear_of_changes_and_one_that_raises_stops_nothing(redis_url: str, prefix: str) -> None:
    store = FlagStore.from_url(redis_url, prefix=prefix)
    heard: list[int] = []

    def broken() -> None:
        raise RuntimeError("an application's bug")

    with capture_logs() as logs, Flags(redis_url, prefix=prefix, poll_interval=3600) as client:
        client.add_listener(broken)
        client.add_listener(lambda: heard.append(client.version))
        await store.apply("heard_flag", build_change("true"), WHO)
        eventually(lambda: client.version in heard)
        before = client.version
        client.remove_listener(broken)
        await store.apply("heard_flag", build_change("false"), WHO)
        eventually(lambda: client.version > before and client.version in heard)
    assert [e["event"] for e in logs].count("flags.listener_failed") == 1
    await store.close()
