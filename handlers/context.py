"""What a handler may use: configuration, stores, definitions, and who is asking where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.config import Config, Environment
from bot.deployments.mirror import GitMirror
from bot.deployments.registry import DeploymentRegistry
from bot.parsing import Invocation
from flags import Definition, FlagStore
from handlers.reply import Reply

__all__ = ["Caller", "Context", "Handler", "Plan"]


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


@dataclass(frozen=True, slots=True)
class Context:
    config: Config
    stores: Mapping[str, FlagStore]  # by environment option
    caller: Caller
    definitions: Mapping[str, Definition] = field(default_factory=dict)
    deployments: DeploymentRegistry | None = None
    mirror: GitMirror | None = None


class Plan(Protocol):
    """A validated command: which environments it targets and whether it writes."""

    @property
    def targets(self) -> tuple[Environment, ...]: ...

    @property
    def writes(self) -> bool: ...


class Handler(Protocol):
    def plan(self, invocation: Invocation, context: Context) -> Plan: ...

    async def handle(self, plan: Plan, context: Context) -> Reply: ...
