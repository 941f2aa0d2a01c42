"""The change engine: a change request goes through the safety rules, is written, and announced."""

from handlers.changes.announce import ROLL_BACK_ACTION
from handlers.changes.engine import apply_change, apply_everywhere, roll_back
from handlers.changes.request import ChangeRequest, Target

__all__ = ["ROLL_BACK_ACTION", "ChangeRequest", "Target", "apply_change", "apply_everywhere", "roll_back"]
