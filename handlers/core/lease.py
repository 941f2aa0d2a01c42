"""A lease with a fencing token in the bot's own Redis: which process drives the timers.

Any number of workers and replicas compete for it; one holds it at a time, renewing it. If the
holder dies (or stalls past the lease), another acquires it with a higher token. Every timed
write checks the token in the same script as the write (see ``FENCED_CHECK``), so a driver that
was paused or replaced can never write.
"""

from __future__ import annotations

import os
import socket
import uuid
from importlib import resources
from typing import Any

import redis.asyncio as aioredis

__all__ = ["FENCED_CHECK", "Lease"]

_SCRIPT = resources.files("handlers.core").joinpath("lease.lua").read_text(encoding="utf-8")

#: Lua that returns 'fenced' unless KEYS[1] (the lease key) holds ARGV[1] (a token): put it first
#: in a script that writes on the driver's behalf.
FENCED_CHECK = """
local lease = redis.call('GET', KEYS[1])
if not lease or string.match(lease, '^(%d+) ') ~= ARGV[1] then return 'fenced' end
"""


class Lease:
    def __init__(self, client: aioredis.Redis, key: str, ttl_s: float) -> None:
        self._keys = [key, f"{key}:token"]
        self._script = client.register_script(_SCRIPT)
        self.key = key
        self.ttl_ms = int(ttl_s * 1000)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def _call(self, *args: Any) -> int:
        return int(await self._script(keys=self._keys, args=list(args)))

    async def acquire(self) -> int | None:
        """The token this process holds the lease with (acquiring or renewing it), or None."""
        token = await self._call("acquire", self.owner, self.ttl_ms)
        return token or None

    async def renew(self, token: int) -> bool:
        return bool(await self._call("renew", token, self.ttl_ms))

    async def release(self, token: int) -> None:
        await self._call("release", token)
