"""Each receiver's delivery state in the bot's own Redis: how far into the outbox it has been queued
(its cursor), what is queued and when each is due, how often each failed, its dead letters, and
counts. The driver writes it (every write checks its lease token) and reads it back only when it
takes the lease, when it has sent what it read, or when people queued dead letters again; ``status``
and ``retry`` are for people (the CLI, the dashboard)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from handlers.core.lease import FENCED_CHECK
from handlers.core.outbox_queue import Queued, stream_order
from handlers.core.timers import Fenced

__all__ = ["Loaded", "Queued", "ReceiverState", "ReceiverStatus"]

_SCRIPT = (
    resources.files("handlers.core")
    .joinpath("outbox_state.lua")
    .read_text(encoding="utf-8")
    .replace("--FENCED_CHECK--", FENCED_CHECK)
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What is queued for a receiver, as read: its oldest events in the outbox's order (never an event
    without the earlier ones of its flag), and whether that is all of them."""

    queued: list[Queued]
    complete: bool


@dataclass(frozen=True, slots=True)
class ReceiverStatus:
    name: str
    delivered: int
    pending: int
    dead: int
    last_error: str
    last_error_at: float | None
    last_delivered_at: float | None


_READ_AT_ONCE = 1000  # queued events read with one HMGET


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ReceiverState:
    def __init__(self, client: aioredis.Redis, prefix: str, name: str, lease_key: str) -> None:
        base = f"{prefix}chatops:webhook:{name}:"  # (named when only webhooks received events)
        self.name = name
        self._client = client
        self._keys = [lease_key, *(base + k for k in ("cursor", "pending", "events", "attempts", "dead", "stats"))]
        self.requeued_key = base + "requeued"  # counts `retry`s: the deliverer reads the queue again
        self._script = client.register_script(_SCRIPT)

    async def _call(self, token: int, *args: Any) -> None:
        if await self._script(keys=self._keys, args=[token, *args]) == "fenced":
            raise Fenced(self.name)

    async def cursor(self) -> str:
        found: Any = await self._client.get(self._keys[1])
        return _text(found) if found else ""

    async def start_at(self, stream_id: str) -> None:
        """A new receiver starts with what is added from now on (not the whole history)."""
        await self._client.set(self._keys[1], stream_id, nx=True)

    async def fan(self, token: int, cursor: str, now: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        pairs = [x for stream_id, event in events for x in (stream_id, json.dumps(event, separators=(",", ":")))]
        await self._call(token, "fan", cursor, now, *pairs)

    async def load(self, limit: int) -> Loaded:
        """The oldest ``limit`` events queued, in the outbox's order (due times and failures as recorded)."""
        found: Any = await self._client.zrange(self._keys[2], 0, -1, withscores=True)
        ordered = sorted(((_text(i), float(due)) for i, due in found), key=lambda pair: stream_order(pair[0]))
        queued: list[Queued] = []
        for start in range(0, min(limit, len(ordered)), _READ_AT_ONCE):
            some = ordered[start : min(limit, start + _READ_AT_ONCE)]
            ids = [i for i, _ in some]
            events: Any = await self._client.hmget(self._keys[3], ids)
            attempts: Any = await self._client.hmget(self._keys[4], ids)
            queued += [
                Queued(i, json.loads(_text(e)), due, int(a or 0))
                for (i, due), e, a in zip(some, events, attempts, strict=True)
                if e is not None
            ]
        return Loaded(queued, complete=len(ordered) <= limit)

    async def delivered(self, token: int, queued: Queued, now: float) -> None:
        await self._call(token, "done", queued.stream_id, now)

    async def failed(self, token: int, queued: Queued, now: float, error: str, due: float | None) -> None:
        letter = {
            "stream_id": queued.stream_id,
            "event": queued.event,
            "error": error,
            "attempts": queued.attempts + 1,
            "at": now,
        }
        await self._call(
            token,
            "failed",
            queued.stream_id,
            now,
            error[:500],
            "dead" if due is None else due,
            json.dumps(letter, separators=(",", ":")),
        )

    async def status(self) -> ReceiverStatus:
        stats: Any = await self._client.hgetall(self._keys[6])
        stats = {_text(k): _text(v) for k, v in stats.items()}
        pending: Any = await self._client.zcard(self._keys[2])
        dead: Any = await self._client.llen(self._keys[5])
        return ReceiverStatus(
            self.name,
            int(stats.get("delivered", 0)),
            int(pending),
            int(dead),
            stats.get("last_error", ""),
            float(stats["last_error_at"]) if "last_error_at" in stats else None,
            float(stats["last_delivered_at"]) if "last_delivered_at" in stats else None,
        )

    async def retry_dead(self, now: float) -> int:
        """Queue every dead letter again (due now, its failures forgotten); how many."""
        letters: Any = await self._client.lrange(self._keys[5], 0, -1)
        if not letters:
            return 0
        async with self._client.pipeline(transaction=True) as pipe:
            for text in letters:
                letter = json.loads(_text(text))
                pipe.zadd(self._keys[2], {letter["stream_id"]: now})
                pipe.hset(self._keys[3], letter["stream_id"], json.dumps(letter["event"], separators=(",", ":")))
                pipe.hdel(self._keys[4], letter["stream_id"])
            pipe.ltrim(self._keys[5], len(letters), -1)
            pipe.hincrby(self._keys[6], "dead", -len(letters))
            pipe.incr(self.requeued_key)
            await pipe.execute()
        return len(letters)
