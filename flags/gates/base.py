"""What every gate is: Flipper's name, key and data type, and a compiled check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from flags.state import FlagState

__all__ = ["Check", "Gate", "GroupRegistry"]

#: A compiled check: ``(actor_id, actor) -> open?``. ``actor_id`` is the actor's
#: Flipper id (``User:alice``) or None when no actor was given; ``actor`` is the
#: object the application passed, handed to group predicates.
Check = Callable[[str | None, object], bool]

#: Group name → predicate over the application's actor object.
GroupRegistry = Mapping[str, Callable[[object], bool]]


class Gate(Protocol):
    @property
    def name(self) -> str:
        """Flipper's gate name (``actor``, ``boolean``, …), used in logs and audit."""

    @property
    def key(self) -> str:
        """The hash field (or field prefix, for sets) in Flipper's Redis layout."""

    @property
    def data_type(self) -> Literal["boolean", "integer", "set"]: ...

    def is_enabled(self, state: FlagState) -> bool:
        """Whether the gate holds a value that can open it for anyone."""

    def compile(self, feature_name: str, state: FlagState, groups: GroupRegistry) -> Check | None:
        """A check for this gate, or None when the gate is closed for everyone."""
