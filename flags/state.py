"""A flag's gate values as Flipper's Redis adapter stores them in one hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SHOWN_NAMES", "FlagState", "listing"]

_ACTORS = "actors/"
_GROUPS = "groups/"


#: How many names a description shows before "… and N more".
SHOWN_NAMES = 10


def listing(names: Sequence[str], noun: str, *, labelled: bool = False, shown: int = SHOWN_NAMES) -> str:
    """``a, b, c`` (``actors: a, b, c`` when ``labelled``); past ``shown`` names, always
    ``300 actors: a, b, … and 290 more``, so that an answer about many names stays readable."""
    if len(names) <= shown + 2:
        return (f"{noun}: " if labelled else "") + ", ".join(names)
    return f"{len(names)} {noun}: " + ", ".join(names[:shown]) + f", … and {len(names) - shown} more"


@dataclass(frozen=True, slots=True)
class FlagState:
    """The gate values of one flag.

    Percentages keep the exact text found in Redis, so that a state read and
    written back (a roll back) is byte-for-byte what it was, and so that a
    corrupt value written by someone else is visible rather than guessed at.
    """

    boolean: bool = False
    actors: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    percentage_of_actors: str | None = None
    percentage_of_time: str | None = None

    @classmethod
    def from_hash(cls, fields: Mapping[str, str]) -> FlagState:
        """Read Flipper's hash: ``boolean``, ``percentage_of_*``, ``actors/<id>``, ``groups/<g>``."""
        actors: set[str] = set()
        groups: set[str] = set()
        for field in fields:
            if field.startswith(_ACTORS):
                actors.add(field[len(_ACTORS) :])
            elif field.startswith(_GROUPS):
                groups.add(field[len(_GROUPS) :])
        return cls(
            # Flipper's Typecast.to_boolean: "true" and "1" are true, anything else false.
            boolean=fields.get("boolean") in ("true", "1"),
            actors=frozenset(actors),
            groups=frozenset(groups),
            percentage_of_actors=fields.get("percentage_of_actors"),
            percentage_of_time=fields.get("percentage_of_time"),
        )

    def to_hash(self) -> dict[str, str]:
        """The hash fields Flipper's Redis adapter would hold for this state."""
        fields: dict[str, str] = {}
        if self.boolean:
            fields["boolean"] = "true"
        if self.percentage_of_actors is not None:
            fields["percentage_of_actors"] = self.percentage_of_actors
        if self.percentage_of_time is not None:
            fields["percentage_of_time"] = self.percentage_of_time
        for actor in sorted(self.actors):
            fields[_ACTORS + actor] = "1"
        for group in sorted(self.groups):
            fields[_GROUPS + group] = "1"
        return fields

    @property
    def is_empty(self) -> bool:
        return not (
            self.boolean
            or self.actors
            or self.groups
            or self.percentage_of_actors is not None
            or self.percentage_of_time is not None
        )

    def describe(self) -> str:
        """A one-line summary in the words every answer uses: ``on``, ``off``, ``25% of actors``,
        ``actors: User:a; 25% of actors``."""
        if self.boolean:
            return "on"
        parts: list[str] = []
        if self.actors:
            parts.append(listing(sorted(self.actors), "actors", labelled=True))
        if self.groups:
            parts.append(listing(sorted(self.groups), "groups", labelled=True))
        if self.percentage_of_actors not in (None, "0"):
            parts.append(f"{self.percentage_of_actors}% of actors")
        if self.percentage_of_time not in (None, "0"):
            parts.append(f"{self.percentage_of_time}% of time")
        return "; ".join(parts) if parts else "off"

    def to_json(self) -> dict[str, Any]:
        return {
            "boolean": self.boolean,
            "actors": sorted(self.actors),
            "groups": sorted(self.groups),
            "percentage_of_actors": self.percentage_of_actors,
            "percentage_of_time": self.percentage_of_time,
        }
