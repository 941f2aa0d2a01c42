"""What a handler may use: configuration, stores, definitions, and who is asking where."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.config import Config, Environment
from bot.deployments.mirror import GitMirror
from bot.deployments.registry import DeploymentRegistry
from bot.parsing import Invocation
from bot.safety.production_check import CheckResult
from flags import Definition, FlagStore
from handlers.reply import Reply

__all__ = ["Caller", "Context", "Handler", "Plan", "Services"]


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


class Services(Protocol):
    """What handlers may ask of the outside world besides Redis and git."""

    @property
    def production_check_configured(self) -> bool: ...

    async def production_check(self) -> list[CheckResult]: ...

    async def trigger_e2e(self, environment: Environment, variables: dict[str, str]) -> str:
        """Trigger the environment's end-to-end pipeline; its web URL. Raises GitLabError."""

    async def log_issue(self, title: str, labels: list[str], description: str) -> str:
        """Record a change as a (closed) issue in the log project; its web URL. Raises GitLabError."""

    @property
    def logs_issues(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Context:
    config: Config
    stores: Mapping[str, FlagStore]  # by environment option
    caller: Caller
    definitions: Mapping[str, Definition] = field(default_factory=dict)
    deployments: DeploymentRegistry | None = None
    mirror: GitMirror | None = None
    services: Services | None = None
    notify: Callable[[str], Awaitable[None]] | None = None  # an interim, ephemeral message


class Plan(Protocol):
    """A validated command: which environments it targets and whether it writes."""

    @property
    def targets(self) -> tuple[Environment, ...]: ...

    @property
    def writes(self) -> bool: ...


class Handler(Protocol):
    def plan(self, invocation: Invocation, context: Context) -> Plan: ...

    async def handle(self, plan: Plan, context: Context) -> Reply: ...
