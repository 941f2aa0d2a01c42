"""How much of the world a flag state exposes, and what a change would make of a state.

Pure functions over FlagState, used by the safety checks: a change that only reduces
exposure is never blocked; enabling production needs staging to be enabled first.
"""

from __future__ import annotations

from flags import Change, FlagState
from flags.gates._percentage import read_percentage

__all__ = ["covers", "increases_exposure", "percentage", "same_exposure", "simulate"]


def percentage(text: str | None) -> float:
    value = read_percentage(text, "", "") if text is not None else None
    return float(value) if value is not None else 0.0


def simulate(state: FlagState, exists: bool, change: Change) -> tuple[FlagState, bool]:
    """The state and existence a change leaves behind (the same mutation the store applies)."""
    mutation = change.mutation()
    if mutation.remove:
        return FlagState(), False
    fields = {} if mutation.clear else state.to_hash()
    fields.update(dict(mutation.set_fields))
    for field in mutation.delete_fields:
        fields.pop(field, None)
    return FlagState.from_hash(fields), True


def covers(wider: FlagState, narrower: FlagState) -> bool:
    """Whether ``wider`` is enabled for everyone ``narrower`` is enabled for."""
    if wider.boolean:
        return True
    if narrower.boolean:
        return False
    return (
        narrower.actors <= wider.actors
        and narrower.groups <= wider.groups
        and percentage(narrower.percentage_of_actors) <= percentage(wider.percentage_of_actors)
        and percentage(narrower.percentage_of_time) <= percentage(wider.percentage_of_time)
    )


def increases_exposure(before: FlagState, after: FlagState) -> bool:
    return not covers(before, after)


def same_exposure(a: FlagState, b: FlagState) -> bool:
    """Whether two states enable a flag for exactly the same actors, groups and times: both on (the
    boolean gate enables everyone, whatever else the hash holds), or the same gates, a percentage
    of 0 counting as none. A percentage that is not a number only equals the same text."""
    if a.boolean or b.boolean:
        return a.boolean == b.boolean
    return (a.actors, a.groups, _amount(a.percentage_of_actors), _amount(a.percentage_of_time)) == (
        b.actors,
        b.groups,
        _amount(b.percentage_of_actors),
        _amount(b.percentage_of_time),
    )


def _amount(text: str | None) -> int | float | str | None:
    """A percentage gate's text as the number Flipper reads (None for none or 0; corrupt text as is)."""
    if text is None:
        return None
    value = read_percentage(text, "", "")
    if value is None:
        return text
    return value or None
