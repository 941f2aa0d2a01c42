"""Why a flag is on or off for an actor, in OpenFeature's words, with Flipper's semantics.

The gates are asked in Flipper's order (boolean, actor, percentage of actors, percentage of time,
group); the first open one decides, and names the reason: ``STATIC`` (on for everyone),
``TARGETING_MATCH`` (the actor, or a group it is in), ``SPLIT`` (a percentage). A flag with no
open gate at all is ``DISABLED``; one whose gates do not let this actor in is off by ``DEFAULT``.
Group procs live in application code, so the caller states the groups the actor is in.
Never raises.

``compile_resolution`` does the per-state work once (what a provider or a server keeps per flag
state); ``resolve`` is the one-off form of it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from flags.gates import GATES, Check
from flags.state import FlagState

__all__ = ["REASONS", "Resolution", "Resolver", "compile_resolution", "resolve"]

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


#: ``resolver(actor_id, groups) -> Resolution`` for one flag state: ``actor_id`` is the actor's
#: Flipper id (``User:42``) or None, ``groups`` the Flipper groups it is in.
Resolver = Callable[[str | None, Collection[str]], Resolution]

_DISABLED = Resolution(False, "DISABLED")
_DEFAULT = Resolution(False, "DEFAULT")
_OPEN = {gate: Resolution(True, reason, gate) for gate, reason in REASONS.items()}


@dataclass(frozen=True, slots=True)
class _Actor:
    """An actor as OpenFeature's evaluation context describes it: a Flipper id and its groups."""

    flipper_id: str | None
    groups: Collection[str]


def resolve(name: str, state: FlagState, actor_id: str | None = None, groups: Iterable[str] = ()) -> Resolution:
    """Whether ``name`` (in ``state``) is on for the actor ``actor_id`` (e.g. ``User:42``) in ``groups``."""
    try:
        members = frozenset(groups)
    except TypeError:  # not names of groups: no groups
        members = frozenset()
    return compile_resolution(name, state)(actor_id, members)


def compile_resolution(name: str, state: FlagState) -> Resolver:
    """The resolver of ``name`` in ``state``: the gates compiled once, asked in Flipper's order."""
    registry = {group: _member_of(group) for group in state.groups}
    checks: list[tuple[Resolution, Check]] = []
    for gate in GATES:
        try:
            check = gate.compile(name, state, registry)
        except Exception:  # a malformed gate counts as closed, as Flipper's evaluation does not raise
            continue
        if check is not None:
            checks.append((_OPEN[gate.name], check))
    if not checks:
        return _disabled
    if checks[0][0].gate == "boolean":
        return _static
    every = tuple(checks)
    wants_actor = bool(state.groups)  # only the group gate looks at more than the actor's id

    def resolver(actor_id: str | None, groups: Collection[str] = ()) -> Resolution:
        actor = _Actor(actor_id, groups) if wants_actor and (actor_id is not None or groups) else None
        for opened, check in every:
            try:
                if check(actor_id, actor):
                    return opened
            except Exception:  # a malformed gate counts as closed
                continue
        return _DEFAULT

    return resolver


def _disabled(actor_id: str | None, groups: Collection[str] = ()) -> Resolution:
    return _DISABLED


def _static(actor_id: str | None, groups: Collection[str] = ()) -> Resolution:
    return _OPEN["boolean"]


def _member_of(group: str) -> Callable[[object], bool]:
    def member(actor: object) -> bool:
        return isinstance(actor, _Actor) and group in actor.groups

    return member
