"""Flipper's group gate: on for actors that a registered predicate accepts."""

from __future__ import annotations

from typing import Literal

import structlog

from flags.gates.base import Check, GroupRegistry
from flags.state import FlagState

__all__ = ["GroupGate"]

_log = structlog.get_logger("flags")


class GroupGate:
    name = "group"
    key = "groups"
    data_type: Literal["set"] = "set"

    def is_enabled(self, state: FlagState) -> bool:
        return bool(state.groups)

    def compile(self, feature_name: str, state: FlagState, groups: GroupRegistry) -> Check | None:
        if not state.groups:
            return None
        names = tuple(sorted(state.groups))

        def open_for(actor_id: str | None, actor: object) -> bool:
            if actor is None:
                return False
            for name in names:
                # Looked up on every check, so a group registered later takes effect.
                predicate = groups.get(name)
                if predicate is None:
                    continue  # Flipper: an unregistered group matches no one.
                try:
                    if predicate(actor):
                        return True
                except Exception as error:  # an application's predicate must not break a check
                    _log.warning(
                        "flags.group_predicate_failed",
                        feature=feature_name,
                        group=name,
                        error=repr(error),
                    )
            return False

        return open_for
