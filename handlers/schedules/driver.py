"""The timer driver: one process at a time (a Redis lease with a fencing token) takes due
schedules and runs them. Every process runs a ``Driver``; the others wait to take over.

The holder renews the lease every tick; a driver that dies or stalls loses it after
``LEASE_S`` and another takes over within ``LEASE_S`` plus one attempt (``ACQUIRE_EVERY_S``).
Taking a due schedule checks the token in the same script, so a replaced driver cannot take
one; a schedule taken by a driver that then died is taken again after ``RETRY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from redis.exceptions import RedisError

from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application
from handlers.core.lease import Lease
from handlers.rollouts.guard import poll_guards
from handlers.rollouts.step import step
from handlers.rollouts.store import Rollout, RolloutStore
from handlers.schedules.fire import fire
from handlers.schedules.store import Fenced, Schedule, ScheduleStore

__all__ = ["ACQUIRE_EVERY_S", "LEASE_S", "RETRY_S", "TICK_S", "Driver"]

_log = structlog.get_logger("chatops.driver")

LEASE_S = 4.0  # the lease outlives its last renewal by this much
ACQUIRE_EVERY_S = 1.0  # how often a process without the lease tries to take it
TICK_S = 0.25  # how often the holder looks for due schedules (and renews)
RETRY_S = 5.0  # a schedule or step taken by a driver that then died is taken again after this


class Driver:
    def __init__(self, app: Application, chat: ChatBackend, store: ScheduleStore, client_lease: Lease) -> None:
        self.app, self.chat, self.store, self.lease = app, chat, store, client_lease
        self.rollouts = RolloutStore(store.client, store)
        self.token: int | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()
        self._polled = 0.0  # when the guards were last polled (monotonic)

    async def run(self) -> None:
        """Tick until ``stop()`` (between ticks: a tick is never cut short); then wait for the
        schedules being run and give up the lease at once, so that another process takes over sooner."""
        while not self._stop.is_set():
            delay = await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        await self.finish()

    async def finish(self) -> None:
        """Wait for the schedules being run, then give up the lease."""
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        if self.token is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release(self.token)
            self.token = None

    async def tick(self) -> float:
        """One round; how long to wait before the next."""
        try:
            token = await self.lease.acquire()
        except (RedisError, OSError) as error:
            _log.warning("driver.redis_unavailable", error=str(error)[:200])
            return ACQUIRE_EVERY_S
        if token is None:
            if self.token is not None:
                _log.warning("driver.lease_lost", token=self.token)
            self.token = None
            return ACQUIRE_EVERY_S
        if token != self.token:
            _log.info("driver.lease_acquired", token=token, owner=self.lease.owner)
            self.token = token
        try:
            due = await self.store.take_due(token, RETRY_S)
            upcoming = await self.store.next_due()
        except Fenced:
            self.token = None
            return ACQUIRE_EVERY_S
        except (RedisError, OSError) as error:
            _log.warning("driver.redis_unavailable", error=str(error)[:200])
            return ACQUIRE_EVERY_S
        guard_every = self.app.config.safety.rollout_guard_poll_seconds
        if time.monotonic() - self._polled >= guard_every and "guard" not in self._running:
            self._polled = time.monotonic()
            self._running["guard"] = asyncio.create_task(self._poll())
        for record_id, record in due:
            if record_id not in self._running:
                work = (
                    self._step(record, token)
                    if record_id.startswith("R")
                    else self._fire(Schedule.from_json(record), token)
                )
                self._running[record_id] = asyncio.create_task(work)
        if upcoming is None:
            return TICK_S
        return min(TICK_S, max(0.01, upcoming - time.time()))

    async def _fire(self, schedule: Schedule, token: int) -> None:
        try:
            post = await fire(schedule, self.app, self.chat)
            try:
                await self.chat.post(post)
            except PostFailed as error:
                _log.error("driver.post_failed", schedule=schedule.id, channel=post.channel, error=str(error)[:200])
            await self.store.done(token, schedule.id)
            _log.info("driver.fired", schedule=schedule.id, kind=schedule.kind, flag=schedule.flag)
        except Fenced:
            _log.warning("driver.fenced", schedule=schedule.id)  # another driver takes it again; it finds it done
        except Exception:
            _log.exception("driver.fire_failed", schedule=schedule.id)
        finally:
            self._running.pop(schedule.id, None)

    async def _step(self, record: str, token: int) -> None:
        rollout = Rollout.from_json(record)
        try:
            for post in await step(rollout, self.app, self.chat, self.rollouts, token):
                try:
                    await self.chat.post(post)
                except PostFailed as error:
                    _log.error("driver.post_failed", rollout=rollout.id, channel=post.channel, error=str(error)[:200])
        except Fenced:
            _log.warning("driver.fenced", rollout=rollout.id)
        except Exception:
            _log.exception("driver.step_failed", rollout=rollout.id)
        finally:
            self._running.pop(rollout.id, None)

    async def _poll(self) -> None:
        try:
            await poll_guards(self.app, self.chat)
        except Exception:
            _log.exception("driver.guard_poll_failed")
        finally:
            self._running.pop("guard", None)

    async def settle(self) -> None:
        """Wait for the work the ticks so far started: schedules, rollout steps, the guard poll."""
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def stop(self) -> None:
        """Ask ``run`` to end after its current tick."""
        self._stop.set()
