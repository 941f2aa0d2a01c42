"""The timer driver: one process at a time (a Redis lease with a fencing token) takes due records
and runs them through the capability that keeps their kind (``TIMER_JOBS``: scheduled changes,
rollout steps), and runs periodic jobs (``PERIODIC_JOBS``: the rollout guard's poll). Every process
runs a ``Driver``; the others wait to take over.

The holder renews the lease every tick; a driver that dies or stalls loses it after
``LEASE_S`` and another takes over within ``LEASE_S`` plus one attempt (``ACQUIRE_EVERY_S``).
Taking a due record checks the token in the same script, so a replaced driver cannot take
one; a record taken by a driver that then died is taken again after ``RETRY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from typing import Protocol

import structlog
from redis.exceptions import RedisError

from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application
from handlers.core.lease import Lease
from handlers.core.ports import PortKey
from handlers.core.reply import CrossPost
from handlers.core.timers import Fenced, Timers

__all__ = [
    "ACQUIRE_EVERY_S",
    "LEASE_S",
    "PERIODIC_JOBS",
    "RETRY_S",
    "TICK_S",
    "TIMER_JOBS",
    "Driver",
    "PeriodicJob",
    "TimerJob",
    "post_all",
]

_log = structlog.get_logger("chatops.driver")

LEASE_S = 4.0  # the lease outlives its last renewal by this much
ACQUIRE_EVERY_S = 1.0  # how often a process without the lease tries to take it
TICK_S = 0.25  # how often the holder looks for due records (and renews)
RETRY_S = 5.0  # a record taken by a driver that then died is taken again after this


class TimerJob(Protocol):
    """What runs a due record of one kind (its ids start with ``prefix``)."""

    @property
    def prefix(self) -> str: ...

    async def run(self, record_id: str, record: str, token: int, app: Application, chat: ChatBackend) -> None:
        """Do the due work and say so; raise Fenced when the lease was lost meanwhile."""


class PeriodicJob(Protocol):
    """Work the driver does every so often (at most one run at a time)."""

    @property
    def name(self) -> str: ...

    def every(self, app: Application) -> float: ...

    async def run(self, app: Application, chat: ChatBackend) -> None: ...


TIMER_JOBS: PortKey[TimerJob] = PortKey("timer jobs")
PERIODIC_JOBS: PortKey[PeriodicJob] = PortKey("periodic jobs")


async def post_all(chat: ChatBackend, posts: Sequence[CrossPost], **about: str) -> None:
    """Post each of ``posts``; one that fails is logged, and the others still go."""
    for post in posts:
        try:
            await chat.post(post)
        except PostFailed as error:
            _log.error("driver.post_failed", channel=post.channel, error=str(error)[:200], **about)


class Driver:
    def __init__(self, app: Application, chat: ChatBackend, timers: Timers, client_lease: Lease) -> None:
        self.app, self.chat, self.timers, self.lease = app, chat, timers, client_lease
        self.token: int | None = None
        self._jobs = {job.prefix: job for job in app.ports.all(TIMER_JOBS)}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()
        self._ran: dict[str, float] = {}  # when each periodic job last started (monotonic)

    async def run(self) -> None:
        """Tick until ``stop()`` (between ticks: a tick is never cut short); then wait for the
        work being run and give up the lease at once, so that another process takes over sooner."""
        while not self._stop.is_set():
            delay = await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        await self.finish()

    async def finish(self) -> None:
        """Wait for the work being run, then give up the lease."""
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        if self.token is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release(self.token)
            self.token = None

    async def tick(self) -> float:
        """One round; how long to wait before the next."""
        token = await self._hold()
        if token is None:
            return ACQUIRE_EVERY_S
        try:
            due = await self.timers.take_due(token, RETRY_S)
            upcoming = await self.timers.next_due()
        except Fenced:
            self.token = None
            return ACQUIRE_EVERY_S
        except (RedisError, OSError) as error:
            _log.warning("driver.redis_unavailable", error=str(error)[:200])
            return ACQUIRE_EVERY_S
        self._start_periodic()
        for record_id, record in due:
            job = self._jobs.get(record_id[:1])
            if job is None:
                _log.error("driver.unknown_record", record=record_id[:40])
            elif record_id not in self._running:
                self._spawn(record_id, job.run(record_id, record, token, self.app, self.chat))
        if upcoming is None:
            return TICK_S
        return min(TICK_S, max(0.01, upcoming - time.time()))

    async def _hold(self) -> int | None:
        """The lease's token while this process holds it (taken or renewed now), else None."""
        try:
            token = await self.lease.acquire()
        except (RedisError, OSError) as error:
            _log.warning("driver.redis_unavailable", error=str(error)[:200])
            return None
        if token is None:
            if self.token is not None:
                _log.warning("driver.lease_lost", token=self.token)
            self.token = None
            return None
        if token != self.token:
            _log.info("driver.lease_acquired", token=token, owner=self.lease.owner)
            self.token = token
        return token

    def _start_periodic(self) -> None:
        for job in self.app.ports.all(PERIODIC_JOBS):
            if time.monotonic() - self._ran.get(job.name, 0.0) >= job.every(self.app) and job.name not in self._running:
                self._ran[job.name] = time.monotonic()
                self._spawn(job.name, job.run(self.app, self.chat))

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        self._running[name] = asyncio.create_task(self._guarded(name, work))

    async def _guarded(self, name: str, work: Awaitable[None]) -> None:
        try:
            await work
        except Fenced:
            _log.warning("driver.fenced", record=name)  # another driver takes it again; it finds it done
        except Exception:
            _log.exception("driver.job_failed", record=name)
        finally:
            self._running.pop(name, None)

    async def settle(self) -> None:
        """Wait for the work the ticks so far started: schedules, rollout steps, the guard poll."""
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def stop(self) -> None:
        """Ask ``run`` to end after its current tick."""
        self._stop.set()
