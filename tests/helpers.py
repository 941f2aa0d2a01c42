"""Helpers shared by tests."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


async def keyspace(client: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` with its type and value, to compare before and after."""
    dump: dict[str, Any] = {}
    # The bot's memory of requests it has handled (replay protection) is not state a command changed.
    keys = sorted([k async for k in client.scan_iter(match=f"{prefix}*", count=1000) if ":chatops:seen:" not in str(k)])
    for key in keys:
        kind = await client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "hash":
            dump[key] = ("hash", await client.hgetall(key))
        elif kind == "set":
            dump[key] = ("set", sorted(await client.smembers(key)))
        elif kind == "stream":
            dump[key] = ("stream", await client.xrange(key))
        elif kind == "string":
            dump[key] = ("string", await client.get(key))
        else:
            dump[key] = (kind, None)
    return dump
