"""The application's background work, started once with the chat it talks through: recovery of
half-written changes, the timer driver (schedules, rollouts, guards), the git mirror's fetching and
walks, and the dashboard's live snapshots. ``close`` ends it all and closes every connection."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog

from flags import AsyncFlags
from handlers.changes.recovery import keep_recovering
from handlers.checks.metric_verify import verify_checks
from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.driver import LEASE_S, Driver
from handlers.core.lease import Lease
from handlers.core.outbox import OUTBOX
from handlers.core.outbox_delivery import OUTBOX_RECEIVERS, Deliverer
from handlers.deployments.mirror import MIRROR, GitMirror
from handlers.deployments.registry import REGISTRY, RegistryUnavailable

__all__ = ["BACKGROUND_GRACE_S", "LIVE_POLL_S", "Background"]

_log = structlog.get_logger("chatops")
BACKGROUND_GRACE_S = 15.0  # how long a shutdown waits for a change being recovered or a schedule being run
LIVE_POLL_S = 60.0  # the dashboard's snapshots: a full read this often (the bot's own changes arrive at once)


@dataclass
class Background:
    clients: list[aioredis.Redis]  # every Redis connection the application opened, closed last
    urls: Mapping[str, str]  # each environment's Redis URL, by option (for the live snapshots), if on Redis
    driver: Driver | None = None
    _opened: bool = False  # snapshots and the mirror started
    _talking: bool = False  # recovery and the driver started
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)  # background loops end their round

    async def start(self, app: Application, chat: ChatBackend | None) -> None:
        """Start each piece once. What talks to people (recovery, the timer driver) starts only
        with a ``chat``; the first fetch of a URL mirror with no clone yet is awaited."""
        if not self._opened:
            self._opened = True
            if app.config.ui is not None:
                self._spawn(self._start_live(app), "dashboard-snapshots")
            mirror = app.ports.get(MIRROR)
            if mirror is not None:
                await self._start_mirror(app, mirror)
            if app.config.metrics is not None:
                self._spawn(_verify_metrics(app), "check-metrics")
        if chat is None or self._talking:
            return
        self._talking = True
        if app.journal is not None:
            self._spawn(keep_recovering(app, chat, app.journal, self._stopping), "recovery")
        if app.timers is not None:
            lease = Lease(app.timers.client, app.timers.lease_key, LEASE_S)
            self.driver = Driver(app, chat, app.timers, lease)
            self._spawn(self.driver.run(), "driver")
            outbox = app.ports.get(OUTBOX)
            receivers = [r for make in app.ports.all(OUTBOX_RECEIVERS) for r in make(app)]
            if outbox is not None and receivers:
                deliverer = Deliverer(outbox, receivers, app.config.redis_prefix, app.timers.lease_key)
                self._spawn(deliverer.run(self._lease_token, self._stopping), "outbox")

    def _lease_token(self) -> int | None:
        """The driver's lease token while this process holds it (webhooks are delivered by its holder)."""
        return self.driver.token if self.driver is not None else None

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _start_mirror(self, app: Application, mirror: GitMirror) -> None:
        if mirror.url is not None and not (mirror.path / "HEAD").exists():
            await mirror.fetch()
        else:
            self._spawn(self._warm(app, mirror), "mirror-index")
        if mirror.url is None:
            return

        async def keep_fresh() -> None:
            while True:
                await asyncio.sleep(mirror.fetch_interval)
                await mirror.fetch()

        self._spawn(keep_fresh(), "mirror-fetch")

    async def _warm(self, app: Application, mirror: GitMirror) -> None:
        """Index merge requests, then walk what each environment runs: the first deployment check
        and `release check` are answered without waiting for git."""
        await mirror.warm()
        registry = app.ports.get(REGISTRY)
        if registry is None:
            return
        try:
            statuses = await registry.status()
        except RegistryUnavailable:
            return
        for status in statuses:
            if status.current is not None:
                await mirror.learn(status.current.sha)

    async def _start_live(self, app: Application) -> None:
        """Snapshots of every environment, kept fresh by the bot's own change announcements (and
        a full read every LIVE_POLL_S for changes made elsewhere): the flags page reads memory."""
        for environment in app.config.environments:
            if environment.option not in self.urls:  # a store not on Redis (memory): the page reads it
                continue
            live = AsyncFlags(self.urls[environment.option], prefix=environment.prefix, poll_interval=LIVE_POLL_S)
            try:
                await live.start()
            except asyncio.CancelledError:
                await live.close()
                raise
            app.live[environment.option] = live  # only once loaded: until then the page reads Redis
        # Tens of thousands of long-lived states: out of the collector's full passes (which would
        # otherwise walk them all, pausing pages for tens of milliseconds); refcounting frees them.
        gc.freeze()

    async def close(self, app: Application) -> None:
        self._stopping.set()  # background loops finish their round (a change being settled or run)
        if self.driver is not None:
            self.driver.stop()
        background = [t for t in self._tasks if t.get_name() in ("recovery", "driver")]
        if background:
            await asyncio.wait(background, timeout=BACKGROUND_GRACE_S)
        await app.deliveries.drain(timeout=10)  # cross-posts still in flight get their chance
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        mirror = app.ports.get(MIRROR)
        if mirror is not None:
            await mirror.close()
        for live in app.live.values():
            await live.close()
        app.live.clear()
        if app.services is not None:
            await app.services.close()
        for client in self.clients:
            await client.aclose()


async def _verify_metrics(app: Application) -> None:
    """Try every metric check once at start: a problem is logged loudly (the bot still starts: Prometheus
    may be down for a moment; a rollout or watch says so again when it reads the check)."""
    client = app.services.prometheus() if app.services is not None else None
    if client is None or app.config.metrics is None:
        return
    names = [e.name for e in app.config.environments]
    for finding in await verify_checks(client, app.config.metrics, names, app.definitions):
        if finding.problem:
            _log.error("metrics.check_problem", problem=finding.text)
