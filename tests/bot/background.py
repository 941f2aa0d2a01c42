"""The bot and the Slack stub on an event loop in a background thread, for synchronous
tests (hypothesis) and benchmarks that drive it over HTTP from the outside."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from tests.bot.conftest import CHANNELS, SRE, BotUnderTest, signed_headers, start_bot
from tests.bot.slack_stub import SlackStub, message_text

T = TypeVar("T")


class BackgroundBot:
    def __init__(self, config_path: Path, embedded_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.slack = self.call(SlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE}).start())
        self._runner: web.AppRunner
        self._runner, self.url = self.call(start_bot(config_path, self.slack, embedded_dir))

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def command(self, text: str, *, user: str = "U0SRE", channel: str = "#production") -> tuple[int, str, str]:
        """(HTTP status, response_type, text) of a signed slash command."""
        form = BotUnderTest.form(self, text, user, channel)  # type: ignore[arg-type]
        body, response_id = form
        request = urllib.request.Request(
            f"{self.url}/slack/events", data=body.encode(), headers=signed_headers(body), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
        deadline = time.monotonic() + 10
        while not self.slack.responses.get(response_id):
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer to {text[:80]!r}")
            time.sleep(0.001)
        message = self.slack.responses[response_id][0]
        return status, message.get("response_type", ""), message_text(message)

    def stop(self) -> None:
        self.call(self._runner.cleanup())
        self.call(self.slack.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
