"""Flipper's percentage-of-time gate: open on a random share of checks."""

from __future__ import annotations

import random
from typing import Literal

from flags.gates._percentage import read_percentage
from flags.gates.base import Check, GroupRegistry
from flags.state import FlagState

__all__ = ["PercentageOfTimeGate"]


class PercentageOfTimeGate:
    name = "percentage_of_time"
    key = "percentage_of_time"
    data_type: Literal["integer"] = "integer"

    def is_enabled(self, state: FlagState) -> bool:
        value = read_percentage(state.percentage_of_time, "", self.key)
        return value is not None and value > 0

    def compile(self, feature_name: str, state: FlagState, groups: GroupRegistry) -> Check | None:
        percentage = read_percentage(state.percentage_of_time, feature_name, self.key)
        if percentage is None or percentage <= 0:
            return None
        share = percentage / 100.0
        draw = random.random

        def open_for(actor_id: str | None, actor: object) -> bool:
            return draw() < share

        return open_for
