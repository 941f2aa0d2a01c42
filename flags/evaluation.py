"""Evaluation of a flag for an actor, compiled once per state, as Flipper 0.25 decides.

A flag is enabled for an actor when any gate is open, in Flipper's order:
boolean, actor, percentage of actors, percentage of time, group. Evaluation
never raises: an actor without a Flipper id counts as no actor.
"""

from __future__ import annotations

from collections.abc import Callable

from flags.gates import GATES, Check, GroupRegistry
from flags.state import FlagState

__all__ = ["Evaluator", "actor_id_of", "compile_flag", "constant"]

#: ``evaluator(actor) -> enabled?``; ``actor`` is a Flipper id string
#: (``"User:alice"``), an object with a ``flipper_id`` attribute, or None.
Evaluator = Callable[[object], bool]


def actor_id_of(actor: object) -> str | None:
    """The Flipper id of an actor: the string itself, or ``str(actor.flipper_id)``."""
    if actor is None or type(actor) is str:
        return actor
    try:
        flipper_id = getattr(actor, "flipper_id", None)
        if callable(flipper_id):
            flipper_id = flipper_id()
    except Exception:
        return None
    return None if flipper_id is None else str(flipper_id)


def _true(actor: object = None) -> bool:
    return True


def _false(actor: object = None) -> bool:
    return False


def constant(value: bool) -> Evaluator:
    return _true if value else _false


def compile_flag(name: str, state: FlagState, groups: GroupRegistry) -> Evaluator:
    """Turn a state into the fastest function that answers ``enabled?`` for it."""
    checks: list[Check] = []
    for gate in GATES:
        check = gate.compile(name, state, groups)
        if check is not None:
            checks.append(check)
    if state.boolean:
        return _true
    if not checks:
        return _false
    if len(checks) == 1:
        only = checks[0]

        def one_gate(actor: object = None) -> bool:
            actor_id = actor if actor is None or type(actor) is str else actor_id_of(actor)
            return only(actor_id, actor)

        return one_gate
    every = tuple(checks)

    def any_gate(actor: object = None) -> bool:
        actor_id = actor if actor is None or type(actor) is str else actor_id_of(actor)
        return any(check(actor_id, actor) for check in every)

    return any_gate
