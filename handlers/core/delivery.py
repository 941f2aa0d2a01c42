"""Cross-posts are delivered beside the answer, never in front of it.

The answer waits at most ``ANSWER_WAIT_S`` for them: what failed by then is a note in the answer.
The rest go on in the background, each bounded by ``DELIVERY_DEADLINE_S``; one that then fails
is told to the person as a follow-up (and logged). A refusal's report to the security channel
is never told to the refused person, only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

import structlog

from handlers.core.chat import ChatBackend, Notify
from handlers.core.reply import CrossPost, Line, Reply, line

__all__ = ["ANSWER_WAIT_S", "DELIVERY_DEADLINE_S", "Deliveries"]

ANSWER_WAIT_S = 2.0
DELIVERY_DEADLINE_S = 60.0

_log = structlog.get_logger("bot")


#: Keeps a posted message's reference under the name its cross-post asked for (``remember``).
Keep = Callable[[str, str], Awaitable[None]]


class Deliveries:
    """The cross-posts still in flight, so that a shutdown (or the shell) can wait for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.keep: Keep | None = None  # set by the composition root when there is a Redis to keep them in

    async def deliver(self, reply: Reply, chat: ChatBackend, notify: Notify | None) -> Reply:
        """Post ``reply``'s cross-posts; the reply, with notes for the ones that failed in time.
        Posts a reply already delivered (one that came back from a run inside this one, such as
        the command an approval runs) are not posted again."""
        fresh = [p for p in reply.cross_posts if p not in reply.delivered]
        if not fresh:
            return reply
        reply = replace(reply, delivered=reply.cross_posts)
        posts = {asyncio.create_task(_bounded(self._post(chat, p))): p for p in fresh}
        done, pending = await asyncio.wait(posts, timeout=ANSWER_WAIT_S)
        notes = [n for task in done if (n := _failure(posts[task], task, reply.ok)) is not None]
        for task in pending:
            follow_up = self._spawn(_follow_up(posts[task], task, reply.ok, notify))
            follow_up.add_done_callback(self._tasks.discard)
        told = [posts[t].channel for t in pending if posts[t].purpose != "security channel"]  # never the alarm
        if told:
            notes.append(line(f"Still posting to {', '.join(told)}: Slack is slow."))
        return reply.with_notes(*notes) if notes else reply

    async def _post(self, chat: ChatBackend, post: CrossPost) -> None:
        reference = await chat.post(post)
        if post.remember and reference and self.keep is not None:
            try:
                await self.keep(post.remember, reference)
            except Exception as error:  # the message went: only a later thread reply is lost
                _log.warning("bot.keep_reference_failed", name=post.remember, error=str(error)[:200])

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        return task

    async def drain(self, timeout: float = DELIVERY_DEADLINE_S) -> None:
        """Wait for the cross-posts in flight (at most ``timeout``)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)


async def _bounded(post: Awaitable[object]) -> None:
    async with asyncio.timeout(DELIVERY_DEADLINE_S):
        await post


def _failure(post: CrossPost, task: asyncio.Task[None], ok: bool) -> Line | None:
    error = task.exception()
    if error is None:
        return None
    if isinstance(error, TimeoutError):
        error = TimeoutError(f"Slack did not answer within {DELIVERY_DEADLINE_S:g} s")
    if not ok:  # a refusal's report: the refused person is not told whether the alarm went off
        _log.error("bot.refusal_report_failed", channel=post.channel, purpose=post.purpose, error=str(error))
        return None
    _log.warning("bot.cross_post_failed", channel=post.channel, purpose=post.purpose, error=str(error))
    return line(f"Could not post to {post.channel} ({post.purpose}): {error}. The change itself stands.")


async def _follow_up(post: CrossPost, task: asyncio.Task[None], ok: bool, notify: Notify | None) -> None:
    with contextlib.suppress(Exception):
        await task
    failure = _failure(post, task, ok)
    if failure is not None and notify is not None:
        with contextlib.suppress(Exception):  # the person's answer already went; this is a courtesy
            await notify("".join(str(s) for s in failure))
