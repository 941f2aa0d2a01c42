"""The registered commands, checked once: unique names, unique subcommands, unique button actions.

Dispatch is on (command, subcommand): a group's subcommands are separate objects, each found by
its own name; the group's grammar (for parsing and help) is assembled from theirs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from handlers.config import Config
from handlers.core.command import ButtonAction, Buttons, Command, CommandGroup, Subcommand
from handlers.core.context import Context
from handlers.core.grammar import CommandSpec
from handlers.core.reply import Reply
from handlers.core.stored import StoredPlan

__all__ = ["CommandRegistry", "Registered", "RegisteredButton"]

Registered = Command[Any] | Subcommand[Any] | Buttons
Acting = Command[Any] | Subcommand[Any]


@dataclass(frozen=True, slots=True)
class RegisteredButton:
    """A button as registered: the command it counts under, and what handles its clicks."""

    command_name: str
    label: str
    plan: Callable[[str, Context], Any]
    handle: Callable[[Any, Context], Awaitable[Reply]]


class CommandRegistry:
    def __init__(self, commands: Iterable[Registered], groups: Iterable[CommandGroup] = ()) -> None:
        self.units: tuple[Registered, ...] = tuple(commands)
        self.groups: tuple[CommandGroup, ...] = tuple(groups)
        self._units: dict[tuple[str, str], Acting] = {}
        self._actions: dict[str, RegisteredButton] = {}
        grammar: dict[str, CommandSpec] = {}
        known_groups = {g.name: g for g in self.groups}
        for unit in self.units:
            if not isinstance(unit, Buttons):
                self._add(unit, grammar, known_groups)
            for action in unit.actions():
                if action.action_id in self._actions:
                    raise ValueError(f"two commands declare the button action {action.action_id!r}")
                self._actions[action.action_id] = _registered(unit, action)
        for group in self.groups:
            if group.name in grammar:
                raise ValueError(f"two commands are named {group.name!r}")
            subcommands = tuple(u.spec for u in self.units if isinstance(u, Subcommand) and u.group == group.name)
            grammar[group.name] = CommandSpec(group.name, group.summary, subcommands, group.examples)
        order = [u.command_name for u in self.units]
        self.grammar: Mapping[str, CommandSpec] = {n: grammar[n] for n in sorted(grammar, key=order.index)}

    def _add(self, unit: Acting, grammar: dict[str, CommandSpec], groups: Mapping[str, CommandGroup]) -> None:
        key = (unit.command_name, unit.spec.name if isinstance(unit, Subcommand) else "")
        if key in self._units or (isinstance(unit, Command) and unit.spec.name in grammar):
            raise ValueError(f"two commands are named {' '.join(key).strip()!r}")
        if isinstance(unit, Subcommand) and unit.group not in groups:
            raise ValueError(f"{unit.group} {unit.spec.name}: no command group {unit.group!r} is registered")
        self._units[key] = unit
        if isinstance(unit, Command):
            grammar[unit.spec.name] = unit.spec

    def resolve(self, command: str, subcommand: str = "") -> Acting | None:
        """The command object for ``command`` (and its ``subcommand``, when it is a group)."""
        return self._units.get((command, subcommand)) or self._units.get((command, ""))

    def command(self, name: str) -> Acting | None:
        """A command of its own by name (not a group's subcommand)."""
        return self._units.get((name, ""))

    def action(self, action_id: str) -> RegisteredButton | None:
        return self._actions.get(action_id)

    @property
    def action_ids(self) -> tuple[str, ...]:
        return tuple(self._actions)

    def keep(self, command: str, subcommand: str, plan: Any) -> StoredPlan:
        """``plan`` of ``command subcommand``, as work kept for later stores it."""
        unit = self.resolve(command, subcommand)
        assert unit is not None, f"no command {command} {subcommand} is registered"
        return StoredPlan(command, subcommand, unit.encode(plan))

    def restore(self, stored: StoredPlan, config: Config) -> tuple[Acting, Any]:
        """The command and the typed plan a kept plan names; ValueError when it cannot be read."""
        unit = self.resolve(stored.command, stored.subcommand)
        if unit is None:
            raise ValueError(f"`{stored.command} {stored.subcommand}` is no longer a command")
        try:
            return unit, unit.decode(stored.data, config)
        except (KeyError, TypeError, NotImplementedError) as error:
            raise ValueError(f"a kept plan of `{stored.command} {stored.subcommand}` is unreadable ({error})") from None

    def with_commands(self, *more: Registered) -> CommandRegistry:
        """These commands and ``more`` (e.g. a test's own)."""
        return CommandRegistry([*self.units, *more], self.groups)


def _registered(unit: Registered, action: ButtonAction[Any]) -> RegisteredButton:
    handle = action.handle
    if handle is None:
        if isinstance(unit, Buttons):
            raise ValueError(f"button action {action.action_id!r} has nothing to handle its clicks")
        handle = unit.handle
    return RegisteredButton(unit.command_name, action.label, action.plan, handle)
