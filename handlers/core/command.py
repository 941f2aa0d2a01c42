"""A command: its grammar, how it plans (validates) and how it acts, and its buttons.

``plan`` never touches Redis: it raises ``UsageError`` with what to fix. ``handle`` acts and
returns a Reply as plain data. The pipeline puts the policy between the two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from handlers.core.context import Context, Plan
from handlers.core.grammar import CommandSpec
from handlers.core.parsing import Invocation
from handlers.core.reply import Reply

__all__ = ["ButtonAction", "Command"]

P = TypeVar("P", bound=Plan)


@dataclass(frozen=True, slots=True)
class ButtonAction(Generic[P]):
    """A button a command's replies carry (Slack's ``action_id``), and how its value becomes a plan.

    The shell presses it with ``:ACTION_ID VALUE``. ``plan`` raises UsageError for a value the
    bot could not have made."""

    action_id: str
    label: str  # how logs, metrics and the security channel name a click, e.g. "Roll back button"
    plan: Callable[[str, Context], P]


class Command(ABC, Generic[P]):
    spec: ClassVar[CommandSpec]

    @abstractmethod
    def plan(self, invocation: Invocation, context: Context) -> P: ...

    @abstractmethod
    async def handle(self, plan: P, context: Context) -> Reply: ...

    def actions(self) -> tuple[ButtonAction[P], ...]:
        return ()
