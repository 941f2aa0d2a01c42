"""The command grammar as data: commands, subcommands, arguments and options.

Each command declares its own ``CommandSpec``; the parser reads them from the registry.
A command without subcommands has ``subcommands=()`` and declares its arguments and
options on ``direct``. Environment options are not listed here: they come from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CommandSpec", "OptionSpec", "SubcommandSpec"]

OptionKind = Literal["flag", "value", "list", "count"]


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    kind: OptionKind
    help: str
    metavar: str = ""


@dataclass(frozen=True, slots=True)
class SubcommandSpec:
    name: str
    arguments: tuple[str, ...]
    summary: str
    options: tuple[OptionSpec, ...] = ()
    environments: bool = True
    examples: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        args = " ".join(self.arguments)
        return f"{self.name} {args}".strip()

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    subcommands: tuple[SubcommandSpec, ...] = ()
    examples: tuple[str, ...] = ()
    direct: SubcommandSpec | None = None  # the arguments and options of a command without subcommands

    def __post_init__(self) -> None:
        if bool(self.subcommands) == (self.direct is not None):
            raise ValueError(f"command {self.name!r}: declare subcommands or direct, not both or neither")

    def subcommand(self, name: str) -> SubcommandSpec | None:
        return next((s for s in self.subcommands if s.name == name), None)

    @property
    def forms(self) -> tuple[SubcommandSpec, ...]:
        """Every way to call it: its subcommands, or its direct form."""
        return (self.direct,) if self.direct is not None else self.subcommands
