"""The answer never waits long for cross-posts: slow ones go on in the background with a deadline,
and one that fails then is told to the person as a follow-up."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import replace

import pytest

from handlers.core import delivery, pipeline
from handlers.core.caller import Caller
from handlers.core.charts import Chart
from handlers.core.reply import CrossPost, Section, line
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, MakeChatops


class _SlowLogChannel(ShellBackend):
    """The log channel hangs (as chat.postMessage did behind a 429 that never ended)."""

    async def post(self, post: CrossPost) -> str:
        if post.channel == "#feature-flag-log":
            await asyncio.sleep(3600)
        await super().post(post)


async def test_a_hanging_cross_post_does_not_hold_the_answer(
    chatops: MakeChatops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "ANSWER_WAIT_S", 0.3)
    monkeypatch.setattr(delivery, "DELIVERY_DEADLINE_S", 0.5)
    bot = await chatops()
    backend = _SlowLogChannel("alice", frozenset({"sre"}))
    follow_ups: list[str] = []

    async def notify(text: str) -> None:
        follow_ups.append(text)

    caller = Caller("alice", "alice", "C0DEV", "development")
    started = time.monotonic()
    reply = await pipeline.run(f"run feature set {FLAG} true --staging", caller, bot.app, backend, notify)
    assert time.monotonic() - started < 0.9
    assert reply.ok and "Still posting to #feature-flag-log: Slack is slow." in to_text(reply)
    assert await bot.gates("staging") == {"boolean": "true"}
    assert [p.channel for p in backend.posted] == ["#e2e-run-staging"]  # the others were not held back
    await bot.app.deliveries.drain(timeout=5)
    assert bot.app.deliveries.in_flight == 0
    assert follow_ups == [
        "Could not post to #feature-flag-log (log channel): Slack did not answer within 0.5 s. The change itself stands."
    ]


async def test_fast_cross_posts_fail_into_the_answer_itself(chatops: MakeChatops) -> None:
    bot = await chatops()

    class Missing(ShellBackend):
        async def post(self, post: CrossPost) -> str:
            raise RuntimeError("channel_not_found")

    caller = Caller("alice", "alice", "C0DEV", "development")
    reply = await pipeline.run(f"run feature set {FLAG} true --staging", caller, bot.app, Missing("a", frozenset()))
    text = to_text(reply)
    assert "Could not post to #feature-flag-log (log channel): channel_not_found. The change itself stands." in text
    assert "Still posting" not in text and bot.app.deliveries.in_flight == 0


class _SlowSecurityChannel(ShellBackend):
    """The security channel hangs."""

    async def post(self, post: CrossPost) -> str:
        if post.channel == "#chatops-security":
            await asyncio.sleep(3600)
        return await super().post(post)


async def test_a_refused_person_is_not_told_the_slow_report_is_still_on_its_way(
    chatops: MakeChatops, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "ANSWER_WAIT_S", 0.3)
    monkeypatch.setattr(delivery, "DELIVERY_DEADLINE_S", 0.5)
    bot = await chatops()
    caller = Caller("mallory", "mallory", "C0RAND", "random")
    backend = _SlowSecurityChannel("mallory", frozenset())
    reply = await pipeline.run(f"run feature set {FLAG} true --production", caller, bot.app, backend)
    text = to_text(reply)
    assert not reply.ok and "may only run in #production" in text
    assert "security" not in text and "Still posting" not in text, text
    await bot.app.deliveries.drain(timeout=5)


async def test_the_shell_says_in_words_what_slack_shows_as_a_chart() -> None:
    chart = Chart("my_flag: checks around the rollout", 0.0, 600.0, (), alt="Error ratio stayed under max 2%")
    out = io.StringIO()
    backend = ShellBackend("alice", frozenset(), live=out)
    post = CrossPost(
        "#feature-flag-log", "log channel", (Section((line("my_flag: step 2 done"),)),), "done", chart=chart
    )
    await backend.post(post)
    await backend.post(replace(post, chart=replace(chart, alt="")))
    await backend.post(replace(post, chart=None))
    said = [text for text in out.getvalue().splitlines() if text.startswith("(chart")]
    assert said == [
        "(chart: my_flag: checks around the rollout — Error ratio stayed under max 2%; shown as an image in Slack)",
        "(chart: my_flag: checks around the rollout; shown as an image in Slack)",
    ]
    assert out.getvalue().count("my_flag: step 2 done") == 3
