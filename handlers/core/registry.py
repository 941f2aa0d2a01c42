"""The registered commands, checked once: unique names, unique button actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from handlers.core.command import ButtonAction, Command
from handlers.core.grammar import CommandSpec

__all__ = ["CommandRegistry"]


class CommandRegistry:
    def __init__(self, commands: Iterable[Command[Any]]) -> None:
        self._commands: dict[str, Command[Any]] = {}
        self._actions: dict[str, tuple[Command[Any], ButtonAction[Any]]] = {}
        for command in commands:
            name = command.spec.name
            if name in self._commands:
                raise ValueError(f"two commands are named {name!r}")
            self._commands[name] = command
            for action in command.actions():
                if action.action_id in self._actions:
                    raise ValueError(f"two commands declare the button action {action.action_id!r}")
                self._actions[action.action_id] = (command, action)
        self.grammar: Mapping[str, CommandSpec] = {name: c.spec for name, c in self._commands.items()}

    def command(self, name: str) -> Command[Any] | None:
        return self._commands.get(name)

    def action(self, action_id: str) -> tuple[Command[Any], ButtonAction[Any]] | None:
        return self._actions.get(action_id)

    @property
    def action_ids(self) -> tuple[str, ...]:
        return tuple(self._actions)
