"""Delivering the outbox to each receiver, while this process holds the driver lease: new events are
queued per receiver (those it asked for) as soon as they are added; each queued event is sent, in
order per flag (a later event waits for an earlier one of the same flag), at most ``concurrency`` at a
time per receiver; a failure is tried again after an exponential backoff with jitter, and after
``max_attempts`` it is a dead letter. Every state write checks the lease token: a process that lost
the lease stops, and the next holder sends what is still queued (at least once; the idempotency key
lets receivers drop a repeat)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from redis.exceptions import RedisError

from handlers.config import Config
from handlers.config.webhooks import Webhook
from handlers.core.outbox import Outbox
from handlers.core.timers import Fenced
from handlers.webhooks.requests import request_for
from handlers.webhooks.store import Queued, ReceiverState

__all__ = ["START_BACK_S", "Deliverer"]

_log = structlog.get_logger("chatops.webhooks")
START_BACK_S = 600.0  # a receiver seen for the first time gets the events of the last ten minutes
IDLE_WAIT_MS = 500


@dataclass
class _Receiver:
    webhook: Webhook
    state: ReceiverState
    types: frozenset[str]
    environments: frozenset[str] | None
    inflight: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def wants(self, event: dict[str, Any]) -> bool:
        if event.get("type") not in self.types:
            return False
        places = {event.get("environment"), event.get("environment_option")}
        return self.environments is None or bool(places & self.environments)


class Deliverer:
    def __init__(self, config: Config, outbox: Outbox, prefix: str, lease_key: str) -> None:
        self.outbox = outbox
        self.receivers = [
            _Receiver(
                w,
                ReceiverState(outbox.client, prefix, w.name, lease_key),
                w.types(),
                frozenset(w.environments) if w.environments is not None else None,
            )
            for w in config.webhooks
        ]
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    async def run(self, token_of: Callable[[], int | None], stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set, whenever ``token_of()`` says this process holds the lease."""
        if not self.receivers:
            return
        self._session = aiohttp.ClientSession()
        try:
            while not stopping.is_set():
                token = token_of()
                if token is None:
                    await _pause(stopping, 0.5)
                    continue
                try:
                    await self.round(token)
                except Fenced:
                    _log.info("webhooks.lease_lost")
                except (RedisError, OSError) as error:
                    _log.warning("webhooks.redis_unavailable", error=str(error)[:200])
                    await _pause(stopping, 1.0)
        finally:
            await asyncio.gather(*(t for r in self.receivers for t in r.inflight.values()), return_exceptions=True)
            await self._session.close()

    async def round(self, token: int) -> None:
        """Queue what is new, send what is due; wait (briefly) when there is nothing to do."""
        new = await self._queue_new(token, block_ms=None)
        sent, next_due = await self._send_due(token)
        if new or sent:
            return
        if any(r.inflight for r in self.receivers):
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.2)
            return
        wait_ms = IDLE_WAIT_MS if next_due is None else max(10, min(IDLE_WAIT_MS, int((next_due - time.time()) * 1000)))
        await self._queue_new(token, block_ms=wait_ms)

    async def _queue_new(self, token: int, block_ms: int | None) -> int:
        cursors = {}
        for receiver in self.receivers:
            cursor = await receiver.state.cursor()
            if not cursor:
                cursor = f"{int((time.time() - START_BACK_S) * 1000)}-0"
                await receiver.state.start_at(cursor)
                cursor = await receiver.state.cursor()
            cursors[receiver.webhook.name] = cursor
        oldest = min(cursors.values(), key=_order)
        events = await self.outbox.after(oldest, count=500, block_ms=block_ms)
        if not events:
            return 0
        now = time.time()
        for receiver in self.receivers:
            mine = [
                (i, e) for i, e in events if _order(i) > _order(cursors[receiver.webhook.name]) and receiver.wants(e)
            ]
            await receiver.state.fan(token, events[-1][0], now, mine)
        return len(events)

    async def _send_due(self, token: int) -> tuple[int, float | None]:
        """Start sending each queued event that is due and first of its flag; how many started, and
        when the next one waiting for its backoff is due."""
        started, next_due, now = 0, None, time.time()
        for receiver in self.receivers:
            blocked: set[str] = set()
            for queued in await receiver.state.queued():
                lane = str(queued.event.get("flag") or f"environment:{queued.event.get('environment')}")
                if lane in blocked:
                    continue
                blocked.add(lane)  # what comes after it on its flag waits for it
                if queued.stream_id in receiver.inflight:
                    continue
                if queued.due > now:
                    next_due = queued.due if next_due is None else min(next_due, queued.due)
                    continue
                if len(receiver.inflight) >= receiver.webhook.concurrency:
                    break
                task = asyncio.create_task(self._send(token, receiver, queued))
                receiver.inflight[queued.stream_id] = task
                task.add_done_callback(functools.partial(self._finished, receiver, queued.stream_id))
                started += 1
        return started, next_due

    def _finished(self, receiver: _Receiver, stream_id: str, _task: asyncio.Task[None]) -> None:
        receiver.inflight.pop(stream_id, None)
        self._wake.set()

    async def _send(self, token: int, receiver: _Receiver, queued: Queued) -> None:
        webhook = receiver.webhook
        secret = os.environ.get(webhook.secret_env, "") if webhook.secret_env else ""
        bearer = os.environ.get(webhook.token_env, "") if webhook.token_env else ""
        body, headers = request_for(webhook, queued.event, secret, bearer)
        error = await self._post(webhook, body, headers)
        try:
            if not error:
                await receiver.state.delivered(token, queued, time.time())
                return
            attempts = queued.attempts + 1
            due = None if attempts >= webhook.max_attempts else time.time() + _backoff(webhook, attempts)
            _log.warning(
                "webhooks.failed",
                receiver=webhook.name,
                event_id=queued.event.get("id"),
                error=error,
                attempts=attempts,
                dead=due is None,
            )
            await receiver.state.failed(token, queued, time.time(), error, due)
        except (Fenced, RedisError, OSError) as failure:  # the next holder sends it again
            _log.warning("webhooks.not_recorded", receiver=webhook.name, error=str(failure)[:200])

    async def _post(self, webhook: Webhook, body: bytes, headers: dict[str, str]) -> str:
        """'' when the receiver took it (any 2xx); else what went wrong."""
        assert self._session is not None
        try:
            timeout = aiohttp.ClientTimeout(total=webhook.timeout)
            async with self._session.post(webhook.url, data=body, headers=headers, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return ""
                said = (await response.content.read(200)).decode(errors="replace").strip()
                return f"HTTP {response.status}" + (f": {said}" if said else "")
        except TimeoutError:
            return f"no answer within {webhook.timeout:g} s"
        except aiohttp.ClientError as error:
            return f"{type(error).__name__}: {error}"[:300]


def _backoff(webhook: Webhook, attempts: int) -> float:
    """Exponential, capped, with jitter (half to one and a half times), so that receivers coming back
    are not all hit at once."""
    base = min(webhook.max_backoff_seconds, webhook.backoff_seconds * 2.0 ** (attempts - 1))
    return float(base * random.uniform(0.5, 1.5))


def _order(stream_id: str) -> tuple[int, int]:
    millis, _, sequence = stream_id.partition("-")
    return int(millis), int(sequence or 0)


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
