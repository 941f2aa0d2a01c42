"""A flag's state on one environment as the dashboard shows it: words, a kind and a share."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from flags import FlagRecord, FlagState
from flags.definitions import Definition
from flags.exposure import percentage
from handlers.changes.announce import shown_state

__all__ = ["NOT_SET", "UNKNOWN", "Cell", "Kind", "Row", "cell", "cell_of", "exposure", "unknown_since"]

Kind = Literal["off", "some", "percent", "on", "unknown"]


def exposure(state: FlagState) -> tuple[Kind, float]:
    """How exposed a state is, as a kind and a share in percent (for bars and the chart): on is
    100, a percentage its value, actors or groups alone a sliver ("some"), off 0."""
    if state.boolean:
        return "on", 100.0
    share = max(percentage(state.percentage_of_actors), percentage(state.percentage_of_time))
    if share > 0:
        return "percent", share
    if state.actors or state.groups:
        return "some", 0.0
    return "off", 0.0


@dataclass(frozen=True, slots=True)
class Cell:
    words: str  # as chat answers say it
    kind: Kind
    share: float
    read_at: float | None = None  # an unknown cell: when its environment was last read whole (None: never)


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    definition: Definition | None
    cells: tuple[Cell, ...]  # one per environment, in configured order
    cleanup: str = ""  # why it is ready to clean up (with the cleanup filter)


UNKNOWN = Cell("unknown", "unknown", 0.0)  # an environment never read


def unknown_since(read_at: float | None) -> Cell:
    """The cell of an environment that cannot be read now: unknown, and since when (its last good
    read) — never the old state, which would look current."""
    return Cell("unknown", "unknown", 0.0, read_at)


NOT_SET = Cell("off", "off", 0.0)


@lru_cache(maxsize=8192)
def cell_of(state: FlagState) -> Cell:
    """A listed flag's cell (states repeat across thousands of flags: each is worked out once)."""
    kind, share = exposure(state)
    return Cell(shown_state(state, True), kind, share)


def cell(record: FlagRecord | None) -> Cell:
    if record is None:
        return NOT_SET
    if record.exists:
        return cell_of(record.state)
    kind, share = exposure(record.state)
    return Cell(shown_state(record.state, record.exists), kind, share)
