"""``feature set … --at/--in/--for`` and ``feature schedule list|cancel``: changes kept for later.

A scheduled change records the command as typed and each target's version now; at its time it
runs as its author, with the rules and checks of then, and not at all if the flag changed
meanwhile. A time-boxed change records the audit entries it wrote and, when it expires, rolls
each back through the Roll back path (which leaves alone what changed since).
"""

from __future__ import annotations

import time
from typing import ClassVar

from flags import StoreUnavailable
from flags.exposure import increases_exposure, simulate
from handlers.changes import ROLL_BACK_ACTION
from handlers.changes.announce import shown_state
from handlers.changes.ports import APPROVAL_GATE, LaterChange, approvers_for
from handlers.core.command import ButtonAction, Subcommand
from handlers.core.context import Context
from handlers.core.grammar import SubcommandSpec
from handlers.core.parsing import Invocation
from handlers.core.policy import Writes, authorize
from handlers.core.reply import Action, Code, Line, Mention, Reply, Section, Strong, error_reply, line, refused_reply
from handlers.core.timefmt import span, utc
from handlers.schedules.grammar import SCHEDULE
from handlers.schedules.plans import ScheduleCancel, SchedulePlan, cancel_button_plan, plan_schedule
from handlers.schedules.store import SCHEDULE_STORE, Schedule, ScheduleStore

__all__ = [
    "CANCEL_ACTION",
    "ScheduleCommand",
    "Scheduler",
    "cancel",
    "list_schedules",
    "schedule_expiry",
    "schedule_run",
]

CANCEL_ACTION = "schedule_cancel"  # the action_id of a schedule's Cancel button


def _store(context: Context) -> ScheduleStore:
    return context.app.ports.need(SCHEDULE_STORE)


def _cancel_button(schedule_id: str) -> Action:
    return Action(f"Cancel {schedule_id}", CANCEL_ACTION, schedule_id)


async def schedule_run(plan: LaterChange, context: Context) -> Reply:
    """Keep ``plan`` (a ``set`` with ``--at``/``--in``) to run at its time."""
    versions: dict[str, int] = {}
    raises, summary = [], []
    for environment in plan.targets:
        try:
            record = await context.stores[environment.option].get(plan.flag)
        except StoreUnavailable as error:
            return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}); nothing was scheduled.")
        versions[environment.option] = record.version
        after, after_exists = simulate(record.state, record.exists, plan.change)
        raises.append((environment, increases_exposure(record.state, after)))
        summary.append(
            f"{environment.name}: {shown_state(record.state, record.exists)} → {shown_state(after, after_exists)}"
        )
    groups = approvers_for(plan.flag, raises, context)
    if groups:
        when = f"at {utc(plan.at)} (in {span(plan.at - time.time())})"
        note = (
            f"It is scheduled {when}: approving it approves the change it makes then, which runs without "
            "asking again, with the checks of then, and not at all if the flag changed meanwhile."
        )
        approvals = context.app.ports.need(APPROVAL_GATE)
        return await approvals.ask(plan.text, plan.flag, versions, groups, summary, context, kept=plan.kept, note=note)
    return await _keep(plan, versions, context)


async def _keep(plan: LaterChange, versions: dict[str, int], context: Context) -> Reply:
    """Keep the change (reviewed at ``versions``) with its timer; the answer to its author."""
    store = _store(context)
    names = ", ".join(e.name for e in plan.targets)
    schedule = Schedule(
        id=await store.new_id(),
        kind="run",
        flag=plan.flag,
        due=plan.at,
        who=context.caller,
        created_at=time.time(),
        text=plan.text,
        versions=versions,
        summary=f"{plan.flag} {plan.change.describe()} on {names}",
        approved_by=context.approved_by,
        plan=plan.run_then,
    )
    await store.add(schedule)
    lines: tuple[Line, ...] = (
        line(
            Strong(schedule.id),
            ": ",
            Code(f"/chatops {plan.text}"),
            f" runs at {utc(plan.at)} (in {span(plan.at - time.time())}), as ",
            Mention(context.caller.user_id, context.caller.user_name),
            ", with the channel rules, access rules and checks of then.",
        ),
        line("If the flag changes on any of those environments before then, it does not run, and you are told."),
    )
    if context.approved_by:
        lines += (line(f"Approved by {context.approved_by}: it runs then without asking again."),)
    title = line("Feature flag ", Code(plan.flag), " change scheduled")
    return Reply(
        True,
        f"{plan.flag}: change scheduled as {schedule.id} for {utc(plan.at)}",
        (Section(lines, title),),
        public=True,
        actions=(_cancel_button(schedule.id),),
    )


