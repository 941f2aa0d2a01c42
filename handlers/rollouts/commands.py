"""``feature rollout``: start one, list them, show one, pause, resume, next step now, abort.

Starting records each environment's state and version and the plan; the timer driver writes the
steps. Pause, resume, next and abort are allowed to whoever started it and to whoever may change
its environments in this channel.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from redis.exceptions import RedisError

from flags import FlagRecord, FlagState, StoreUnavailable
from flags.exposure import increases_exposure, simulate
from handlers.changes.announce import shown_state
from handlers.changes.noop import already_text, leaves_as_is
from handlers.changes.ports import APPROVAL_GATE, approvers_for
from handlers.changes.request import Target
from handlers.config import Config
from handlers.core.chat import PostFailed
from handlers.core.command import ButtonAction, Subcommand
from handlers.core.context import Context
from handlers.core.freezes import FREEZES, describe_freeze
from handlers.core.grammar import SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.policy import Writes, authorize
from handlers.core.reply import (
    Line,
    Mention,
    Reply,
    Section,
    Strong,
    error_reply,
    line,
    refused_reply,
)
from handlers.core.seen import Seen
from handlers.core.timefmt import span, utc
from handlers.rollouts.control import abort, pause, versions_now
from handlers.rollouts.grammar import ROLLOUT
from handlers.rollouts.message import card_post, event, progress_posts, step_text
from handlers.rollouts.metric_guard import baseline_problems, take_baselines
from handlers.rollouts.plans import RolloutList, RolloutPlan, RolloutStart, RolloutSteer, rollout_plan, step_change
from handlers.rollouts.store import ROLLOUT_STORE, Rollout, RolloutStore, Stale

__all__ = ["ROLLOUT_ACTIONS", "RolloutCommand", "rollout"]

#: Button action ids → what they do to the rollout named in their value.
ROLLOUT_ACTIONS = {
    "rollout_pause": "pause",
    "rollout_resume": "resume",
    "rollout_next": "next",
    "rollout_abort": "abort",
}


def _store(context: Context) -> RolloutStore:
    return context.app.ports.need(ROLLOUT_STORE)


async def rollout(plan: RolloutPlan, context: Context) -> Reply:
    store = _store(context)
    if isinstance(plan, RolloutList):
        return _list(await store.all())
    if isinstance(plan, RolloutStart):
        return await _start(plan, context, store)
    return await _steer_plan(plan, context, store)


async def _steer_plan(plan: RolloutSteer, context: Context, store: RolloutStore) -> Reply:
    found = await store.get(plan.name) if plan.name.startswith("R") and plan.name[1:].isdigit() else None
    found = found or await store.active_for(plan.name) or _latest(await store.all(), plan.name)
    if found is None:
        return error_reply(
            f"There is no rollout of {plan.name}: start one with `feature rollout {plan.name} --steps …`."
        )
    if plan.action == "status":
        return _status(found, context)
    refusal = await _may_steer(found, context)
    if refusal is not None:
        return refusal
    return await _steer(found, plan.action, store, context)


async def _start(plan: RolloutStart, context: Context, store: RolloutStore) -> Reply:
    active = await store.active_for(plan.name)
    if active is not None:
        return error_reply(
            f"{active.id} is already rolling out {plan.name} ({active.done}/{len(active.steps)} steps, "
            f"{active.status}): pause or abort it first (`feature rollout abort {plan.name}`). Nothing was started."
        )
    before, versions, seen = {}, {}, {}
    for environment in plan.targets:
        try:
            record = await context.stores[environment.option].get(plan.name)
        except StoreUnavailable as error:
            return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}); nothing was started.")
        before[environment.option] = (record.state, record.exists)
        versions[environment.option] = record.version
        seen[environment.option] = Seen.of(record)
    refusal = await _cannot_start(plan, before, versions, context)
    if refusal is not None:
        return refusal
    baselines = await _baselines(plan, context)
    if isinstance(baselines, Reply):
        return baselines
    groups = approvers_for(plan.name, [(e, True) for e in plan.targets], context)  # each step raises
    if groups:
        return await _ask_approval(plan, context, before, seen, groups)
    now = time.time()
    created = Rollout(
        id=await store.new_id(),
        flag=plan.name,
        options=tuple(e.option for e in plan.targets),
        steps=plan.steps,
        every_s=plan.every_s,
        who=context.caller,
        created_at=now,
        kind=plan.kind,
        guard=plan.guard,
        overrides=plan.overrides,
        due=now,
        versions=versions,
        before=before,
        history=(event(plan.every_s, f"Started by {context.caller.who}."),),
        approved_by=context.approved_by,
        metrics=plan.metrics,
        baselines=baselines,
    )
    card = card_post(created, context.config, started=True)
    with contextlib.suppress(PostFailed):  # then no message to update: progress comes message by message
        created = replace(created, message=await context.chat.post(card))
    created = await store.save(created)
    if not created.message:
        return _card(created, context, started=True)
    where = ", ".join(context.config.environment_name(o) for o in created.options)
    lines = (
        line(
            f"Started {created.id} on {where}: its plan and progress are in the message posted in this channel, "
            "updated as it goes, with each step in its thread."
        ),
    )
    return Reply(True, f"rollout {created.id} started", (Section(lines),))


async def _baselines(plan: RolloutStart, context: Context) -> dict[str, float | None] | Reply:
    """Each metric check's value before the rollout, in each environment; a refusal (nothing started)
    when one cannot be read."""
    metrics = context.config.metrics
    if not plan.metrics or metrics is None:
        return {}
    options = [e.option for e in plan.targets]
    baselines, readings = await take_baselines(context.app, plan.metrics, options, plan.name)
    problems = baseline_problems(metrics, readings)
    if not problems:
        return baselines
    listed = "\n".join(f"• {p}" for p in problems)
    return error_reply(
        f"The metric checks could not take their baseline, so nothing was started:\n{listed}\n"
        "Fix the check in the configuration (`chatops check-metrics` tries every one), or start the rollout "
        "with other checks (`--metrics NAME,...`) or none (`--metrics none`)."
    )


async def _cannot_start(
    plan: RolloutStart, before: dict[str, tuple[FlagState, bool]], versions: dict[str, int], context: Context
) -> Reply | None:
    """Why the rollout is not started: no step would change any environment (the flag is already
    that far there), or a step would raise exposure on a frozen one (it would only pause there)."""
    effects = {e.option: _effects(plan, before[e.option], context) for e in plan.targets}
    if not any(moves for moves, _ in effects.values()):
        records = [FlagRecord(plan.name, *before[e.option], versions[e.option]) for e in plan.targets]
        same = [Target(e, r, r.state, r.exists) for e, r in zip(plan.targets, records, strict=True)]
        return error_reply(
            f"`{plan.name}` is already {already_text(same)}: no step of this rollout would change it, "
            "so it was not started."
        )
    raising = {e.option: e.name for e in plan.targets if effects[e.option][1]}
    freezes = context.app.ports.get(FREEZES)
    if freezes is None or not raising:
        return None
    try:
        frozen = await freezes.of(list(raising))
    except (RedisError, OSError) as error:  # fail closed: a freeze may be on
        return error_reply(f"Could not check for a change freeze ({error}); nothing was started.")
    if not frozen:
        return None
    lines = "; ".join(describe_freeze(f, raising.get(f.option, f.option)) for f in frozen)
    return error_reply(
        f"This rollout would raise exposure during a change freeze: {lines}. Nothing was started: start it "
        "once the freeze is lifted (`/chatops run freeze status` shows every freeze)."
    )


def _effects(plan: RolloutStart, before: tuple[FlagState, bool], context: Context) -> tuple[bool, bool]:
    """Whether some step would change an environment that is ``before``, and whether one would raise
    its exposure (steps that would leave it as it is are not written, so the next starts from it too)."""
    state, moves, raises = before, False, False
    for percentage in plan.steps:
        after = simulate(*state, step_change(plan.kind, percentage))
        if leaves_as_is(plan.name, state, after, context.definitions):
            continue
        moves, raises = True, raises or increases_exposure(state[0], after[0])
        state = after
    return moves, raises


async def _ask_approval(
    plan: RolloutStart,
    context: Context,
    before: dict[str, tuple[FlagState, bool]],
    seen: dict[str, Seen],
    groups: tuple[str, ...],
) -> Reply:
    of = "time" if plan.kind == "random" else "actors"
    steps = " → ".join("100%" if p >= 100 else f"{p:g}%" for p in plan.steps)
    summary = [
        f"{e.name}: {shown_state(*before[e.option])} → {steps} of {of}, every {span(plan.every_s)}"
        for e in plan.targets
    ]
    note = (
        f"Approving this rollout approves each of its {len(plan.steps)} steps: they are written on their "
        "schedule without asking again, each with the checks of then, and it can be paused or aborted any time."
    )
    kept = context.app.commands.keep("feature", "rollout", plan)
    approvals = context.app.ports.need(APPROVAL_GATE)
    return await approvals.ask(plan.text, plan.name, seen, groups, summary, context, kept=kept, note=note)


def _status(found: Rollout, context: Context) -> Reply:
    """``rollout status``: the rollout's message as it stands, only to the person (its buttons only
    when the rollout has no message of its own, where they are)."""
    card = card_post(found, context.config)
    actions = () if found.message else card.actions
    return Reply(True, card.summary, card.sections, actions=actions)


def _card(found: Rollout, context: Context, *, started: bool = False) -> Reply:
    """The rollout's message as the answer itself, in the channel: when it has no message of its
    own (it could not be posted), the channel sees where it stands and its buttons here."""
    card = card_post(found, context.config, started=started)
    return Reply(True, card.summary, card.sections, public=True, actions=card.actions)


async def _may_steer(found: Rollout, context: Context) -> Reply | None:
    """None when the caller may steer the rollout (who started it, or who may change its
    environments here); else the refusal, which the pipeline reports."""
    if context.caller.user_id == found.who.user_id:
        return None
    targets = tuple(e for e in context.config.environments if e.option in found.options)
    refusal = await authorize(Writes(targets), context.caller, context.config, context.chat)
    if refusal is None:
        return None
    where, starter = ", ".join(e.name for e in targets), found.who.who
    return refused_reply(
        f"Only who started {found.id} ({starter}), or someone who may change {where} here, may pause, resume, "
        f"step or abort it. {refusal.message}",
        f"{refusal.reason}, and {found.id} was started by {starter}",
    )


async def _steer(found: Rollout, action: str, store: RolloutStore, context: Context) -> Reply:
    who = context.caller.who
    if action == "abort":
        outcome = await abort(store, found, f"by {who}", context)
        if outcome is None:
            return error_reply(f"{found.id} is {found.status}: there is nothing to abort.")
        aborted, replies = outcome
        what = "the state before the rollout is restored" if replies else "nothing to restore (the flag is as before)"
        title = line(f"Aborted by {who}: {what}")
        return await _told(aborted, context, f"Aborted {found.id}.", title, replies)
    if action == "pause":
        paused = await pause(store, found, f"by {who}")
        if paused.status != "paused":
            return error_reply(f"{found.id} is {found.status}, not running.")
        return await _told(paused, context, f"Paused {found.id}.", line(f"Paused by {who}"))
    if action == "next" and found.approved_by:
        return error_reply(
            f"{found.id} was approved by {found.approved_by} to step every {span(found.every_s)}: `next` cannot "
            "go faster than what was approved. Nothing was changed. To change its pace, abort it and start a new "
            "rollout (it is approved again)."
        )
    return await _go_on(found, action, store, context)


async def _go_on(found: Rollout, action: str, store: RolloutStore, context: Context) -> Reply:
    """Resume a paused rollout, or bring its next step forward: its next step is due now (an
    approved pace holds)."""
    who = context.caller.who
    for _ in range(5):
        if action == "resume" and found.status != "paused":
            return error_reply(f"{found.id} is {found.status}, not paused.")
        if action == "next" and found.status != "running":
            return error_reply(f"{found.id} is {found.status}: resume it first.")
        label = found.step_label(found.done + 1)
        said = f"Resumed by {who}" if action == "resume" else f"Step {label} brought forward by {who}"
        due = time.time()
        if found.approved_by and found.due is not None:  # an approved pace: a pause never makes it faster
            due = max(due, found.due)
        history = (*found.history, event(found.every_s, said + "."))
        changed = replace(found, status="running", due=due, reason="", history=history)
        if action == "resume":  # whoever resumes has seen the flag as it is: the rollout goes on from there
            changed = replace(changed, versions={**found.versions, **await versions_now(found, context.stores)})
        try:
            saved = await store.save(changed)
        except Stale:
            fresh = await store.get(found.id)
            if fresh is None:
                break
            found = fresh
            continue
        answer = f"Resumed {found.id}." if action == "resume" else f"Step {label} of {found.id} is due now."
        return await _told(saved, context, answer, line(said))
    return error_reply(f"{found.id} kept changing; try again.")


async def _told(found: Rollout, context: Context, answer: str, title: Line, replies: Sequence[Reply] = ()) -> Reply:
    """Say the event in the thread of the rollout's message and bring the message up to date; the
    person hears one line, only them. A rollout without a message of its own (it could not be
    posted) is answered in the channel instead: where it stands, its buttons and the event's changes."""
    if not found.message:
        reply = _card(found, context)
        for change in replies:
            reply = replace(reply, sections=reply.sections + change.sections, actions=reply.actions + change.actions)
        return reply
    lines = [line(answer)]
    lines += [line(f"{reply.summary}: see the rollout's thread.") for reply in replies if not reply.ok]
    posts = tuple(progress_posts(found, context.config, title, replies))
    return Reply(True, answer, (Section(tuple(lines)),), cross_posts=posts)


