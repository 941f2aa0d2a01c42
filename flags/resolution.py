"""Why a flag is on or off for an actor, in OpenFeature's words, with Flipper's semantics.

The gates are asked in Flipper's order (boolean, actor, percentage of actors, percentage of time,
group); the first open one decides, and names the reason: ``STATIC`` (on for everyone),
``TARGETING_MATCH`` (the actor, or a group it is in), ``SPLIT`` (a percentage). A flag with no
open gate at all is ``DISABLED``; one whose gates do not let this actor in is off by ``DEFAULT``.
Group procs live in application code, so the caller states the groups the actor is in.
Never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flags.gates import GATES
from flags.state import FlagState

__all__ = ["REASONS", "Resolution", "resolve"]

#: The reason each gate gives when it lets the actor in.
REASONS = {
    "boolean": "STATIC",
    "actor": "TARGETING_MATCH",
    "percentage_of_actors": "SPLIT",
    "percentage_of_time": "SPLIT",
    "group": "TARGETING_MATCH",
}


@dataclass(frozen=True, slots=True)
class Resolution:
    enabled: bool
    reason: str  # STATIC, TARGETING_MATCH, SPLIT, DISABLED or DEFAULT
    gate: str = ""  # the gate that let the actor in ("" when none did)


@dataclass(frozen=True, slots=True)
class _Actor:
    """An actor as OpenFeature's evaluation context describes it: a Flipper id and its groups."""

    flipper_id: str | None
    groups: frozenset[str]


def resolve(name: str, state: FlagState, actor_id: str | None = None, groups: Iterable[str] = ()) -> Resolution:
    """Whether ``name`` (in ``state``) is on for the actor ``actor_id`` (e.g. ``User:42``) in ``groups``."""
    actor = _Actor(actor_id, frozenset(groups))
    registry = {group: _member_of(group) for group in state.groups}
    asked = False
    for gate in GATES:
        try:
            check = gate.compile(name, state, registry)
            if check is None:
                continue
            asked = True
            if check(actor_id, actor if actor_id is not None or actor.groups else None):
                return Resolution(True, REASONS[gate.name], gate.name)
        except Exception:  # a malformed gate counts as closed, as Flipper's evaluation does not raise
            continue
    return Resolution(False, "DEFAULT" if asked else "DISABLED")


def _member_of(group: str) -> Callable[[object], bool]:
    def member(actor: object) -> bool:
        return isinstance(actor, _Actor) and group in actor.groups

    return member
