"""The Redis store: Flipper's layout for every operation, the change script, announcements, outages.

Runs against every Redis we support (the ``store`` fixture is parametrised). What every adapter
does (versions, conditions, audit, changes written together) is in test_store_contract.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from flags import (
    ActorId,
    AuditInfo,
    ChangeConflict,
    DeleteFlag,
    FlagState,
    FlagStore,
    GroupName,
    InvalidActor,
    InvalidChange,
    InvalidFlagName,
    InvalidPercentage,
    RestoreState,
    StoreUnavailable,
    Write,
    apply_together,
    build_change,
)
from flags.adapter import AUDIT_PER_ENVIRONMENT
from tests.helpers import keyspace

WHO = AuditInfo(who="alice", channel="#production", command="/chatops run feature set f true")
FLAG = "enforce_explicit_connection_for_partitioned_shared_models"


def users(*names: str) -> list[ActorId]:
    return [ActorId.of("user", n) for n in names]


async def raw_flag(store: FlagStore, name: str = FLAG) -> dict[str, str]:
    return await store.redis.hgetall(store.keys.flag(name))


async def members(store: FlagStore) -> set[str]:
    return set(await store.redis.smembers(store.keys.features))


async def test_set_true_writes_flippers_boolean_gate_and_clears_the_others(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("25", percentage_of="actors"), WHO)
    await store.apply(FLAG, build_change("true", actors=users("a")), WHO)
    await store.apply(FLAG, build_change("true"), WHO)
    assert await raw_flag(store) == {"boolean": "true"}
    assert await members(store) == {FLAG}


async def test_set_false_deletes_the_hash_and_keeps_the_name(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("true"), WHO)
    await store.apply(FLAG, build_change("false"), WHO)
    assert await store.redis.exists(store.keys.flag(FLAG)) == 0
    assert await members(store) == {FLAG}


async def test_actor_gates_add_and_remove_one_field_each(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("true", actors=users("a", "b")), WHO)
    project = ActorId.of("project", "gitlab-org/gitaly")
    await store.apply(FLAG, build_change("true", actors=[project]), WHO)
    assert await raw_flag(store) == {
        "actors/User:a": "1",
        "actors/User:b": "1",
        "actors/Project:gitlab-org/gitaly": "1",
    }
    await store.apply(FLAG, build_change("false", actors=users("a")), WHO)
    assert await raw_flag(store) == {"actors/User:b": "1", "actors/Project:gitlab-org/gitaly": "1"}


async def test_group_gate_and_percentages(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("true", groups=[GroupName("gitlab_team_members")]), WHO)
    await store.apply(FLAG, build_change("12.345", percentage_of="actors"), WHO)
    await store.apply(FLAG, build_change("7.5", percentage_of="time"), WHO)
    assert await raw_flag(store) == {
        "groups/gitlab_team_members": "1",
        "percentage_of_actors": "12.345",
        "percentage_of_time": "7.5",
    }
    await store.apply(FLAG, build_change("false", groups=[GroupName("gitlab_team_members")]), WHO)
    assert "groups/gitlab_team_members" not in await raw_flag(store)


async def test_delete_removes_name_and_hash_and_keeps_meta_and_audit(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("true"), WHO)
    await store.apply("other_flag", build_change("true"), WHO)
    await store.apply(FLAG, DeleteFlag(), WHO)
    await store.apply(FLAG, DeleteFlag(), WHO)
    assert await members(store) == {"other_flag"}
    assert await store.redis.exists(store.keys.flag(FLAG)) == 0
    assert await store.redis.hget(store.keys.meta(FLAG), "version") == "3"
    assert await store.redis.xlen(store.keys.audit(FLAG)) == 3


async def test_change_writes_audit_streams_meta_hash_and_announcement(store: FlagStore) -> None:
    pubsub = store.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(store.keys.changes_channel)
    info = AuditInfo(
        who="U012AB3CD",
        channel="C0PROD",
        command="/chatops run feature set x 50 --actors",
        checks={"production_check": "ignored"},
    )
    result = await store.apply(FLAG, build_change("50", percentage_of="actors"), info)
    message = None
    for _ in range(20):  # the subscribe confirmation comes first and reads as None
        message = message or await pubsub.get_message(timeout=0.1)
    await pubsub.aclose()
    assert message is not None
    announced = json.loads(message["data"])
    assert announced["flag"] == FLAG
    assert announced["version"] == 1
    assert announced["after"] == {"percentage_of_actors": "50"}
    assert announced["entry"] == result.entry_id

    [(entry_id, fields)] = await store.redis.xrange(store.keys.audit(FLAG))
    assert entry_id == result.entry_id
    assert fields["who"] == "U012AB3CD" and fields["after"] == '{"percentage_of_actors":"50"}'
    [(_, everything)] = await store.redis.xrange(store.keys.audit_all)
    assert everything == {**fields, "entry": result.entry_id}
    meta = await store.redis.hgetall(store.keys.meta(FLAG))
    assert meta["version"] == "1" and meta["changed_by"] == "U012AB3CD" and meta["entry"] == result.entry_id
    assert meta["change_id"] and json.loads(meta["result"])[2] == result.entry_id


async def test_the_approver_is_a_field_of_the_stream_entry_and_old_entries_read_without_one(store: FlagStore) -> None:
    approved = AuditInfo(who="alice", command="/chatops run feature set x true", approved_by="carol")
    result = await store.apply(FLAG, build_change("true"), approved)
    [(entry_id, fields)] = await store.redis.xrange(store.keys.audit(FLAG))
    assert entry_id == result.entry_id and fields["approved_by"] == "carol"
    old = {k: v for k, v in fields.items() if k != "approved_by"}  # as entries were written before
    old_id = await store.redis.xadd(store.keys.audit(FLAG), {**old, "version": "2"})
    newest, first = await store.history(FLAG)
    assert (newest.entry_id, newest.version, newest.approved_by, newest.who) == (old_id, 2, "", "alice")
    assert (first.entry_id, first.approved_by) == (result.entry_id, "carol")
    unapproved = await store.apply(FLAG, build_change("false"), WHO)
    last = await store.redis.xrange(store.keys.audit(FLAG), min=unapproved.entry_id, max=unapproved.entry_id)
    assert "approved_by" not in last[0][1]  # a change nobody approved writes the entry as before


async def test_list_reads_flags_in_batches(store: FlagStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flags.store.LIST_BATCH", 2)
    for name in ("flag_a", "flag_b", "flag_c", "flag_d", "flag_e"):
        await store.apply(name, build_change("true", actors=users(name)), WHO)
    records = await store.list()
    assert [(r.name, r.state.actors, r.version) for r in records] == [
        (n, {f"User:{n}"}, 1) for n in ("flag_a", "flag_b", "flag_c", "flag_d", "flag_e")
    ]


async def test_expected_version_conflict_writes_nothing(store: FlagStore) -> None:
    first = await store.apply(FLAG, build_change("true"), WHO)
    await store.apply(FLAG, build_change("false"), WHO)
    before = await keyspace(store.redis, store.keys.prefix)
    with pytest.raises(ChangeConflict) as raised:
        await store.apply(FLAG, RestoreState(first.before, first.before_exists), WHO, expected_version=first.version)
    assert raised.value.actual == 2
    assert await keyspace(store.redis, store.keys.prefix) == before


async def test_a_stale_write_in_a_group_leaves_every_key_as_it_was(store: FlagStore) -> None:
    gprd = FlagStore(store.redis, prefix=f"{store.keys.prefix}gprd:", environment="gprd")
    await gprd.apply(FLAG, build_change("true"), WHO)
    before = await keyspace(store.redis, store.keys.prefix)
    with pytest.raises(ChangeConflict):
        await apply_together(
            [Write(store, FLAG, build_change("true"), WHO), Write(gprd, FLAG, build_change("false"), WHO, 0)]
        )
    assert await keyspace(store.redis, store.keys.prefix) == before


async def test_restore_puts_back_an_earlier_hash_exactly(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("true", actors=users("a")), WHO)
    await store.apply(FLAG, build_change("33.3", percentage_of="actors"), WHO)
    snapshot = await raw_flag(store)
    change = await store.apply(FLAG, build_change("true"), WHO)
    await store.apply(FLAG, RestoreState(change.before, change.before_exists), WHO, expected_version=change.version)
    assert await raw_flag(store) == snapshot


async def test_values_written_by_someone_else_are_read_back_verbatim(store: FlagStore) -> None:
    await store.redis.sadd(store.keys.features, FLAG)
    await store.redis.hset(store.keys.flag(FLAG), mapping={"percentage_of_actors": "abc", "boolean": "1"})
    record = await store.get(FLAG)
    assert record.exists and record.version == 0
    assert record.state == FlagState(boolean=True, percentage_of_actors="abc")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: build_change("150", percentage_of="actors"), InvalidPercentage),
        (lambda: build_change("-1", percentage_of="actors"), InvalidPercentage),
        (lambda: build_change("12.3456", percentage_of="actors"), InvalidPercentage),
        (lambda: build_change("fifty", percentage_of="actors"), InvalidPercentage),
        (lambda: build_change("50"), InvalidChange),
        (lambda: build_change("50", actors=users("a"), percentage_of="actors"), InvalidChange),
        (lambda: build_change("true", percentage_of="time"), InvalidChange),
        (lambda: build_change("true", actors=[ActorId.of("user", " ")]), InvalidActor),
        (lambda: ActorId(""), InvalidActor),
        (lambda: GroupName("<!channel>"), InvalidActor),
    ],
)
async def test_bad_changes_raise_before_touching_redis(store: FlagStore, make, error) -> None:  # type: ignore[no-untyped-def]
    await store.apply(FLAG, build_change("true"), WHO)
    before = await keyspace(store.redis, store.keys.prefix)
    with pytest.raises(error):
        await store.apply(FLAG, make(), WHO)
    assert await keyspace(store.redis, store.keys.prefix) == before


@pytest.mark.parametrize("name", ["", "Upper", "1flag", "with-dash", "x" * 256, "<!channel>", "a b"])
async def test_invalid_flag_names_raise_before_touching_redis(store: FlagStore, name: str) -> None:
    before = await keyspace(store.redis, store.keys.prefix)
    with pytest.raises(InvalidFlagName, match="not a valid flag name"):
        await store.apply(name, build_change("true"), WHO)
    with pytest.raises(InvalidFlagName):
        await store.get(name)
    assert await keyspace(store.redis, store.keys.prefix) == before


async def test_unreachable_redis_is_a_typed_error() -> None:
    dead = FlagStore.from_url("redis://127.0.0.1:1/0", prefix="x:", environment="gprd")
    with pytest.raises(StoreUnavailable, match="could not reach Redis for gprd"):
        await dead.apply(FLAG, build_change("true"), WHO)
    with pytest.raises(StoreUnavailable):
        await dead.get(FLAG)
    await dead.close()


async def test_a_change_failing_mid_way_leaves_no_partial_state(store: FlagStore) -> None:
    await store.apply(FLAG, build_change("true", actors=users("a")), WHO)
    # Someone clobbered the audit stream with a string: the change must fail as a whole.
    await store.redis.delete(store.keys.audit(FLAG))
    await store.redis.set(store.keys.audit(FLAG), "not a stream")
    before = await keyspace(store.redis, store.keys.prefix)
    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        await store.apply(FLAG, build_change("true"), WHO)
    assert await keyspace(store.redis, store.keys.prefix) == before


async def test_connections_killed_during_a_stream_of_changes_leave_every_flag_consistent(
    store: FlagStore,
) -> None:
    pool = store.redis.connection_pool
    victim_pool = aioredis.ConnectionPool(
        connection_class=pool.connection_class, **{**pool.connection_kwargs, "client_name": "victim"}
    )
    victim = FlagStore(aioredis.Redis(connection_pool=victim_pool), prefix=store.keys.prefix)
    killed = 0
    names = [f"flag_{i}" for i in range(5)]

    async def change(i: int) -> None:
        value = build_change(str(i % 100), percentage_of="actors")
        with contextlib.suppress(StoreUnavailable):
            await victim.apply(names[i % 5], value, WHO)

    async def killer() -> None:
        nonlocal killed
        for _ in range(5):
            await asyncio.sleep(0.002)
            for client in await store.redis.client_list():
                if client.get("name") == "victim":
                    with contextlib.suppress(ResponseError):
                        killed += await store.redis.client_kill_filter(_id=client["id"])

    await asyncio.gather(killer(), *(change(i) for i in range(300)))
    await victim.close()
    assert killed > 0, "the test must kill connections while changes are in flight"
    for name in names:
        record = await store.get(name)
        entries = await store.history(name, limit=1000)
        # The gates, the version and the audit moved together for every change that ran.
        assert record.version == len(entries)
        if entries:
            assert entries[0].version == record.version
            assert entries[0].after == record.state


async def test_a_restore_of_thousands_of_actors_is_one_whole_change(store: FlagStore) -> None:
    # More values than Lua's unpack() takes at once: the script writes them in slices.
    many = FlagState(actors=frozenset(f"User:{i}" for i in range(4100)), percentage_of_actors="5")
    await store.apply(FLAG, RestoreState(many, True), WHO)
    assert await store.redis.hlen(store.keys.flag(FLAG)) == 4101
    await store.apply(FLAG, build_change("false", actors=[ActorId(f"User:{i}") for i in range(1000)]), WHO)
    assert await store.redis.hlen(store.keys.flag(FLAG)) == 3101


def test_the_script_keeps_as_many_environment_entries_as_the_contract_says() -> None:
    script = resources.files("flags").joinpath("apply_change.lua").read_text(encoding="utf-8")
    assert f"'MAXLEN', '~', '{AUDIT_PER_ENVIRONMENT}'" in script