def _list(rollouts: list[Rollout]) -> Reply:
    if not rollouts:
        return Reply(True, "No rollouts", (Section((line("No rollouts."),)),))
    lines = [
        line(
            Strong(r.id),
            f" · {r.flag} · {r.status} · {r.done}/{len(r.steps)} steps{_next_step(r)} · by ",
            Mention(r.who.user_id, r.who.user_name),
        )
        for r in sorted(rollouts, key=lambda r: (not r.active, -int(r.id[1:])))
    ]
    return Reply(True, f"{len(rollouts)} rollout(s)", (Section(tuple(lines), line(f"{len(rollouts)} rollout(s)")),))


def _next_step(found: Rollout) -> str:
    if not found.active or found.done >= len(found.steps):
        return ""
    percentage = found.steps[found.done]
    what = step_text(found, percentage) if percentage >= 100 else f"{percentage:g}%"
    when = f"at {utc(found.due)}" if found.status == "running" and found.due is not None else "when resumed"
    return f" · next: {what} {when}"


def _latest(rollouts: list[Rollout], flag: str) -> Rollout | None:
    mine = [r for r in rollouts if r.flag == flag]
    return mine[-1] if mine else None


class RolloutCommand(Subcommand[RolloutPlan]):
    """``feature rollout``, and its Pause, Resume, Next step now and Abort buttons."""

    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = ROLLOUT

    def plan(self, invocation: Invocation, context: Context) -> RolloutPlan:
        return rollout_plan(invocation, context)

    async def handle(self, plan: RolloutPlan, context: Context) -> Reply:
        return await rollout(plan, context)

    def encode(self, plan: RolloutPlan) -> dict[str, Any]:
        assert isinstance(plan, RolloutStart), "only a rollout's start is kept (for its approval)"
        return plan.to_data()

    def decode(self, data: dict[str, Any], config: Config) -> RolloutPlan:
        return RolloutStart.from_data(data, config)

    def actions(self) -> tuple[ButtonAction[Any], ...]:
        return tuple(
            ButtonAction(action_id, f"{action.capitalize()} button", _button_plan(action))
            for action_id, action in ROLLOUT_ACTIONS.items()
        )


def _button_plan(action: str) -> Callable[[str, Context], RolloutPlan]:
    """The plan of a rollout button: its value is the rollout id."""

    def plan_of(value: str, context: Context) -> RolloutPlan:
        if not (value.startswith("R") and value[1:].isdigit() and len(value) <= 13):
            raise UsageError("This button does not name a rollout.")
        return RolloutSteer(action, value)

    return plan_of
