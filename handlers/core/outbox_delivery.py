"""Delivering the outbox to its receivers (webhooks, subscriptions' Slack posts), while this process
holds the driver lease: new events are queued per receiver (those it wants) as soon as they are added;
each queued event is sent, in order per flag (a later event waits for an earlier one of the same flag),
at most ``concurrency`` at a time per receiver; a failure is tried again after an exponential backoff
with jitter, and after ``max_attempts`` it is a dead letter. Every state write checks the lease token:
a process that lost the lease stops, and the next holder sends what is still queued (at least once;
the idempotency key lets receivers drop a repeat).

What is queued is read from Redis once (when the lease is taken, when what was read has been sent, or
when people queued dead letters again) and then kept in memory as this process changes it: choosing
what to send next reads nothing, so one receiver gets hundreds of events a second. After anything
went wrong with a write, what was read is read again (once nothing is being sent)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from redis.exceptions import RedisError

from handlers.core.context import Application
from handlers.core.outbox import Outbox
from handlers.core.outbox_queue import DeliveryQueue, Queued, stream_order
from handlers.core.outbox_state import ReceiverState
from handlers.core.ports import PortKey
from handlers.core.timers import Fenced

__all__ = ["OUTBOX_RECEIVERS", "START_BACK_S", "Deliverer", "Receiver", "Retries"]

_log = structlog.get_logger("chatops.outbox")
START_BACK_S = 600.0  # a receiver seen for the first time gets the events of the last ten minutes
IDLE_WAIT_MS = 500
READ_AT_MOST = 2000  # queued events of a receiver held in memory; read again when half are sent


@dataclass(frozen=True, slots=True)
class Retries:
    concurrency: int = 4  # sent at once
    max_attempts: int = 8  # then a dead letter
    backoff_seconds: float = 1.0  # the first wait; doubled each time
    max_backoff_seconds: float = 300.0


class Receiver(Protocol):
    """Something the outbox's events are delivered to."""

    @property
    def name(self) -> str: ...

    @property
    def retries(self) -> Retries: ...

    def wants(self, event: dict[str, Any]) -> bool: ...

    async def send(self, event: dict[str, Any]) -> str:
        """Deliver ``event``; '' when it was taken, else what went wrong (it is tried again)."""

    async def close(self) -> None: ...


@dataclass
class _Lane:
    receiver: Receiver
    state: ReceiverState
    inflight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    queue: DeliveryQueue = field(default_factory=lambda: DeliveryQueue((), complete=False))
    cursor: str = ""  # how far into the outbox its events are queued
    read_as: tuple[int, int] | None = None  # (lease token, requeued count) its queue was read with
    current: bool = False  # its queue is what Redis holds (this round): events may be sent from it

    def must_read(self, token: int, requeued: int) -> bool:
        """Its queue is to be read (again): first for this token, after dead letters were queued again,
        after a write whose outcome is unknown, or when half of a partial read was sent."""
        if self.read_as != (token, requeued):
            return True
        return not self.queue.complete and len(self.queue) < READ_AT_MOST // 2