async def schedule_expiry(flag: str, lasts: float, reply: Reply, context: Context) -> Reply:
    """After a time-boxed change (``--for``): schedule the roll back of what it wrote."""
    entries: dict[str, str] = {}
    for action in reply.actions:
        if action.action_id == ROLL_BACK_ACTION:
            option, _, rest = action.value.partition("|")
            entries[option] = rest.rpartition("|")[2]
    if not entries:
        return reply  # nothing was written: nothing to restore
    store = _store(context)
    due = time.time() + lasts
    schedule = Schedule(
        id=await store.new_id(),
        kind="expire",
        flag=flag,
        due=due,
        who=context.caller,
        created_at=time.time(),
        entries=entries,
        summary=f"time box of {flag} ({span(lasts)}) ends: the previous state comes back",
    )
    await store.add(schedule)
    note = line(
        f"Time-boxed: the previous state comes back at {utc(due)} (in {span(lasts)}), as ",
        Strong(schedule.id),
        "; cancel it to keep this change.",
    )
    return reply.with_notes(note).with_actions(_cancel_button(schedule.id))


async def list_schedules(context: Context) -> Reply:
    pending = await _store(context).pending()
    if not pending:
        return Reply(True, "No scheduled changes", (Section((line("No scheduled or time-boxed changes."),)),))
    now = time.time()
    lines: list[Line] = []
    for schedule in pending:
        who = Mention(schedule.who.user_id, schedule.who.user_name)
        when = f" · {utc(schedule.due)} (in {span(schedule.due - now)}) · "
        what: Line = (Code(f"/chatops {schedule.text}"),) if schedule.kind == "run" else (schedule.summary,)
        lines.append(line(Strong(schedule.id), when, *what, " · by ", who))
    title = line(f"{len(pending)} scheduled change(s)")
    return Reply(True, f"{len(pending)} scheduled change(s)", (Section(tuple(lines), title),))


async def cancel(plan: ScheduleCancel, context: Context) -> Reply:
    store = _store(context)
    schedule = await store.get(plan.schedule_id)
    if schedule is None:
        return error_reply(
            f"There is no schedule {plan.schedule_id}: it ran, was cancelled, or never existed "
            "(see `feature schedule list`). Nothing was changed."
        )
    if context.caller.user_id != schedule.who.user_id:
        options = set(schedule.versions) | set(schedule.entries)
        targets = tuple(e for e in context.config.environments if e.option in options)
        refusal = await authorize(Writes(targets), context.caller, context.config, context.chat)
        if refusal is not None:
            where, author = ", ".join(e.name for e in targets), schedule.who.who
            return refused_reply(
                f"Only its author ({author}), or someone who may change {where} here, may cancel {schedule.id}. "
                + refusal.message,
                f"{refusal.reason}, and {schedule.id} was scheduled by {author}",
            )
    if await store.cancel(schedule.id) is None:
        return error_reply(f"{schedule.id} ran or was cancelled just now; nothing was changed.")
    who = Mention(schedule.who.user_id, schedule.who.user_name)
    what: Line = (Code(f"/chatops {schedule.text}"),) if schedule.kind == "run" else (schedule.summary,)
    lines = (line("Cancelled ", Strong(schedule.id), ": ", *what, f", due {utc(schedule.due)}, by ", who, "."),)
    return Reply(True, f"cancelled {schedule.id}", (Section(lines),), public=True)


class ScheduleCommand(Subcommand[SchedulePlan]):
    """``feature schedule list|cancel ID``, and the Cancel button of a scheduled change."""

    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = SCHEDULE

    def plan(self, invocation: Invocation, context: Context) -> SchedulePlan:
        return plan_schedule(invocation, context)

    async def handle(self, plan: SchedulePlan, context: Context) -> Reply:
        if isinstance(plan, ScheduleCancel):
            return await cancel(plan, context)
        return await list_schedules(context)

    def actions(self) -> tuple[ButtonAction[SchedulePlan], ...]:
        return (ButtonAction(CANCEL_ACTION, "Cancel button", cancel_button_plan),)


class Scheduler:
    """Changes kept for later, as the flag commands ask for them (``SCHEDULER``)."""

    later = staticmethod(schedule_run)
    time_box = staticmethod(schedule_expiry)
