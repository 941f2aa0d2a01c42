"""What the change engine and the flag commands need from other capabilities, as ports: approval
of a change (``APPROVAL_GATE``) and keeping a change for later (``SCHEDULER``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from flags import Change
from handlers.changes.announce import Outcome
from handlers.changes.request import ChangeRequest, Target
from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.ports import PortKey
from handlers.core.reply import Reply
from handlers.core.seen import Seen
from handlers.core.stored import StoredPlan

__all__ = ["APPROVAL_GATE", "SCHEDULER", "ApprovalGate", "ChangeScheduler", "LaterChange", "approvers_for"]


class ApprovalGate(Protocol):
    def approvers_for(self, flag: str, raises: Sequence[tuple[Environment, bool]], context: Context) -> tuple[str, ...]:
        """The user groups whose approval a change of ``flag`` needs, given for each environment
        whether it raises exposure there; empty when it needs none (or the approval is given)."""

    async def gate(
        self, request: ChangeRequest, targets: Sequence[Target], context: Context, outcome: Outcome
    ) -> Reply | None:
        """After the safety rules passed: None when the change may be written; else the answer
        that an approval was asked for (or why it cannot be)."""

    async def ask(
        self,
        text: str,
        flag: str,
        seen: Mapping[str, Seen],
        groups: tuple[str, ...],
        summary: list[str],
        context: Context,
        *,
        kept: StoredPlan,
        note: str = "",
    ) -> Reply:
        """Ask ``groups`` to approve running ``kept`` (typed as ``text``; its flag reviewed as ``seen``)."""


APPROVAL_GATE: PortKey[ApprovalGate] = PortKey("approval gate")


def approvers_for(flag: str, raises: Sequence[tuple[Environment, bool]], context: Context) -> tuple[str, ...]:
    """Who must approve a change of ``flag`` (none where no approval gate is registered)."""
    approvals = context.app.ports.get(APPROVAL_GATE)
    return approvals.approvers_for(flag, raises, context) if approvals is not None else ()


@dataclass(frozen=True, slots=True)
class LaterChange:
    """A ``feature set`` to run at ``at`` (epoch seconds) as its author."""

    flag: str
    targets: tuple[Environment, ...]
    change: Change
    text: str  # the command as typed, after ``/chatops``
    at: float
    run_then: StoredPlan  # the set it runs at its time
    kept: StoredPlan  # the set as asked for (what an approval runs again)


class ChangeScheduler(Protocol):
    async def later(self, change: LaterChange, context: Context) -> Reply:
        """Keep ``change`` to run at its time; the answer to its author."""

    async def time_box(self, flag: str, lasts: float, reply: Reply, context: Context) -> Reply:
        """After a time-boxed change (``--for``) answered ``reply``: schedule the roll back of what
        it wrote, ``lasts`` seconds from now; the reply, with a note and a Cancel button."""


SCHEDULER: PortKey[ChangeScheduler] = PortKey("change scheduler")
