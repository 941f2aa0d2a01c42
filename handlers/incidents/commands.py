"""``feature kill`` and ``feature changes``, each its own command object."""

from __future__ import annotations

from typing import ClassVar

from handlers.core.command import Subcommand
from handlers.core.context import Context
from handlers.core.grammar import SubcommandSpec
from handlers.core.parsing import Invocation
from handlers.core.reply import Reply
from handlers.incidents import grammar
from handlers.incidents.changes import changes
from handlers.incidents.kill import kill
from handlers.incidents.plans import ChangesPlan, KillPlan, plan_changes, plan_kill

__all__ = ["ChangesCommand", "KillCommand"]


class KillCommand(Subcommand[KillPlan]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.KILL

    def plan(self, invocation: Invocation, context: Context) -> KillPlan:
        return plan_kill(invocation, context)

    async def handle(self, plan: KillPlan, context: Context) -> Reply:
        return await kill(plan, context)


class ChangesCommand(Subcommand[ChangesPlan]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.CHANGES

    def plan(self, invocation: Invocation, context: Context) -> ChangesPlan:
        return plan_changes(invocation, context)

    async def handle(self, plan: ChangesPlan, context: Context) -> Reply:
        return await changes(plan, context)
