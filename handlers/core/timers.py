"""Timers of work kept for later, durable in the bot's own Redis: one hash of records (scheduled
changes ``S…``, rollouts ``R…``: each capability keeps its own kind, told apart by the first letter
of its id) and one sorted set of when each is due. Only the holder of the driver lease takes due
ones (the check and the take are one script); see ``handlers.core.driver``."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from handlers.core.lease import FENCED_CHECK
from handlers.core.ports import PortKey

__all__ = ["DRIVER_LEASE_KEY", "TIMERS", "Fenced", "Timers"]

_SCRIPT = (
    resources.files("handlers.core")
    .joinpath("timers.lua")
    .read_text(encoding="utf-8")
    .replace("--FENCED_CHECK--", FENCED_CHECK)
)
DRIVER_LEASE_KEY = "chatops:driver"  # after the configuration's redis_prefix


class Fenced(Exception):
    """This process no longer holds the driver lease: it must not write."""


class Timers:
    """The records hash and the timers; a capability adds its records through its own store."""

    def __init__(self, client: aioredis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self.lease_key = f"{prefix}{DRIVER_LEASE_KEY}"
        self.hash_key = f"{prefix}chatops:schedules"  # the records of every kind (named when it held only schedules)
        self.timers_key = f"{prefix}chatops:timers"
        self._script = client.register_script(_SCRIPT)

    async def next_due(self) -> float | None:
        first = await self.client.zrange(self.timers_key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def take_due(self, token: int, retry_s: float, limit: int = 100) -> list[tuple[str, str]]:
        """Due records as (id, JSON), each pushed ``retry_s`` later until done; Fenced without the lease."""
        reply = await self._call(token, "due", f"{time.time():.3f}", retry_s, limit)
        return [(str(reply[i]), str(reply[i + 1])) for i in range(0, len(reply), 2)]

    async def done(self, token: int, record_id: str) -> None:
        """A scheduled change (``S…``) is removed; any other record only loses its timer."""
        await self._call(token, "done", record_id)

    async def _call(self, token: int, *args: Any) -> Any:
        reply = await self._script(keys=[self.lease_key, self.hash_key, self.timers_key], args=[token, *args])
        if reply == "fenced":
            raise Fenced(self.lease_key)
        return reply


TIMERS: PortKey[Timers] = PortKey("timers")
