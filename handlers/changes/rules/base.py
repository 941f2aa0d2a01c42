"""What a safety rule is: a name, when it applies, and what it checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from handlers.changes.request import ChangeRequest, Target
from handlers.core.context import Context
from handlers.core.reply import Line, Reply

__all__ = ["NOTHING_CHANGED", "SafetyRule", "Verdict"]

NOTHING_CHANGED = "Nothing was changed in any environment."


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's answer: what to record in the audit entry, a refusal, or warnings for the reply."""

    record: str | None = None  # recorded under the rule's name, e.g. "passed" or "ignored (...)"
    refusal: Reply | None = None  # the change is refused whole, with this answer
    warnings: tuple[Line, ...] = ()


class SafetyRule(Protocol):
    """Rules run in registration order before any write; the first refusal stops the change.

    ``name`` is the key under which the audit entry records the verdict (e.g. ``consistency_check``).
    """

    name: ClassVar[str]

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool: ...

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict: ...
