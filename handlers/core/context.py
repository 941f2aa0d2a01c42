"""What a command may use: configuration, stores, definitions, services, and who is asking where."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as aioredis

from flags import AsyncFlags, Definition, FlagStorage
from handlers.checks import CheckResult
from handlers.config import Config, Environment
from handlers.core.chat import ChatBackend, Notify
from handlers.core.delivery import Deliveries
from handlers.deployments.mirror import GitMirror
from handlers.deployments.registry import DeploymentRegistry

if TYPE_CHECKING:
    from handlers.approvals.store import ApprovalStore
    from handlers.core.journal import ChangeJournal
    from handlers.core.registry import CommandRegistry
    from handlers.dashboard.signin import SignIn
    from handlers.freezes.store import FreezeStore
    from handlers.schedules.store import ScheduleStore

__all__ = [
    "MAX_CONCURRENT_COMMANDS",
    "Application",
    "Caller",
    "Context",
    "Lifecycle",
    "Notify",
    "Plan",
    "Services",
]

MAX_CONCURRENT_COMMANDS = 64


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    user_name: str
    channel_id: str
    channel_name: str

    @property
    def channel_label(self) -> str:
        name = self.channel_name
        if name and not name.startswith("#") and not name.startswith(("directmessage", "privategroup")):
            name = f"#{name}"
        return name or self.channel_id

    @property
    def who(self) -> str:
        return self.user_name or self.user_id

    def to_list(self) -> list[str]:
        """As kept in Redis records (the journal, schedules)."""
        return [self.user_id, self.user_name, self.channel_id, self.channel_name]

    @classmethod
    def from_list(cls, values: list[object]) -> Caller:
        user_id, user_name, channel_id, channel_name = (str(v) for v in values)
        return cls(user_id, user_name, channel_id, channel_name)


class Services(Protocol):
    """What commands may ask of the outside world besides Redis and git."""

    @property
    def production_check_configured(self) -> bool: ...

    async def production_check(self) -> list[CheckResult]: ...

    async def firing_alerts(self, matchers: tuple[str, ...]) -> list[str]:
        """Alerts firing now (not silenced or inhibited) in the configured Alertmanager that match
        every matcher, as ``NAME {label="value", ...}``; an unreachable Alertmanager counts as one."""

    async def trigger_e2e(self, environment: Environment, variables: dict[str, str]) -> str:
        """Trigger the environment's end-to-end pipeline; its web URL. Raises GitLabError."""

    async def log_issue(self, title: str, labels: list[str], description: str) -> str:
        """Record a change as a (closed) issue in the log project; its web URL. Raises GitLabError."""

    @property
    def logs_issues(self) -> bool: ...

    async def close(self) -> None: ...


class Lifecycle(Protocol):
    """What the composition root starts and stops: background work, snapshots, connections."""

    async def start(self, app: Application, chat: ChatBackend | None) -> None: ...

    async def close(self, app: Application) -> None: ...


@dataclass(slots=True)
class Application:
    """The application object, built once by the composition root (``handlers.composition``) and
    shared by every request; ``start`` begins its background work, ``close`` ends it."""

    config: Config
    stores: Mapping[str, FlagStorage]  # by environment option
    commands: CommandRegistry
    definitions: Mapping[str, Definition] = field(default_factory=dict)
    deployments: DeploymentRegistry | None = None
    mirror: GitMirror | None = None
    services: Services | None = None
    journal: ChangeJournal | None = None  # changes being written, for recovery after a crash
    schedules: ScheduleStore | None = None  # scheduled and time-boxed changes
    freezes: FreezeStore | None = None  # change freezes, per environment
    approvals: ApprovalStore | None = None  # changes waiting for a second person
    sign_in: SignIn | None = None  # dashboard sign-in links (with a ui section and a key)
    deliveries: Deliveries = field(default_factory=Deliveries)  # cross-posts still in flight
    #: Commands this process runs at once; more wait for a slot (a burst queues rather than fails).
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_COMMANDS))
    redis: aioredis.Redis | None = None  # the bot's own Redis (requests seen, schedules, freezes, ...)
    #: Live snapshots of every environment (the dashboard's flags page reads them), by option.
    live: dict[str, AsyncFlags] = field(default_factory=dict)
    chat: ChatBackend | None = None  # what background work and webhooks talk through (set by start)
    lifecycle: Lifecycle | None = None

    async def start(self, chat: ChatBackend | None = None) -> None:
        """Begin the background work: snapshots and the mirror's fetching at once; with ``chat``,
        also the work that talks to people (recovery of half-written changes, the timer driver)."""
        if chat is not None:
            self.chat = chat
        if self.lifecycle is not None:
            await self.lifecycle.start(self, chat)

    async def close(self) -> None:
        if self.lifecycle is not None:
            await self.lifecycle.close(self)


@dataclass(frozen=True, slots=True)
class Context:
    """One request: the application, who asks where, the chat it came through."""

    app: Application
    caller: Caller
    chat: ChatBackend
    notify: Notify | None = None  # an interim, ephemeral message
    origin: str = ""  # what ran this on the person's behalf (" (schedule S3)"): recorded with the command
    approved_by: str = ""  # who approved this change (it runs as its requester)
    due: bool = False  # a scheduled command whose time has come: its --at/--in are done with

    @property
    def config(self) -> Config:
        return self.app.config

    @property
    def stores(self) -> Mapping[str, FlagStorage]:
        return self.app.stores

    @property
    def definitions(self) -> Mapping[str, Definition]:
        return self.app.definitions


class Plan(Protocol):
    """A validated command: which environments it targets and whether it writes."""

    @property
    def targets(self) -> tuple[Environment, ...]: ...

    @property
    def writes(self) -> bool: ...
