"""Flipper's percentage-of-actors gate: a stable share of actors, by CRC32."""

from __future__ import annotations

import zlib
from typing import Literal

from flags.gates._percentage import read_percentage
from flags.gates.base import Check, GroupRegistry
from flags.state import FlagState

__all__ = ["PercentageOfActorsGate"]

_SCALE = 1_000  # Flipper supports three decimals: compare in thousandths of a percent.


class PercentageOfActorsGate:
    name = "percentage_of_actors"
    key = "percentage_of_actors"
    data_type: Literal["integer"] = "integer"

    def is_enabled(self, state: FlagState) -> bool:
        value = read_percentage(state.percentage_of_actors, "", self.key)
        return value is not None and value > 0

    def compile(self, feature_name: str, state: FlagState, groups: GroupRegistry) -> Check | None:
        percentage = read_percentage(state.percentage_of_actors, feature_name, self.key)
        if percentage is None or percentage <= 0:
            return None
        # crc32(name + id) == crc32(id, crc32(name)): hash the name once, here.
        name_crc = zlib.crc32(feature_name.encode())
        threshold = percentage * _SCALE
        crc32 = zlib.crc32

        def open_for(actor_id: str | None, actor: object) -> bool:
            if actor_id is None:
                return False
            return crc32(actor_id.encode(), name_crc) % 100_000 < threshold

        return open_for
