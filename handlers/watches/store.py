"""Watches, durable in the bot's own Redis: the changes waiting to be watched (pushed by whatever
process wrote them), and each watch (only the driver's periodic job writes those)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import redis.asyncio as aioredis

from handlers.core.ports import PortKey

__all__ = ["WATCH_STORE", "Watch", "WatchStore", "Watched"]

DONE_KEPT_S = 7 * 86400  # a finished watch stays this long (the dashboard shows recent ones)


@dataclass(frozen=True, slots=True)
class Watched:
    """One change under watch."""

    flag: str
    option: str
    who: str
    user_id: str
    at: float
    before: str  # the flag's state before, in words
    after: str
    entry_id: str  # its audit entry (what its Undo button names)
    post: str  # the name its post was remembered by
    reply: str = ""  # our reply in that post's thread, once posted


@dataclass(frozen=True, slots=True)
class Watch:
    """The changes in one environment close together, watched together."""

    id: str
    option: str
    environment: str  # its name, as the queries' {env}
    checks: tuple[str, ...]
    started: float  # the first change
    ends: float
    changes: tuple[Watched, ...]
    baselines: dict[str, float | None] = field(default_factory=dict)  # by check, before the first change
    last: dict[str, float | None] = field(default_factory=dict)  # by check, at the last reading
    worst: dict[str, float] = field(default_factory=dict)  # by check, the worst reading since the change
    errors: dict[str, str] = field(default_factory=dict)  # by check, why the last reading has no value
    failing: tuple[str, ...] = ()  # checks that broke their bound failure_limit readings in a row
    streak: dict[str, int] = field(default_factory=dict)  # by check, failing readings in a row now
    read_at: float = 0.0
    done: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Watch:
        data: dict[str, Any] = json.loads(text)
        changes = tuple(Watched(**c) for c in data.pop("changes"))
        data["checks"], data["failing"] = tuple(data["checks"]), tuple(data.get("failing") or ())
        return cls(changes=changes, **data)

    def joined(self, change: Watched, minutes: float) -> Watch:
        if any(c.entry_id == change.entry_id for c in self.changes):
            return self  # seen already (a job that stopped before it forgot the change)
        return replace(self, changes=(*self.changes, change), ends=max(self.ends, change.at + minutes * 60))


class WatchStore:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._redis = client
        self._pending = prefix + "watches:pending"
        self._hash = prefix + "watches"
        self._seq = prefix + "watches:seq"

    async def push(self, change: Watched) -> None:
        await self._redis.rpush(self._pending, json.dumps(asdict(change)))

    async def pending(self, limit: int = 500) -> list[Watched]:
        found: Any = await self._redis.lrange(self._pending, 0, limit - 1)
        return [Watched(**json.loads(text)) for text in found]

    async def forget_pending(self, count: int) -> None:
        await self._redis.ltrim(self._pending, count, -1)

    async def new_id(self) -> str:
        return f"W{int(await self._redis.incr(self._seq))}"

    async def all(self) -> list[Watch]:
        found: Any = await self._redis.hgetall(self._hash)
        return sorted((Watch.from_json(t) for t in found.values()), key=lambda w: int(w.id[1:]))

    async def save(self, watch: Watch) -> None:
        await self._redis.hset(self._hash, watch.id, watch.to_json())

    async def drop(self, watch_id: str) -> None:
        await self._redis.hdel(self._hash, watch_id)


WATCH_STORE: PortKey[WatchStore] = PortKey("watch store")
