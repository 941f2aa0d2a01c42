"""What a command may use: configuration, stores, definitions, services, and who is asking where."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

from flags import AsyncFlags, Definition, FlagStorage
from handlers.checks import CheckResult
from handlers.checks.prometheus import PrometheusClient
from handlers.config import Config, Environment
from handlers.core.caller import Caller
from handlers.core.chat import ChatBackend, Notify
from handlers.core.delivery import Deliveries
from handlers.core.grammar import CommandSpec
from handlers.core.journal import ChangeJournal
from handlers.core.parsing import Invocation
from handlers.core.ports import Ports
from handlers.core.reply import Reply
from handlers.core.stored import StoredPlan
from handlers.core.timers import Timers

__all__ = [
    "MAX_CONCURRENT_COMMANDS",
    "Application",
    "Caller",
    "Context",
    "Lifecycle",
    "Notify",
    "Plan",
    "Services",
    "Unscoped",
]

MAX_CONCURRENT_COMMANDS = 64


class Services(Protocol):
    """What commands may ask of the outside world besides Redis and git."""

    @property
    def production_check_configured(self) -> bool: ...

    async def production_check(self) -> list[CheckResult]: ...

    async def firing_alerts(self, matchers: tuple[str, ...]) -> list[str]:
        """Alerts firing now (not silenced or inhibited) in the configured Alertmanager that match
        every matcher, as ``NAME {label="value", ...}``; an unreachable Alertmanager counts as one."""

    def prometheus(self) -> PrometheusClient | None:
        """The team's Prometheus (metric checks), when one is configured."""

    async def trigger_e2e(self, environment: Environment, variables: dict[str, str]) -> str:
        """Trigger the environment's end-to-end pipeline; its web URL. Raises GitLabError."""

    async def log_issue(self, title: str, labels: list[str], description: str) -> str:
        """Record a change as a (closed) issue in the log project; its web URL. Raises GitLabError."""

    @property
    def logs_issues(self) -> bool: ...

    async def close(self) -> None: ...


class Handler(Protocol):
    """A registered command as the pipeline runs it (``handlers.core.command``)."""

    @property
    def command_name(self) -> str: ...

    def plan(self, invocation: Invocation, context: Context) -> Any: ...

    async def handle(self, plan: Any, context: Context) -> Reply: ...


class Button(Protocol):
    """A registered button as the pipeline presses it: its command, label, plan and handler."""

    @property
    def command_name(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def plan(self) -> Callable[[str, Context], Any]: ...

    @property
    def handle(self) -> Callable[[Any, Context], Awaitable[Reply]]: ...


class Commands(Protocol):
    """The registered commands, as the application's users find them (``handlers.core.registry``)."""

    @property
    def grammar(self) -> Mapping[str, CommandSpec]: ...

    @property
    def action_ids(self) -> tuple[str, ...]: ...

    def resolve(self, command: str, subcommand: str = "") -> Handler | None: ...

    def action(self, action_id: str) -> Button | None: ...

    def keep(self, command: str, subcommand: str, plan: Any) -> StoredPlan: ...

    def restore(self, stored: StoredPlan, config: Config) -> tuple[Handler, Any]: ...


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
    commands: Commands  # the registered commands (handlers.core.registry.CommandRegistry)
    definitions: Mapping[str, Definition] = field(default_factory=dict)
    services: Services | None = None
    journal: ChangeJournal | None = None  # changes being written, for recovery after a crash
    timers: Timers | None = None  # work kept for later (schedules, rollouts), taken by the driver
    #: What each capability offers the others (its store, an approval gate, a scheduler, ...).
    ports: Ports = field(default_factory=Ports)
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


class Unscoped:
    """A plan that names no environment and writes no flag (a listing; a click that the command
    checks against what it names): the channel and access rules have nothing to check."""

    __slots__ = ()

    @property
    def targets(self) -> tuple[Environment, ...]:
        return ()

    @property
    def writes(self) -> bool:
        return False
