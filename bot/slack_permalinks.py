"""Permalinks of the bot's own Slack messages (``chat.getPermalink``), for the dashboard's links to
a rollout's message and an approval's card.

A message's permalink never changes, so each is asked once and kept. A page never waits long for
Slack: what is not answered within ``wait_s`` is left out of that page (the question goes on, and
its answer serves the next page); a question Slack refused is not asked again for ``retry_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from functools import partial

import aiohttp
import structlog
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["SlackPermalinks"]

_log = structlog.get_logger("bot")
_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError)


class SlackPermalinks:
    def __init__(self, client: AsyncWebClient, *, wait_s: float = 2.0, retry_s: float = 60.0, keep: int = 10_000):
        self._client = client
        self._wait_s, self._keep = wait_s, keep
        self.retry_s = retry_s  # how long a reference Slack refused is not asked again
        self._found: OrderedDict[str, str] = OrderedDict()  # reference → permalink, the newest last
        self._refused: dict[str, float] = {}  # reference → when Slack last refused it (monotonic)
        self._asking: dict[str, asyncio.Task[None]] = {}

    async def of(self, references: Iterable[str]) -> dict[str, str]:
        """The permalinks of these message references (``CHANNEL|TS``, as the chat backend gives
        them) that are known, or that Slack answers within ``wait_s``; the others are left out."""
        wanted = {r for r in references if _parts(r) is not None}
        now = time.monotonic()
        for reference in wanted:
            if reference in self._found or reference in self._asking:
                continue
            if now - self._refused.get(reference, float("-inf")) < self.retry_s:
                continue
            task = asyncio.create_task(self._ask(reference))
            self._asking[reference] = task
            task.add_done_callback(partial(self._asked, reference))
        pending = [self._asking[r] for r in wanted if r in self._asking]
        if pending:
            await asyncio.wait(pending, timeout=self._wait_s)
        return {r: self._found[r] for r in wanted if r in self._found}

    def _asked(self, reference: str, _: asyncio.Task[None]) -> None:
        self._asking.pop(reference, None)

    async def _ask(self, reference: str) -> None:
        channel, ts = _parts(reference) or ("", "")
        try:
            answer = await self._client.chat_getPermalink(channel=channel, message_ts=ts)
        except _FAILURES as error:
            self._refused[reference] = time.monotonic()
            _log.warning("bot.slack_permalink_failed", reference=reference, error=str(error)[:200])
            return
        link = answer.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            self._refused[reference] = time.monotonic()
            return
        self._refused.pop(reference, None)
        self._found[reference] = link
        while len(self._found) > self._keep:
            self._found.popitem(last=False)


def _parts(reference: str) -> tuple[str, str] | None:
    """The channel and timestamp of a message reference; None for one that names no message."""
    channel, bar, ts = reference.partition("|")
    return (channel, ts) if bar and channel and ts else None
