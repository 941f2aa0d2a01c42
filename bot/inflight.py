"""Commands acknowledged but not answered yet: what a graceful shutdown waits for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["InFlight"]


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> int:
        """Wait until nothing is in flight, at most ``timeout`` seconds; returns what is left."""
        deadline = time.monotonic() + timeout
        while self.count and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        return self.count
