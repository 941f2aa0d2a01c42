"""One gate per module, as in Flipper; ``GATES`` is Flipper's evaluation order."""

from __future__ import annotations

from flags.gates.actor import ActorGate
from flags.gates.base import Check, Gate, GroupRegistry
from flags.gates.boolean import BooleanGate
from flags.gates.group import GroupGate
from flags.gates.percentage_of_actors import PercentageOfActorsGate
from flags.gates.percentage_of_time import PercentageOfTimeGate

__all__ = [
    "GATES",
    "ActorGate",
    "BooleanGate",
    "Check",
    "Gate",
    "GroupGate",
    "GroupRegistry",
    "PercentageOfActorsGate",
    "PercentageOfTimeGate",
]

GATES: tuple[Gate, ...] = (
    BooleanGate(),
    ActorGate(),
    PercentageOfActorsGate(),
    PercentageOfTimeGate(),
    GroupGate(),
)
