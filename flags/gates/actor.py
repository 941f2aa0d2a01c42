"""Flipper's actor gate: on for the listed actor ids (``actors/User:alice``)."""

from __future__ import annotations

from typing import Literal

from flags.gates.base import Check, GroupRegistry
from flags.state import FlagState

__all__ = ["ActorGate"]


class ActorGate:
    name = "actor"
    key = "actors"
    data_type: Literal["set"] = "set"

    def is_enabled(self, state: FlagState) -> bool:
        return bool(state.actors)

    def compile(self, feature_name: str, state: FlagState, groups: GroupRegistry) -> Check | None:
        if not state.actors:
            return None
        actors = state.actors

        def open_for(actor_id: str | None, actor: object) -> bool:
            return actor_id in actors

        return open_for
