"""Change freezes, in the bot's own Redis so every worker and replica sees them at once.

A freeze is per environment and per source: a person (``manual``), or a firing alert
(``alert:FINGERPRINT``), which lifts it when the alert resolves. While any freeze of an environment
is active, changes that raise exposure there are refused; changes that reduce it still work.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from handlers.core.freezes import Freeze
from handlers.core.ports import PortKey

__all__ = ["FREEZE_STORE", "FreezeStore"]


class FreezeStore:
    def __init__(self, client: aioredis.Redis, prefix: str = "") -> None:
        self._redis = client
        self.key = f"{prefix}chatops:freezes"

    async def put(self, freeze: Freeze) -> None:
        done: Any = self._redis.hset(self.key, f"{freeze.option}|{freeze.source}", freeze.to_json())
        await done

    async def lift(self, options: list[str], source: str | None = None) -> int:
        """Lift the freezes of ``options`` (from ``source`` only, or all); how many were lifted."""
        keys: Any = await self._redis.hkeys(self.key)
        fields = [str(f) for f in keys if str(f).split("|", 1)[0] in options]
        if source is not None:
            fields = [f for f in fields if f.split("|", 1)[1] == source]
        if not fields:
            return 0
        removed: Any = self._redis.hdel(self.key, *fields)
        return int(await removed)

    async def active(self) -> list[Freeze]:
        records: Any = await self._redis.hgetall(self.key)
        found = [Freeze.from_json(t) for t in records.values()]
        return sorted((f for f in found if f.active), key=lambda f: (f.option, f.since))

    async def of(self, options: list[str]) -> list[Freeze]:
        return [f for f in await self.active() if f.option in options]


FREEZE_STORE: PortKey[FreezeStore] = PortKey("freeze store")
