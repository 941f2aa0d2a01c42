"""The flag commands, each its own object: ``feature get``, ``set``, ``list``, ``delete``,
``history``, and the Roll back button every change carries."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, ClassVar

from handlers.changes import ROLL_BACK_ACTION, apply_change, roll_back
from handlers.changes.ports import SCHEDULER, LaterChange
from handlers.changes.rules.base import NOTHING_CHANGED
from handlers.changes.set_plan import SetPlan, environments_of
from handlers.config import Config
from handlers.core.command import ButtonAction, Subcommand
from handlers.core.context import Context
from handlers.core.grammar import SubcommandSpec
from handlers.core.parsing import Invocation
from handlers.core.reply import Reply, error_reply, line
from handlers.core.stored import StoredPlan
from handlers.core.timefmt import utc
from handlers.flag_commands import grammar
from handlers.flag_commands.plans import (
    DeletePlan,
    FlagPlan,
    HistoryPlan,
    ListPlan,
    RollbackPlan,
    UndefinedSet,
    plan_delete,
    plan_get,
    plan_history,
    plan_list,
    plan_set,
    rollback_plan,
)
from handlers.flag_commands.reads import get, history, list_flags
from handlers.flag_commands.unknown import no_such_flag

__all__ = ["DeleteCommand", "GetCommand", "HistoryCommand", "ListCommand", "SetCommand"]


class GetCommand(Subcommand[FlagPlan]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.GET

    def plan(self, invocation: Invocation, context: Context) -> FlagPlan:
        return plan_get(invocation, context)

    async def handle(self, plan: FlagPlan, context: Context) -> Reply:
        return await get(plan, context)


class SetCommand(Subcommand[SetPlan | UndefinedSet]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.SET

    def plan(self, invocation: Invocation, context: Context) -> SetPlan | UndefinedSet:
        return plan_set(invocation, context)

    async def handle(self, plan: SetPlan | UndefinedSet, context: Context) -> Reply:
        if isinstance(plan, UndefinedSet):
            return await no_such_flag(plan.name, context, NOTHING_CHANGED) or error_reply(plan.refusal)
        kept = context.app.commands.keep("feature", "set", plan)  # what an approval would run again
        if plan.at is not None or plan.delay_s is not None:
            return await _later(plan, kept, context)
        reply = await apply_change(plan.change_request(context, kept), context)
        if plan.lasts is not None and reply.ok:
            reply = await context.app.ports.need(SCHEDULER).time_box(plan.name, plan.lasts, reply, context)
        return reply.with_notes(*(line(w) for w in plan.warnings)) if plan.warnings else reply

    def encode(self, plan: SetPlan | UndefinedSet) -> dict[str, Any]:
        if isinstance(plan, UndefinedSet):
            raise NotImplementedError("a set of a name without a definition is never kept for later")
        return plan.to_data()

    def decode(self, data: dict[str, Any], config: Config) -> SetPlan:
        return SetPlan.from_data(data, config)

    def actions(self) -> tuple[ButtonAction[Any], ...]:
        return (ButtonAction(ROLL_BACK_ACTION, "Roll back button", rollback_plan, _roll_back),)


async def _later(plan: SetPlan, kept: StoredPlan, context: Context) -> Reply:
    """A ``set --at/--in``: kept to run at its time (``--in`` counts from now: from the approval,
    when it was approved). What runs then is the same set, now."""
    now = time.time()
    at = plan.at if plan.at is not None else now + (plan.delay_s or 0.0)
    if at <= now:
        return error_reply(f"`--at {utc(at)}` has passed (it is now {utc(now)}); nothing was scheduled.")
    run_then = context.app.commands.keep("feature", "set", replace(plan, at=None, delay_s=None, warnings=()))
    later = LaterChange(plan.name, plan.targets, plan.change, plan.text, at, run_then, kept)
    return await context.app.ports.need(SCHEDULER).later(later, context)


async def _roll_back(plan: RollbackPlan, context: Context) -> Reply:
    return await roll_back(plan.name, plan.environment, plan.entry, context)


class ListCommand(Subcommand[ListPlan]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.LIST

    def plan(self, invocation: Invocation, context: Context) -> ListPlan:
        return plan_list(invocation, context)

    async def handle(self, plan: ListPlan, context: Context) -> Reply:
        return await list_flags(plan, context)


class DeleteCommand(Subcommand[DeletePlan]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.DELETE

    def plan(self, invocation: Invocation, context: Context) -> DeletePlan:
        return plan_delete(invocation, context)

    async def handle(self, plan: DeletePlan, context: Context) -> Reply:
        kept = context.app.commands.keep("feature", "delete", plan)
        return await apply_change(plan.change_request(context, kept), context)

    def encode(self, plan: DeletePlan) -> dict[str, Any]:
        return {"name": plan.name, "targets": [e.option for e in plan.targets], "text": plan.text}

    def decode(self, data: dict[str, Any], config: Config) -> DeletePlan:
        return DeletePlan(str(data["name"]), environments_of(data["targets"], config), str(data["text"]))


class HistoryCommand(Subcommand[HistoryPlan]):
    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = grammar.HISTORY

    def plan(self, invocation: Invocation, context: Context) -> HistoryPlan:
        return plan_history(invocation, context)

    async def handle(self, plan: HistoryPlan, context: Context) -> Reply:
        return await history(plan, context)
