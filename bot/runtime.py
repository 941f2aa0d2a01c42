"""The composition root: builds the application once (stores, definitions, the deployment
registry and git mirror, services, the command registry) and owns what must be closed."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
import structlog

from bot.inflight import InFlight
from bot.metrics import REDIS_ERRORS
from bot.replays import ReplayGuard
from flags import AsyncFlags, Definition, FlagStore, load_definitions, resolve_redis_url
from flags.connection import redis_client
from flags.embedded import DEFAULT_DIRECTORY
from flags.redis_url import replicas_to_wait_for
from handlers import COMMANDS
from handlers.changes.recovery import keep_recovering
from handlers.config import Config, Deployments, Secrets
from handlers.core.approvals import ApprovalStore
from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.freezes import FreezeStore
from handlers.core.journal import ChangeJournal
from handlers.core.lease import Lease
from handlers.core.schedules import ScheduleStore
from handlers.core.signin import SignIn
from handlers.deployments.mirror import GitMirror
from handlers.deployments.registry import DeploymentRegistry, RegistryUnavailable
from handlers.jobs.driver import LEASE_S, Driver
from handlers.services import AppServices

__all__ = ["Runtime"]

_log = structlog.get_logger("bot")

BACKGROUND_GRACE_S = 15.0  # how long a shutdown waits for a change being recovered or a schedule being run
LIVE_POLL_S = 60.0  # the dashboard's snapshots: a full read this often (the bot's own changes arrive at once)


@dataclass
class Runtime:
    config: Config
    stores: Mapping[str, FlagStore]
    definitions: Mapping[str, Definition]
    clients: list[aioredis.Redis] = field(default_factory=list)
    deployments: DeploymentRegistry | None = None
    mirror: GitMirror | None = None
    services: AppServices | None = None  # set by open(): it needs the event loop
    inflight: InFlight = field(default_factory=InFlight)
    replays: ReplayGuard | None = None  # requests already handled, in the bot's own Redis
    journal: ChangeJournal | None = None  # changes being written, in the bot's own Redis
    schedules: ScheduleStore | None = None  # scheduled and time-boxed changes, in the bot's own Redis
    freezes: FreezeStore | None = None  # change freezes, in the bot's own Redis
    approvals: ApprovalStore | None = None  # changes waiting for a second person, in the bot's own Redis
    sign_in: SignIn | None = None  # dashboard sign-in links and sessions (set by open(), with a ui section)
    urls: Mapping[str, str] = field(default_factory=dict)  # each environment's Redis URL, by option
    #: Live snapshots of every environment for the dashboard's flags page (started by open(), with a ui section).
    live: dict[str, AsyncFlags] = field(default_factory=dict)
    driver: Driver | None = None  # set by start_background()
    chat: ChatBackend | None = None  # what background work and webhooks talk through (set by start_background)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)  # background loops end their round
    _session: aiohttp.ClientSession | None = None
    _app: Application | None = None

    @classmethod
    def start(cls, config: Config, embedded_directory: Path = DEFAULT_DIRECTORY) -> Runtime:
        """Connect every environment (sharing one client per Redis URL) and load definitions."""
        own = config.redis_url or None
        clients: dict[str, aioredis.Redis] = {}
        stores: dict[str, FlagStore] = {}
        urls: dict[str, str] = {}
        for environment in config.environments:
            url = urls[environment.option] = environment.redis_url or own or resolve_redis_url(None, embedded_directory)
            if url not in clients:
                clients[url] = redis_client(url)
            stores[environment.option] = FlagStore(
                clients[url],
                prefix=environment.prefix,
                environment=environment.name,
                on_unavailable=lambda name: REDIS_ERRORS.labels(name).inc(),
                min_replicas=replicas_to_wait_for(url),
            )
        definitions = load_definitions(config.definitions) if config.definitions else {}
        registry = mirror = None
        own_url = own or resolve_redis_url(None, embedded_directory)
        if own_url not in clients:
            clients[own_url] = redis_client(own_url)
        replays = ReplayGuard(clients[own_url], config.redis_prefix)
        journal = ChangeJournal(clients[own_url], config.redis_prefix)
        schedules = ScheduleStore(clients[own_url], config.redis_prefix)
        freezes = FreezeStore(clients[own_url], config.redis_prefix)
        approvals = ApprovalStore(clients[own_url], config.redis_prefix)
        if config.deployments is not None:
            settings = config.deployments
            registry = DeploymentRegistry(
                clients[own_url], settings.environments, history=settings.history, prefix=config.redis_prefix
            )
            mirror = _mirror(settings, embedded_directory)
        if config.access is None:
            _log.warning(
                "bot.no_access_rules",
                message="the configuration has no `access` section: everyone may change every environment",
            )
        _log.info(
            "bot.started",
            environments=[e.name for e in config.environments],
            definitions=len(definitions),
            config=str(config.path) if config.path else None,
        )
        return cls(
            config,
            stores,
            definitions,
            list(clients.values()),
            registry,
            mirror,
            replays=replays,
            journal=journal,
            schedules=schedules,
            freezes=freezes,
            approvals=approvals,
            urls=urls,
        )

    @property
    def app(self) -> Application:
        """The application object every request runs against (after ``open``)."""
        if self._app is None:
            self._app = Application(
                self.config,
                self.stores,
                COMMANDS,
                self.definitions,
                self.deployments,
                self.mirror,
                self.services,
                self.journal,
                self.schedules,
                self.freezes,
                self.approvals,
                sign_in=self.sign_in,
            )
        return self._app

    async def open(self, secrets: Secrets | None = None) -> None:
        """Start what needs the event loop: the HTTP session for checks and GitLab, the first fetch
        of a URL mirror (awaited when there is no clone yet), then fetching on its interval."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            secrets = secrets or Secrets.from_environment()
            self.services = AppServices(self.config, secrets, self._session, self.deployments)
            ui, key = self.config.ui, secrets.dashboard_key
            if ui is not None:
                self._tasks.append(asyncio.create_task(self._start_live(), name="dashboard-snapshots"))
            if ui is not None and key is not None and self.schedules is not None:
                self.sign_in = SignIn(
                    self.schedules.client,
                    self.config.redis_prefix,
                    key,
                    link_seconds=ui.link_seconds,
                    session_hours=ui.session_hours,
                )
            self._app = None  # rebuilt with the services
            if self.chat is not None:
                self._start_background(self.chat)
        mirror = self.mirror
        if mirror is None:
            return
        if mirror.url is None:
            self._tasks.append(asyncio.create_task(self._warm(mirror), name="mirror-index"))
            return
        if not (mirror.path / "HEAD").exists():
            await mirror.fetch()
        else:
            self._tasks.append(asyncio.create_task(self._warm(mirror), name="mirror-index"))

        async def keep_fresh() -> None:
            while True:
                await asyncio.sleep(mirror.fetch_interval)
                await mirror.fetch()

        self._tasks.append(asyncio.create_task(keep_fresh(), name="mirror-fetch"))

    async def _start_live(self) -> None:
        """Snapshots of every environment, kept fresh by the bot's own change announcements (and
        a full read every LIVE_POLL_S for changes made elsewhere): the flags page reads memory."""
        for environment in self.config.environments:
            url, prefix = self.urls[environment.option], environment.prefix
            live = AsyncFlags(url, prefix=prefix, poll_interval=LIVE_POLL_S)
            try:
                await live.start()
            except asyncio.CancelledError:
                await live.close()
                raise
            self.live[environment.option] = live  # only once loaded: until then the page reads Redis
        # Tens of thousands of long-lived states: out of the collector's full passes (which would
        # otherwise walk them all, pausing pages for tens of milliseconds); refcounting frees them.
        gc.freeze()

    async def _warm(self, mirror: GitMirror) -> None:
        """Index merge requests, then walk what each environment runs: the first deployment check
        and `release check` are answered without waiting for git."""
        await mirror.warm()
        if self.deployments is None:
            return
        try:
            statuses = await self.deployments.status()
        except RegistryUnavailable:
            return
        for status in statuses:
            if status.current is not None:
                await mirror.learn(status.current.sha)

    def start_background(self, chat: ChatBackend) -> None:
        """Start the background work, which talks to people through ``chat``: finishing or undoing
        changes a dead process left half-written, and the timer driver (scheduled and time-boxed
        changes, rollouts; one process at a time drives it). Before ``open`` it waits for it: the
        work needs the application with its services."""
        self.chat = chat
        if self.services is not None:
            self._start_background(chat)

    def _start_background(self, chat: ChatBackend) -> None:
        if self.journal is not None and not any(t.get_name() == "recovery" for t in self._tasks):
            recovery = keep_recovering(self.app, chat, self.journal, self._stopping)
            self._tasks.append(asyncio.create_task(recovery, name="recovery"))
        if self.schedules is not None and self.driver is None:
            lease = Lease(self.schedules.client, self.schedules.lease_key, LEASE_S)
            self.driver = Driver(self.app, chat, self.schedules, lease)
            self._tasks.append(asyncio.create_task(self.driver.run(), name="driver"))

    async def close(self) -> None:
        self._stopping.set()  # background loops finish their round (a change being settled or run)
        if self.driver is not None:
            self.driver.stop()
        background = [t for t in self._tasks if t.get_name() in ("recovery", "driver")]
        if background:
            await asyncio.wait(background, timeout=BACKGROUND_GRACE_S)
        await self.app.deliveries.drain(timeout=10)  # cross-posts still in flight get their chance
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.mirror is not None:
            await self.mirror.close()
        for live in self.live.values():
            await live.close()
        self.live.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        for client in self.clients:
            await client.aclose()


def _mirror(settings: Deployments, embedded_directory: Path) -> GitMirror:
    """The mirror of the deployments' repository: a local path as it is, a URL cloned."""
    return GitMirror(
        Path(settings.repository)
        if not settings.is_url
        else (settings.mirror_path or embedded_directory.resolve() / "mirror.git"),
        url=settings.repository if settings.is_url else None,
        default_branch=settings.default_branch,
        fetch_interval=settings.fetch_interval,
        releases=(settings.tag_pattern, settings.stable_branch_pattern),
    )
