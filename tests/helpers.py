"""Helpers shared by tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
import redis.asyncio as aioredis

from flags import FlagStorage, MemoryFlagStore
from flags.adapter import AUDIT_PER_ENVIRONMENT

#: Part of the key of the bot's memory of requests it handled (replay protection): not state a
#: command changed, so keyspace comparisons leave it out.
REPLAY_MARKER = ":chatops:seen:"
#: Keys the bot's background work writes whatever people do: the driver's lease, and the delivery of
#: the outbox's events (each receiver's queue, what each subscription was told). The outbox itself is
#: not among them: only a change adds to it.
BACKGROUND_KEYS = (REPLAY_MARKER, ":chatops:driver", ":chatops:webhook:", ":chatops:subscriptions:told:")


def delete_prefixed(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a test's or a benchmark's own)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=5000))
        for i in range(0, len(keys), 5000):
            client.delete(*keys[i : i + 5000])
    finally:
        client.close()


async def keyspace(client: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` with its type and value, to compare before and after."""
    dump: dict[str, Any] = {}
    keys = sorted(
        [
            k
            async for k in client.scan_iter(match=f"{prefix}*", count=1000)
            if not any(m in str(k) for m in BACKGROUND_KEYS)
        ]
    )
    types = client.pipeline(transaction=False)  # two round trips, whatever the number of keys
    for key in keys:
        types.type(key)
    kinds = [k.decode() if isinstance(k, bytes) else k for k in await types.execute()]
    values = client.pipeline(transaction=False)
    read = {"hash": values.hgetall, "set": values.smembers, "stream": values.xrange, "string": values.get}
    for key, kind in zip(keys, kinds, strict=True):
        if kind in read:
            read[kind](key)
    found = iter(await values.execute())
    for key, kind in zip(keys, kinds, strict=True):
        value = next(found) if kind in read else None
        dump[key] = (kind, sorted(value) if kind == "set" else value)
    return dump


async def memory_keyspace(stores: Iterable[FlagStorage]) -> dict[str, Any]:
    """What the memory flag stores among ``stores`` hold, to compare before and after as
    ``keyspace`` compares Redis keys: each environment's flags (gates, version, when changed) and
    its audit entries. Every write of a change adds an audit entry, so no write goes unseen."""
    dump: dict[str, Any] = {}
    for store in stores:
        if not isinstance(store, MemoryFlagStore):
            continue
        flags = [(r.name, r.state.to_hash(), r.version, r.changed_at) for r in await store.list()]
        entries = await store.changes_since(0, limit=AUDIT_PER_ENVIRONMENT)
        if flags:
            dump[f"{store.prefix}flipper_features (memory)"] = ("flags", flags)
        if entries:
            dump[f"{store.prefix}audit (memory)"] = ("audit", entries)
    return dump


async def write_as_another_writer(client: aioredis.Redis, prefix: str, name: str, gates: dict[str, str]) -> None:
    """Set a flag's gates in Flipper's layout under ``prefix`` (an environment's), as Ruby's Flipper
    or a console does: the hash and the feature set, no version and no audit entry."""
    await client.sadd(f"{prefix}flipper_features", name)  # type: ignore[misc]
    await client.delete(f"{prefix}{name}")
    if gates:
        await client.hset(f"{prefix}{name}", mapping=gates)  # type: ignore[misc]