class Deliverer:
    def __init__(self, outbox: Outbox, receivers: Sequence[Receiver], prefix: str, lease_key: str) -> None:
        self.outbox = outbox
        self.lanes = [_Lane(r, ReceiverState(outbox.client, prefix, r.name, lease_key)) for r in receivers]
        self._wake = asyncio.Event()

    async def run(self, token_of: Callable[[], int | None], stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set, whenever ``token_of()`` says this process holds the lease."""
        if not self.lanes:
            return
        try:
            while not stopping.is_set():
                token = token_of()
                if token is None:
                    await _pause(stopping, 0.5)
                    continue
                try:
                    await self.round(token)
                except Fenced:
                    _log.info("outbox.lease_lost")
                    self._forget()
                except (RedisError, OSError) as error:
                    _log.warning("outbox.redis_unavailable", error=str(error)[:200])
                    self._forget()
                    await _pause(stopping, 1.0)
        finally:
            await asyncio.gather(*(t for lane in self.lanes for t in lane.inflight.values()), return_exceptions=True)
            for lane in self.lanes:
                await lane.receiver.close()

    def _forget(self) -> None:
        """What was read may no longer be what Redis holds: read it again."""
        for lane in self.lanes:
            lane.read_as, lane.current = None, False

    async def round(self, token: int) -> None:
        """Read what must be read, queue what is new, send what is due; wait (briefly) when there is
        nothing to do."""
        self._wake.clear()  # a send that ends from now on wakes the wait below
        await self._read(token)
        new = await self._queue_new(token, block_ms=None)
        sent, next_due = self._send_due(token)
        if new or sent:
            return
        if any(lane.inflight for lane in self.lanes):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.2)
            return
        if not all(lane.current for lane in self.lanes):
            return  # one is to be read, and nothing of it is being sent any more: read it now
        wait_s = IDLE_WAIT_MS / 1000 if next_due is None else min(IDLE_WAIT_MS / 1000, next_due - time.time())
        await self._queue_new(token, block_ms=max(10, int(wait_s * 1000)))

    async def _read(self, token: int) -> None:
        """Read each receiver's queue that must be read, once nothing of it is being sent (until then,
        nothing more of it is sent)."""
        counts: Any = await self.outbox.client.mget([lane.state.requeued_key for lane in self.lanes])
        for lane, count in zip(self.lanes, counts, strict=True):
            requeued = int(count or 0)
            lane.current = not lane.must_read(token, requeued)
            if lane.current or lane.inflight:
                continue
            cursor = await lane.state.cursor()
            if not cursor:
                await lane.state.start_at(f"{int((time.time() - START_BACK_S) * 1000)}-0")
                cursor = await lane.state.cursor()
            loaded = await lane.state.load(READ_AT_MOST)
            lane.queue = DeliveryQueue(loaded.queued, complete=loaded.complete)
            lane.cursor, lane.read_as, lane.current = cursor, (token, requeued), True

    async def _queue_new(self, token: int, block_ms: int | None) -> int:
        lanes = [lane for lane in self.lanes if lane.read_as is not None and lane.read_as[0] == token]
        if not lanes:
            return 0
        oldest = min((lane.cursor for lane in lanes), key=stream_order)
        events = await self.outbox.after(oldest, count=500, block_ms=block_ms)
        if not events:
            return 0
        now = time.time()
        for lane in lanes:
            since = stream_order(lane.cursor)
            mine = [(i, e) for i, e in events if stream_order(i) > since and lane.receiver.wants(e)]
            await lane.state.fan(token, events[-1][0], now, mine)
            lane.cursor = events[-1][0]
            for stream_id, event in mine:
                lane.queue.add_new(Queued(stream_id, event, now, 0), READ_AT_MOST)
        return len(events)

    def _send_due(self, token: int) -> tuple[int, float | None]:
        """Start sending each queued event that is due and first of its flag (oldest first); how many
        started, and when the next one waiting for its backoff is due."""
        started, next_due, now = 0, None, time.time()
        for lane in self.lanes:
            if not lane.current:
                continue
            free = lane.receiver.retries.concurrency - len(lane.inflight)
            for queued in lane.queue.take(now, free) if free > 0 else []:
                task = asyncio.create_task(self._send(token, lane, queued))
                lane.inflight[queued.stream_id] = task
                task.add_done_callback(functools.partial(self._finished, lane, queued.stream_id))
                started += 1
            due = lane.queue.next_due()
            if due is not None:
                next_due = due if next_due is None else min(next_due, due)
        return started, next_due

    def _finished(self, lane: _Lane, stream_id: str, _task: asyncio.Task[None]) -> None:
        lane.inflight.pop(stream_id, None)
        self._wake.set()

    async def _send(self, token: int, lane: _Lane, queued: Queued) -> None:
        receiver = lane.receiver
        try:
            error = await receiver.send(queued.event)
        except Exception as failure:  # a receiver's own bug is a failed attempt, never a stopped outbox
            error = f"{type(failure).__name__}: {failure}"[:300]
        try:
            if not error:
                await lane.state.delivered(token, queued, time.time())
                lane.queue.settled(queued)
                return
            attempts = queued.attempts + 1
            retries = receiver.retries
            due = None if attempts >= retries.max_attempts else time.time() + _backoff(retries, attempts)
            _log.warning(
                "outbox.not_delivered",
                receiver=receiver.name,
                event_id=queued.event.get("id"),
                error=error,
                attempts=attempts,
                dead=due is None,
            )
            await lane.state.failed(token, queued, time.time(), error, due)
            if due is None:
                lane.queue.settled(queued)
            else:
                lane.queue.retry(queued, due)
        except (Fenced, RedisError, OSError) as failure:  # the next holder (or a read again) sends it again
            _log.warning("outbox.not_recorded", receiver=receiver.name, error=str(failure)[:200])
            lane.read_as, lane.current = None, False


def _backoff(retries: Retries, attempts: int) -> float:
    """Exponential, capped, with jitter (half to one and a half times), so that receivers coming back
    are not all hit at once."""
    base = min(retries.max_backoff_seconds, retries.backoff_seconds * 2.0 ** (attempts - 1))
    return float(base * random.uniform(0.5, 1.5))


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


#: What receives the outbox's events: each capability that delivers some registers a function that
#: makes its receivers for the application (webhooks from the configuration, subscriptions' posts).
OUTBOX_RECEIVERS: PortKey[Callable[[Application], Sequence[Receiver]]] = PortKey("outbox receivers")
