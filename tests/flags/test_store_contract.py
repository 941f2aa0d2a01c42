"""The flag store contract: what every adapter does, whatever keeps the flags.

Every test here runs against every adapter: Redis (the configured server and the embedded one)
and memory. What only the Redis store does (Flipper's layout in Redis, the script, announcements,
outages) is tested in test_store.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flags import (
    ActorId,
    AuditInfo,
    ChangeConflict,
    DeleteFlag,
    FlagState,
    FlagStorage,
    FlagStore,
    GroupName,
    InvalidFlagName,
    MemoryFlagStore,
    RestoreState,
    Write,
    apply_together,
    build_change,
)
from flags.adapter import AUDIT_PER_FLAG, entry_id_parts
from tests.helpers import delete_prefixed

WHO = AuditInfo(who="alice", channel="#production", command="/chatops run feature set f true")
FLAG = "enforce_explicit_connection_for_partitioned_shared_models"
ADAPTERS = ["server", "embedded", "memory"]


class Adapter:
    """Makes stores of one adapter, beside another store (on its backend) or on a backend of their own."""

    def __init__(self, url: str | None, prefix: str) -> None:
        self.url = url  # None: the memory adapter
        self.prefix = prefix
        self._opened: list[FlagStorage] = []

    def store(self, environment: str = "gstg", *, beside: FlagStorage | None = None) -> FlagStorage:
        prefix = f"{self.prefix}{environment}:"
        if isinstance(beside, FlagStore):
            return FlagStore(beside.redis, prefix=prefix, environment=environment)
        if isinstance(beside, MemoryFlagStore):
            return MemoryFlagStore(beside.backend, prefix=prefix, environment=environment)
        if self.url is None:
            return MemoryFlagStore(prefix=prefix, environment=environment)
        made = FlagStore.from_url(self.url, prefix=prefix, environment=environment)
        self._opened.append(made)
        return made

    async def close(self) -> None:
        for store in self._opened:
            await store.close()


@pytest.fixture(params=ADAPTERS)
async def adapter(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Adapter]:
    url = None
    if request.param != "memory":
        url = str(request.getfixturevalue("redis_url" if request.param == "server" else "embedded_url"))
    made = Adapter(url, prefix)
    yield made
    await made.close()
    if url is not None:
        delete_prefixed(url, prefix)


@pytest.fixture
def store(adapter: Adapter) -> FlagStorage:
    """The store under test, for the environment gstg."""
    return adapter.store("gstg")


def users(*names: str) -> list[ActorId]:
    return [ActorId.of("user", n) for n in names]


async def seen(store: FlagStorage, *names: str) -> tuple[Any, ...]:
    """Everything a reader can see of these flags through the contract, to compare before and after."""
    records = [await store.get(n) for n in names]
    histories = [await store.history(n, limit=1000) for n in names]
    return records, await store.list(), histories, await store.changes_since(0, limit=1000)


async def test_a_flag_never_written_is_absent_at_version_zero(store: FlagStorage) -> None:
    record = await store.get(FLAG)
    assert (record.name, record.exists, record.version, record.state) == (FLAG, False, 0, FlagState())
    assert await store.list() == []
    assert await store.history(FLAG) == []
    assert await store.changes_since(0) == []
    assert await store.last_change(FLAG, "some-id") is None
    assert await store.entry(FLAG, "1-0") is None


async def test_set_true_enables_the_boolean_gate_and_clears_the_others(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("25", percentage_of="actors"), WHO)
    await store.apply(FLAG, build_change("true", actors=users("a")), WHO)
    result = await store.apply(FLAG, build_change("true"), WHO)
    assert result.before == FlagState(actors=frozenset({"User:a"}), percentage_of_actors="25")
    assert result.after == FlagState(boolean=True)
    assert result.before_exists and result.after_exists
    assert (result.name, result.environment, result.version, result.description) == (FLAG, "gstg", 3, "set to true")
    record = await store.get(FLAG)
    assert (record.state, record.exists, record.version) == (FlagState(boolean=True), True, 3)


async def test_set_false_clears_every_gate_and_keeps_the_flag(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("true"), WHO)
    result = await store.apply(FLAG, build_change("false"), WHO)
    assert result.after.is_empty and result.after_exists
    record = await store.get(FLAG)
    assert record.exists and record.state == FlagState() and record.version == 2
    assert [r.name for r in await store.list()] == [FLAG]


async def test_actor_gates_are_added_and_removed_one_at_a_time(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("true", actors=users("a", "b")), WHO)
    project = ActorId.of("project", "gitlab-org/gitaly")
    await store.apply(FLAG, build_change("true", actors=[project]), WHO)
    assert (await store.get(FLAG)).state.actors == {"User:a", "User:b", "Project:gitlab-org/gitaly"}
    result = await store.apply(FLAG, build_change("false", actors=users("a")), WHO)
    assert result.before.actors == {"User:a", "User:b", "Project:gitlab-org/gitaly"}
    assert result.after == FlagState(actors=frozenset({"User:b", "Project:gitlab-org/gitaly"}))
    assert (await store.get(FLAG)).state == result.after


async def test_group_gate_and_percentages_keep_their_text(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("true", groups=[GroupName("gitlab_team_members")]), WHO)
    await store.apply(FLAG, build_change("12.345", percentage_of="actors"), WHO)
    await store.apply(FLAG, build_change("7.5", percentage_of="time"), WHO)
    expected = FlagState(
        groups=frozenset({"gitlab_team_members"}), percentage_of_actors="12.345", percentage_of_time="7.5"
    )
    assert (await store.get(FLAG)).state == expected
    await store.apply(FLAG, build_change("false", groups=[GroupName("gitlab_team_members")]), WHO)
    assert (await store.get(FLAG)).state == dataclasses.replace(expected, groups=frozenset())


async def test_delete_removes_the_flag_keeps_its_history_and_is_idempotent(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("true"), WHO)
    await store.apply("other_flag", build_change("true"), WHO)
    first = await store.apply(FLAG, DeleteFlag(), WHO)
    second = await store.apply(FLAG, DeleteFlag(), WHO)
    assert first.before_exists and not first.after_exists and first.after == FlagState()
    assert not second.before_exists and not second.after_exists
    assert [r.name for r in await store.list()] == ["other_flag"]
    record = await store.get(FLAG)
    assert not record.exists and record.state.is_empty and record.version == 3
    assert [e.version for e in await store.history(FLAG)] == [3, 2, 1]
    again = await store.apply(FLAG, build_change("true"), WHO)
    assert again.version == 4 and not again.before_exists and again.after_exists


async def test_every_change_has_an_audit_entry_saying_who_where_and_what(store: FlagStorage) -> None:
    info = AuditInfo(
        who="U012AB3CD",
        channel="C0PROD",
        command="/chatops run feature set x 50 --actors",
        checks={"production_check": "ignored", "freeze": "passed"},
        who_id="U012AB3CD-id",
    )
    started = time.time()
    result = await store.apply(FLAG, build_change("50", percentage_of="actors"), info)
    [entry] = await store.history(FLAG)
    assert entry.entry_id == result.entry_id
    assert (entry.name, entry.environment, entry.version) == (FLAG, "gstg", 1)
    assert (entry.who, entry.who_id, entry.channel, entry.command) == (
        info.who,
        info.who_id,
        info.channel,
        info.command,
    )
    assert entry.checks == {"production_check": "ignored", "freeze": "passed"}
    assert entry.description == "set to 50% of actors"
    assert entry.before == FlagState() and not entry.before_exists
    assert entry.after == FlagState(percentage_of_actors="50") and entry.after_exists
    assert started - 1 <= entry.at.timestamp() <= time.time() + 1
    assert await store.entry(FLAG, result.entry_id) == entry
    assert await store.changes_since(0) == [entry]


async def test_the_approver_of_a_change_is_its_own_field_and_entries_without_one_read_as_before(
    store: FlagStorage,
) -> None:
    asked = await store.apply(FLAG, build_change("true"), WHO)  # needed no approval
    approved = AuditInfo(who="alice", who_id="U0ALICE", command="/chatops run feature set f true", approved_by="carol")
    result = await store.apply(FLAG, build_change("false"), approved)
    newest, oldest = await store.history(FLAG)
    assert (newest.entry_id, newest.who, newest.approved_by) == (result.entry_id, "alice", "carol")
    assert (oldest.entry_id, oldest.approved_by) == (asked.entry_id, "")
    assert await store.entry(FLAG, result.entry_id) == newest
    assert await store.changes_since(0) == [newest, oldest]


async def test_history_is_newest_first_and_limited(store: FlagStorage) -> None:
    for value in ("10", "20", "30", "40"):
        await store.apply(FLAG, build_change(value, percentage_of="actors"), WHO)
    entries = await store.history(FLAG, limit=3)
    assert [e.after.percentage_of_actors for e in entries] == ["40", "30", "20"]
    assert [e.version for e in entries] == [4, 3, 2]
    assert [e.before.percentage_of_actors for e in entries] == ["30", "20", "10"]
    with pytest.raises(ValueError, match="at least 1"):
        await store.history(FLAG, limit=0)
    with pytest.raises(ValueError, match="at least 1"):
        await store.changes_since(0, limit=0)


async def test_list_returns_every_flag_sorted_with_its_version_and_when_it_changed(store: FlagStorage) -> None:
    started = time.time()
    await store.apply("gamma", build_change("false"), WHO)
    await store.apply("beta_flag", build_change("true", actors=users("x")), WHO)
    await store.apply("alpha_flag", build_change("true"), WHO)
    await store.apply("alpha_flag", build_change("false"), WHO)
    await store.apply("deleted_flag", DeleteFlag(), WHO)
    records = await store.list()
    assert [r.name for r in records] == ["alpha_flag", "beta_flag", "gamma"]
    assert [r.version for r in records] == [2, 1, 1]
    assert all(r.exists for r in records)
    assert records[1].state == FlagState(actors=frozenset({"User:x"}))
    assert all(r.changed_at is not None and started - 1 <= r.changed_at <= time.time() + 1 for r in records)
    assert [r.name for r in await store.list(match="_flag")] == ["alpha_flag", "beta_flag"]
    assert await store.list(match="nothing") == []
    assert [(r.name, r.state, r.version) for r in await store.list()] == [
        (r.name, r.state, r.version) for r in [await store.get(n) for n in ("alpha_flag", "beta_flag", "gamma")]
    ]


async def test_a_change_on_condition_of_a_stale_version_writes_nothing(store: FlagStorage) -> None:
    first = await store.apply(FLAG, build_change("true"), WHO)
    await store.apply(FLAG, build_change("false"), WHO)
    before = await seen(store, FLAG, "never_written")
    with pytest.raises(ChangeConflict) as raised:
        await store.apply(FLAG, RestoreState(first.before, first.before_exists), WHO, expected_version=first.version)
    assert (raised.value.name, raised.value.expected, raised.value.actual) == (FLAG, 1, 2)
    assert raised.value.environment == "gstg"
    with pytest.raises(ChangeConflict):
        await store.apply("never_written", build_change("true"), WHO, expected_version=1)
    assert await seen(store, FLAG, "never_written") == before


async def test_a_change_on_condition_of_the_current_version_is_applied(store: FlagStorage) -> None:
    created = await store.apply(FLAG, build_change("true"), WHO, expected_version=0)
    assert created.version == 1
    changed = await store.apply(FLAG, build_change("false"), WHO, expected_version=1)
    assert changed.version == 2 and changed.after == FlagState()


async def test_restore_puts_back_an_earlier_state_exactly(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("true", actors=users("a")), WHO)
    await store.apply(FLAG, build_change("33.3", percentage_of="actors"), WHO)
    earlier = (await store.get(FLAG)).state
    change = await store.apply(FLAG, build_change("true"), WHO)
    restored = await store.apply(
        FLAG, RestoreState(change.before, change.before_exists), WHO, expected_version=change.version
    )
    assert restored.after == earlier and (await store.get(FLAG)).state == earlier
    assert restored.description == f"restored to {earlier.describe()}"


async def test_a_restore_to_not_existing_deletes_the_flag(store: FlagStorage) -> None:
    created = await store.apply(FLAG, build_change("true"), WHO)
    undone = await store.apply(FLAG, RestoreState(created.before, created.before_exists), WHO)
    assert not undone.after_exists and (await store.list()) == []
    assert not (await store.get(FLAG)).exists


async def test_a_retried_change_is_applied_once(store: FlagStorage) -> None:
    first = await store.apply(FLAG, build_change("true", actors=users("a")), WHO, change_id="retry-1")
    again = await store.apply(FLAG, build_change("true", actors=users("a")), WHO, change_id="retry-1")
    assert again == first
    assert (await store.get(FLAG)).version == 1
    assert len(await store.history(FLAG)) == 1
    other = await store.apply(FLAG, build_change("true", actors=users("b")), WHO, change_id="retry-2")
    assert other.version == 2
    # Only the flag's last change is remembered: an older id is a new change.
    older = await store.apply(FLAG, build_change("true", actors=users("a")), WHO, change_id="retry-1")
    assert older.version == 3


async def test_last_change_answers_for_the_flags_last_change_only(store: FlagStorage) -> None:
    first = await store.apply(FLAG, build_change("true"), WHO, change_id="change-1")
    assert await store.last_change(FLAG, "change-1") == dataclasses.replace(first, description="")
    assert await store.last_change(FLAG, "change-0") is None
    assert await store.last_change("other_flag", "change-1") is None
    await store.apply(FLAG, build_change("false"), WHO, change_id="change-2")
    assert await store.last_change(FLAG, "change-1") is None
    latest = await store.last_change(FLAG, "change-2")
    assert latest is not None and latest.version == 2 and latest.before == first.after


async def test_a_restore_of_thousands_of_actors_is_one_whole_change(store: FlagStorage) -> None:
    many = FlagState(actors=frozenset(f"User:{i}" for i in range(4100)), percentage_of_actors="5")
    result = await store.apply(FLAG, RestoreState(many, True), WHO)
    assert result.after == many and result.version == 1
    assert (await store.get(FLAG)).state == many
    removed = await store.apply(FLAG, build_change("false", actors=[ActorId(f"User:{i}") for i in range(1000)]), WHO)
    assert len(removed.after.actors) == 3100 and removed.version == 2


async def test_entry_ids_grow_and_other_ids_find_nothing(store: FlagStorage) -> None:
    results = [await store.apply(FLAG, build_change(str(p), percentage_of="actors"), WHO) for p in range(1, 6)]
    parts = [entry_id_parts(r.entry_id) for r in results]
    assert None not in parts
    assert parts == sorted(parts) and len(set(parts)) == 5
    assert all(abs(ms / 1000 - time.time()) < 60 for ms, _ in filter(None, parts))  # MS-SEQ: epoch milliseconds
    assert [await store.entry(FLAG, r.entry_id) for r in results] == list(reversed(await store.history(FLAG)))
    await store.apply("other_flag", build_change("true"), WHO)
    last = parts[-1] or (0, 0)
    for unknown in ["", "abc", "1-", "-1", "1-x", f"{last[0]}-{last[1] + 1000}", "0-0", f"{2**64}-0", "+1-0"]:
        assert await store.entry(FLAG, unknown) is None, unknown
    assert await store.entry("never_written", results[0].entry_id) is None


async def test_changes_since_is_every_flags_changes_from_a_time_newest_first(store: FlagStorage) -> None:
    a = await store.apply("flag_a", build_change("true"), WHO)
    await asyncio.sleep(0.02)
    cut = time.time()
    await asyncio.sleep(0.02)
    b = await store.apply("flag_b", build_change("true"), WHO)
    c = await store.apply("flag_a", build_change("false"), WHO)
    assert [(e.name, e.entry_id) for e in await store.changes_since(cut)] == [
        ("flag_a", c.entry_id),
        ("flag_b", b.entry_id),
    ]
    everything = await store.changes_since(0)
    assert [e.entry_id for e in everything] == [c.entry_id, b.entry_id, a.entry_id]
    assert everything[0] == (await store.history("flag_a"))[0]
    assert [e.entry_id for e in await store.changes_since(0, limit=2)] == [c.entry_id, b.entry_id]
    assert await store.changes_since(time.time() + 60) == []
    assert len(await store.changes_since(-5)) == 3


async def test_last_entries_are_each_flags_newest_entry_and_none_for_a_flag_never_changed(store: FlagStorage) -> None:
    await store.apply("flag_a", build_change("true"), WHO)
    b = await store.apply("flag_b", build_change("true"), WHO)
    killed = AuditInfo(who="bob", command="/chatops run feature kill flag_a")
    a = await store.apply("flag_a", build_change("false"), killed)
    found = await store.last_entries(["flag_a", "flag_b", "never_written"])
    assert {name: e.entry_id for name, e in found.items()} == {"flag_a": a.entry_id, "flag_b": b.entry_id}
    assert found["flag_a"] == (await store.history("flag_a"))[0]
    assert (found["flag_a"].who, found["flag_a"].command) == ("bob", "/chatops run feature kill flag_a")
    assert await store.last_entries([]) == {}
    with pytest.raises(InvalidFlagName):
        await store.last_entries(["flag_a", "no spaces"])


async def test_stores_on_one_backend_share_flags_by_prefix(adapter: Adapter, store: FlagStorage) -> None:
    same = adapter.store("gstg", beside=store)
    other = adapter.store("gprd", beside=store)
    assert same.prefix == store.prefix != other.prefix
    assert same.backend is store.backend is other.backend
    written = await store.apply(FLAG, build_change("true"), WHO)
    assert (await same.get(FLAG)).state == FlagState(boolean=True)
    assert await same.entry(FLAG, written.entry_id) == (await store.history(FLAG))[0]
    assert not (await other.get(FLAG)).exists and await other.list() == [] and await other.changes_since(0) == []


async def test_the_newest_audit_entries_of_a_flag_are_kept(store: FlagStorage) -> None:
    count = AUDIT_PER_FLAG + 3
    for i in range(count):
        await store.apply(FLAG, build_change(str(i % 100), percentage_of="time"), WHO)
    entries = await store.history(FLAG, limit=AUDIT_PER_FLAG)
    assert [e.version for e in entries] == list(range(count, 3, -1))
    assert (await store.get(FLAG)).version == count


async def test_concurrent_changes_to_one_flag_are_applied_one_after_another(store: FlagStorage) -> None:
    async def change(i: int) -> None:
        await store.apply(FLAG, build_change("true", actors=users(f"u{i}")), AuditInfo(who=f"writer-{i}"))

    await asyncio.gather(*(change(i) for i in range(40)))
    record = await store.get(FLAG)
    entries = await store.history(FLAG, limit=100)
    assert record.version == 40 and len(record.state.actors) == 40
    assert [e.version for e in entries] == list(range(40, 0, -1))
    for newer, older in itertools.pairwise(entries):
        assert newer.before == older.after


async def test_concurrent_changes_from_one_version_let_exactly_one_through(store: FlagStorage) -> None:
    async def change(i: int) -> bool:
        try:
            await store.apply(FLAG, build_change("true", actors=users(f"u{i}")), WHO, expected_version=0)
        except ChangeConflict as conflict:
            assert conflict.actual == 1
            return False
        return True

    outcomes = await asyncio.gather(*(change(i) for i in range(10)))
    assert sum(outcomes) == 1
    assert (await store.get(FLAG)).version == 1 and len(await store.history(FLAG)) == 1


async def test_invalid_flag_names_are_refused_before_anything_is_written(store: FlagStorage) -> None:
    await store.apply(FLAG, build_change("true"), WHO)
    before = await seen(store, FLAG)
    for name in ["", "Upper", "1flag", "with-dash", "x" * 256, "<!channel>", "a b", "flipper_features"]:
        with pytest.raises(InvalidFlagName):
            await store.apply(name, build_change("true"), WHO)
        with pytest.raises(InvalidFlagName):
            await apply_together(
                [Write(store, FLAG, build_change("false"), WHO), Write(store, name, DeleteFlag(), WHO)]
            )
        for read in (store.get(name), store.history(name), store.entry(name, "1-0"), store.last_change(name, "x")):
            with pytest.raises(InvalidFlagName):
                await read
    assert await seen(store, FLAG) == before


async def test_ping_and_close(adapter: Adapter) -> None:
    own = adapter.store("gprd")
    await own.ping()
    await own.apply(FLAG, build_change("true"), WHO)
    await own.close()
    assert own.environment == "gprd" and own.prefix.endswith("gprd:")


# Changes written together: stores sharing one backend, all or none.


async def test_writes_together_are_applied_in_order_with_a_result_each(adapter: Adapter, store: FlagStorage) -> None:
    gprd = adapter.store("gprd", beside=store)
    await gprd.apply(FLAG, build_change("true", actors=users("a")), WHO)
    results = await apply_together(
        [
            Write(store, FLAG, build_change("true"), WHO, expected_version=0),
            Write(gprd, FLAG, build_change("true"), WHO, expected_version=1),
            Write(store, "second_flag", build_change("25", percentage_of="actors"), WHO),
        ]
    )
    assert [(r.environment, r.name, r.version) for r in results] == [
        ("gstg", FLAG, 1),
        ("gprd", FLAG, 2),
        ("gstg", "second_flag", 1),
    ]
    assert results[1].before == FlagState(actors=frozenset({"User:a"})) and results[1].after == FlagState(boolean=True)
    assert [e.entry_id for e in await store.changes_since(0)] == [results[2].entry_id, results[0].entry_id]
    [gprd_entry, _] = await gprd.changes_since(0)
    assert (gprd_entry.entry_id, gprd_entry.environment) == (results[1].entry_id, "gprd")
    assert (await gprd.get(FLAG)).state == FlagState(boolean=True)
    assert await apply_together([]) == []


@pytest.mark.parametrize("stale", [0, 1, 2])
async def test_a_stale_write_in_a_group_writes_nothing_at_all(adapter: Adapter, store: FlagStorage, stale: int) -> None:
    gprd = adapter.store("gprd", beside=store)
    await store.apply(FLAG, build_change("true"), WHO)
    await gprd.apply(FLAG, build_change("true"), WHO)
    before = (await seen(store, FLAG, "second_flag"), await seen(gprd, FLAG))
    versions = [1, 1, 0]
    versions[stale] = 5
    writes = [
        Write(store, FLAG, build_change("false"), WHO, expected_version=versions[0]),
        Write(gprd, FLAG, build_change("false"), WHO, expected_version=versions[1]),
        Write(store, "second_flag", build_change("true"), WHO, expected_version=versions[2]),
    ]
    with pytest.raises(ChangeConflict) as raised:
        await apply_together(writes)
    assert raised.value.environment == ["gstg", "gprd", "gstg"][stale]
    assert (raised.value.name, raised.value.expected) == ([FLAG, FLAG, "second_flag"][stale], 5)
    assert raised.value.actual == [1, 1, 0][stale]
    assert (await seen(store, FLAG, "second_flag"), await seen(gprd, FLAG)) == before


async def test_a_retried_group_is_applied_once(adapter: Adapter, store: FlagStorage) -> None:
    gprd = adapter.store("gprd", beside=store)

    def writes() -> list[Write]:
        return [
            Write(store, FLAG, build_change("true"), WHO, expected_version=0, change_id="group-gstg"),
            Write(gprd, FLAG, build_change("true"), WHO, expected_version=0, change_id="group-gprd"),
        ]

    first = await apply_together(writes())
    again = await apply_together(writes())  # a retry after a lost reply: its versions are stale by now
    assert again == first
    assert [(await s.get(FLAG)).version for s in (store, gprd)] == [1, 1]
    assert len(await store.changes_since(0)) == 1 and len(await gprd.changes_since(0)) == 1


async def test_a_group_needs_stores_on_one_backend(adapter: Adapter, store: FlagStorage) -> None:
    elsewhere = adapter.store("gprd")  # a backend of its own
    assert elsewhere.backend is not store.backend
    with pytest.raises(ValueError, match="share one"):
        await apply_together(
            [Write(store, FLAG, build_change("true"), WHO), Write(elsewhere, FLAG, build_change("true"), WHO)]
        )
    mixed = MemoryFlagStore(prefix=store.prefix) if isinstance(store, FlagStore) else None
    if mixed is not None:
        with pytest.raises(ValueError, match="share one"):
            await apply_together(
                [Write(store, FLAG, build_change("true"), WHO), Write(mixed, FLAG, build_change("true"), WHO)]
            )
    assert not (await store.get(FLAG)).exists and not (await elsewhere.get(FLAG)).exists
