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

    async def lift(self, options: list[str], source: str | None = None) -> list[Freeze]:
        """Lift the freezes in force on ``options`` (from ``source`` only, or all); those lifted."""
        lifted = [f for f in await self.of(options) if source is None or f.source == source]
        if lifted:
            removed: Any = self._redis.hdel(self.key, *(f"{f.option}|{f.source}" for f in lifted))
            await removed
        return lifted

    async def active(self) -> list[Freeze]:
        """The freezes in force; expired ones are removed as they are found."""
        records: Any = await self._redis.hgetall(self.key)
        found = {str(k): Freeze.from_json(t) for k, t in records.items()}
        expired = [k for k, f in found.items() if not f.active]
        if expired:
            removed: Any = self._redis.hdel(self.key, *expired)
            await removed
        return sorted((f for f in found.values() if f.active), key=lambda f: (f.option, f.since))

    async def of(self, options: list[str]) -> list[Freeze]:
        return [f for f in await self.active() if f.option in options]


FREEZE_STORE: PortKey[FreezeStore] = PortKey("freeze store")
