"""A command: its grammar, how it plans (validates) and how it acts, and its buttons.

A command stands alone (``freeze``, ``help``) or is one subcommand of a group (``feature set``,
``feature rollout``): each subcommand is its own object, in the capability it belongs to, with
its own grammar and its own typed plan; the registry groups them for help and parsing.

``plan`` never touches Redis: it raises ``UsageError`` with what to fix. ``handle`` acts and
returns a Reply as plain data. The pipeline puts the policy between the two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from handlers.config import Config
from handlers.core.context import Context, Plan
from handlers.core.grammar import CommandSpec, SubcommandSpec
from handlers.core.parsing import Invocation
from handlers.core.reply import Reply

__all__ = ["ButtonAction", "Buttons", "Command", "CommandGroup", "Subcommand"]

P = TypeVar("P", bound=Plan)


@dataclass(frozen=True, slots=True)
class ButtonAction(Generic[P]):
    """A button a command's replies carry (Slack's ``action_id``), how its value becomes a plan,
    and (when not the command's own ``handle``) what acts on that plan.

    The shell presses it with ``:ACTION_ID VALUE``. ``plan`` raises UsageError for a value the
    bot could not have made."""

    action_id: str
    label: str  # how logs, metrics and the security channel name a click, e.g. "Roll back button"
    plan: Callable[[str, Context], P]
    handle: Callable[[P, Context], Awaitable[Reply]] | None = None


class _Acting(ABC, Generic[P]):
    @property
    @abstractmethod
    def command_name(self) -> str: ...

    @abstractmethod
    def plan(self, invocation: Invocation, context: Context) -> P: ...

    @abstractmethod
    async def handle(self, plan: P, context: Context) -> Reply: ...

    def actions(self) -> tuple[ButtonAction[Any], ...]:
        """Buttons this command's replies carry: their plans are this command's (handled by
        ``handle``) unless a button brings its own ``handle``."""
        return ()

    def encode(self, plan: P) -> dict[str, Any]:
        """The plan as JSON fields, for work that runs it later (an approval, a schedule). Only
        commands whose plans are kept for later implement it."""
        raise NotImplementedError(f"plans of {self.command_name} are not kept for later")

    def decode(self, data: dict[str, Any], config: Config) -> P:
        """The plan ``encode`` made; ValueError (or KeyError) for one it cannot read."""
        raise NotImplementedError(f"plans of {self.command_name} are not kept for later")


class Command(_Acting[P]):
    """A command of its own: ``/chatops run NAME …``."""

    spec: ClassVar[CommandSpec]

    @property
    def command_name(self) -> str:
        return self.spec.name


class Subcommand(_Acting[P]):
    """One subcommand of a group: ``/chatops run GROUP NAME …``."""

    group: ClassVar[str]
    spec: ClassVar[SubcommandSpec]

    @property
    def command_name(self) -> str:
        return self.group


class Buttons(ABC):
    """Buttons that belong to no typed command (an approval card's): each action has its own
    ``handle``; ``command_name`` is the command metrics and logs count their clicks under."""

    command_name: ClassVar[str]

    @abstractmethod
    def actions(self) -> tuple[ButtonAction[Any], ...]: ...


@dataclass(frozen=True, slots=True)
class CommandGroup:
    """A command made of subcommands registered by several capabilities (``feature``): its name,
    summary and examples; its subcommands come from the registry, in the order registered."""

    name: str
    summary: str
    examples: tuple[str, ...] = ()
