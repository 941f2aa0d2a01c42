"""Safety rules, run before any write in the order the composition root registers them
(``SAFETY_RULES``). A new rule: one module (in the capability it belongs to, or here when it is
about changes in general), one line in ``RULES`` (``handlers.composition.ports``).

Approval is not among them: it is asked for once they all passed (``APPROVAL_GATE``)."""

from __future__ import annotations

from handlers.changes.rules.base import SafetyRule, Verdict
from handlers.core.ports import PortKey

__all__ = ["SAFETY_RULES", "SafetyRule", "Verdict"]

SAFETY_RULES: PortKey[SafetyRule] = PortKey("safety rules")
