"""Telling the person that something slow is still going on, only if it is slow."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from handlers.core.cancellation import stop
from handlers.core.chat import Notify

__all__ = ["notice_if_slow"]


@contextlib.asynccontextmanager
async def notice_if_slow(notify: Notify | None, after_s: float, text: str) -> AsyncIterator[None]:
    """Say ``text`` (an interim, ephemeral message) if the block is still running after ``after_s``."""

    async def later() -> None:
        await asyncio.sleep(after_s)
        if notify is not None:
            await notify(text)

    notice = asyncio.create_task(later())
    try:
        yield
    finally:
        await stop(notice)  # a cancellation of the block meanwhile goes on up, not into the notice
