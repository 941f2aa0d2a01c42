"""Flipper's boolean gate: on for everyone."""

from __future__ import annotations

from typing import Literal

from flags.gates.base import Check, GroupRegistry
from flags.state import FlagState

__all__ = ["BooleanGate"]


def _always(actor_id: str | None, actor: object) -> bool:
    return True


class BooleanGate:
    name = "boolean"
    key = "boolean"
    data_type: Literal["boolean"] = "boolean"

    def is_enabled(self, state: FlagState) -> bool:
        return state.boolean

    def compile(self, feature_name: str, state: FlagState, groups: GroupRegistry) -> Check | None:
        return _always if state.boolean else None
