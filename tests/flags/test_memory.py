"""The memory store: entry ids from its clock, and the same answers as the Redis store, change for change.

The contract itself (test_store_contract.py) runs against the memory store too.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flags import (
    ActorId,
    AuditInfo,
    ChangeConflict,
    DeleteFlag,
    FlagState,
    FlagStorage,
    FlagStore,
    GroupName,
    MemoryBackend,
    MemoryFlagStore,
    Percentage,
    RestoreState,
    SetBoolean,
    SetPercentageOfActors,
    SetScopes,
    Write,
    apply_together,
    build_change,
)
from flags.connection import redis_client

WHO = AuditInfo(who="alice")


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_entry_ids_come_from_the_clock_and_always_grow() -> None:
    clock = Clock(1000.0)
    store = MemoryFlagStore(MemoryBackend(clock), environment="gstg")
    first = await store.apply("flag_a", build_change("true"), WHO)
    second = await store.apply("flag_a", build_change("false"), WHO)
    other = await store.apply("flag_b", build_change("true"), WHO)  # each flag numbers its own entries
    clock.now = 999.0  # the clock went back: ids still grow
    back = await store.apply("flag_a", build_change("true"), WHO)
    clock.now = 1000.5
    later = await store.apply("flag_a", build_change("false"), WHO)
    assert [r.entry_id for r in (first, second, other, back, later)] == [
        "1000000-0",
        "1000000-1",
        "1000000-0",
        "1000000-2",
        "1000500-0",
    ]
    assert [e.entry_id for e in await store.changes_since(1000.5)] == ["1000500-0"]
    assert len(await store.changes_since(1000)) == 5
    assert (await store.history("flag_a"))[0].at == datetime.fromtimestamp(1000.5, UTC)
    assert [r.changed_at for r in await store.list()] == [1000.5, 1000.0]


async def test_writes_together_are_dated_in_order_and_numbered_from_one_time() -> None:
    times = iter([1000.0, 1000.000_5, 1000.002])
    backend = MemoryBackend(lambda: next(times))  # a clock that moves between readings
    gstg, gprd = (MemoryFlagStore(backend, prefix=f"{e}:", environment=e) for e in ("gstg", "gprd"))
    await apply_together(
        [Write(gstg, "flag_a", build_change("true"), WHO), Write(gprd, "flag_a", build_change("true"), WHO)]
    )
    [first], [second] = await gstg.history("flag_a"), await gprd.history("flag_a")
    assert first.at.timestamp() == 1000.0 and second.at.timestamp() == 1000.000_5  # as the Redis store dates them
    assert first.entry_id == second.entry_id == "1000000-0"  # one time for the group's entries, as a script has


async def test_each_store_names_its_own_environment_on_one_backend() -> None:
    backend = MemoryBackend()
    gstg = MemoryFlagStore(backend, prefix="gstg:", environment="gstg")
    also = MemoryFlagStore(backend, prefix="gstg:", environment="staging")
    result = await gstg.apply("flag_a", build_change("true"), WHO, change_id="c1")
    assert (await also.last_change("flag_a", "c1")) == dataclasses.replace(
        result, environment="staging", description=""
    )
    again = await also.apply("flag_a", build_change("true"), WHO, change_id="c1")
    assert again == dataclasses.replace(result, environment="staging")


# Memory and Redis, side by side: the same writes give the same answers (entry ids and times aside).

CHANGES = st.sampled_from(
    [
        SetBoolean(True),
        SetBoolean(False),
        SetScopes(True, (ActorId("User:a"),)),
        SetScopes(False, (ActorId("User:a"),), (GroupName("beta"),)),
        SetPercentageOfActors(Percentage("25")),
        DeleteFlag(),
        RestoreState(FlagState(groups=frozenset({"beta"}), percentage_of_time="5"), True),
        RestoreState(FlagState(), False),
    ]
)
WRITES = st.tuples(
    st.integers(0, 1),  # which environment
    st.sampled_from(["flag_a", "flag_b"]),
    CHANGES,
    st.sampled_from([None, None, 0, 1, 2, 3]),  # expected version
    st.sampled_from([None, None, "c1", "c2"]),  # change id
)
GROUPS = st.lists(st.lists(WRITES, min_size=1, max_size=3), min_size=1, max_size=8)
_runs = itertools.count()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    made = redis_client(redis_url)
    yield made
    await made.aclose()


def _plain(value: Any) -> Any:
    """A result, a record or an entry without what only says when it was written."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "entry_id"):
        value = dataclasses.replace(value, entry_id="")
    if hasattr(value, "at"):
        value = dataclasses.replace(value, at=datetime.fromtimestamp(0, UTC))
    if hasattr(value, "changed_at"):
        value = dataclasses.replace(value, changed_at=None)
    return value


async def _run(stores: list[FlagStorage], groups: list[list[tuple[Any, ...]]]) -> list[Any]:
    """What the stores answer to these groups of writes, and what they hold afterwards."""
    answers: list[Any] = []
    for group in groups:
        writes = [
            Write(stores[env], name, change, WHO, version, change_id) for env, name, change, version, change_id in group
        ]
        try:
            answers.append(_plain(await apply_together(writes)))
        except ChangeConflict as conflict:
            answers.append(("conflict", conflict.name, conflict.expected, conflict.actual, conflict.environment))
    for store, name in itertools.product(stores, ["flag_a", "flag_b"]):
        answers.append(_plain([await store.get(name), *await store.history(name, limit=100)]))
        answers.append(_plain([await store.last_change(name, "c1"), await store.last_change(name, "c2")]))
        for result in await store.history(name, limit=100):
            assert await store.entry(name, result.entry_id) == result
    for store in stores:
        answers.append(_plain([*await store.list(), *await store.changes_since(0, limit=1000)]))
    return answers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=GROUPS)
async def test_memory_answers_as_redis_does(client: aioredis.Redis, prefix: str, groups: list[list[Any]]) -> None:
    run = f"{prefix}{next(_runs)}-{uuid.uuid4().hex[:6]}:"
    redis_stores: list[FlagStorage] = [
        FlagStore(client, prefix=f"{run}{env}:", environment=env) for env in ("gstg", "gprd")
    ]
    backend = MemoryBackend()
    memory_stores: list[FlagStorage] = [
        MemoryFlagStore(backend, prefix=f"{env}:", environment=env) for env in ("gstg", "gprd")
    ]
    assert await _run(memory_stores, groups) == await _run(redis_stores, groups)
