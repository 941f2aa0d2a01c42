"""``feature rollout``: start one, list them, show one, pause, resume, next step now, abort.

Starting records each environment's state and version and the plan; the timer driver writes the
steps. Pause, resume, next and abort are allowed to whoever started it and to whoever may change
its environments in this channel.
"""

from __future__ import annotations

import time
from dataclasses import replace

from flags import StoreUnavailable
from handlers.changes.rollouts import abort, pause
from handlers.commands.feature.plans import FeaturePlan
from handlers.core.context import Context
from handlers.core.policy import Writes, authorize
from handlers.core.reply import Action, Code, Confirm, Line, Mention, Reply, Section, Strong, error_reply, line
from handlers.core.rollouts import Rollout, RolloutStore, Stale
from handlers.core.timefmt import span, utc

__all__ = ["ROLLOUT_ACTIONS", "rollout"]

#: Button action ids → what they do to the rollout named in their value.
ROLLOUT_ACTIONS = {
    "rollout_pause": "pause",
    "rollout_resume": "resume",
    "rollout_next": "next",
    "rollout_abort": "abort",
}


def _store(context: Context) -> RolloutStore:
    schedules = context.app.schedules
    assert schedules is not None, "the composition root gives every application a schedule store"
    return RolloutStore(schedules.client, schedules)


async def rollout(plan: FeaturePlan, context: Context) -> Reply:
    store = _store(context)
    if plan.rollout_action == "list":
        return _list(await store.all())
    if plan.rollout_action == "start":
        return await _start(plan, context, store)
    found = await store.get(plan.name) if plan.name.startswith("R") and plan.name[1:].isdigit() else None
    found = found or await store.active_for(plan.name) or _latest(await store.all(), plan.name)
    if found is None:
        return error_reply(
            f"There is no rollout of {plan.name}: start one with `feature rollout {plan.name} --steps …`."
        )
    if plan.rollout_action == "status":
        return _status(found, context)
    refusal = await _may_steer(found, context)
    if refusal is not None:
        return refusal
    return await _steer(found, plan.rollout_action, store, context)


async def _start(plan: FeaturePlan, context: Context, store: RolloutStore) -> Reply:
    start = plan.rollout
    active = await store.active_for(plan.name)
    if active is not None:
        return error_reply(
            f"{active.id} is already rolling out {plan.name} ({active.done}/{len(active.steps)} steps, "
            f"{active.status}): pause or abort it first (`feature rollout abort {plan.name}`). Nothing was started."
        )
    before, versions = {}, {}
    for environment in plan.targets:
        try:
            record = await context.stores[environment.option].get(plan.name)
        except StoreUnavailable as error:
            return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}); nothing was started.")
        before[environment.option] = (record.state, record.exists)
        versions[environment.option] = record.version
    now = time.time()
    overrides = tuple(
        o
        for o in ("ignore-feature-flag-consistency-check", "ignore-random-deprecation-check")
        if plan.invocation.flag(o)
    )
    created = Rollout(
        id=await store.new_id(),
        flag=plan.name,
        options=tuple(e.option for e in plan.targets),
        steps=start.steps,
        every_s=start.every_s,
        who=context.caller,
        created_at=now,
        kind=start.kind,
        guard=start.guard,
        overrides=overrides,
        due=now,
        versions=versions,
        before=before,
        history=(f"{utc(now)}: started by {context.caller.who}",),
    )
    created = await store.save(created)
    return _status(created, context, started=True)


def _status(found: Rollout, context: Context, *, started: bool = False) -> Reply:
    who = Mention(found.who.user_id, found.who.user_name)
    where = ", ".join(_name(context, o) for o in found.options)
    of = "time" if found.kind == "random" else "actors"
    lines: list[Line] = []
    for number, percentage in enumerate(found.steps, start=1):
        what = "100% (true)" if percentage >= 100 else f"{percentage:g}% of {of}"
        if number <= found.done:
            when = "done"
        else:
            first = found.due if found.due is not None else time.time()
            when = f"due {utc(first + (number - found.done - 1) * found.every_s)}"
            when += "" if found.status == "running" else f" (when it runs; {found.status})"
        lines.append(line(f"Step {found.step_label(number)}: {what} — {when}"))
    guard = ", ".join(found.guard) if found.guard else "none (no Alertmanager matchers)"
    lines.append(line(f"Guard: {guard}. Every {span(found.every_s)}. Started by ", who, "."))
    if found.reason:
        lines.append(line(f"{found.status.capitalize()}: {found.reason}"))
    lines += [line(h) for h in found.history[-5:]]
    verb = "started" if started else found.status
    title = line(f"Rollout {found.id} of ", Code(found.flag), f" on {where}: ", Strong(verb))
    actions = _buttons(found) if found.active else ()
    return Reply(
        True, f"rollout {found.id} of {found.flag}: {verb}", (Section(tuple(lines), title),), True, (), (), actions
    )


def _buttons(found: Rollout) -> tuple[Action, ...]:
    flag = found.flag
    return (
        Action("Pause", "rollout_pause", found.id),
        Action("Resume", "rollout_resume", found.id),
        Action(
            "Next step now",
            "rollout_next",
            found.id,
            confirm=Confirm("Next step now?", f"Write the next step of {flag} now.", "Next step"),
        ),
        Action(
            "Abort & roll back",
            "rollout_abort",
            found.id,
            "danger",
            Confirm("Abort?", f"Abort the rollout and restore {flag} to its state before it.", "Abort"),
        ),
    )


async def _may_steer(found: Rollout, context: Context) -> Reply | None:
    if context.caller.user_id == found.who.user_id:
        return None
    targets = tuple(e for e in context.config.environments if e.option in found.options)
    refusal = await authorize(Writes(targets), context.caller, context.config, context.chat)
    if refusal is None:
        return None
    return error_reply(
        f"{refusal.message} (Only who started {found.id}, or someone who may change its environments here, "
        "may steer it.)"
    )


async def _steer(found: Rollout, action: str, store: RolloutStore, context: Context) -> Reply:
    who = context.caller.who
    if action == "abort":
        outcome = await abort(store, found, f"by {who}", context)
        if outcome is None:
            return error_reply(f"{found.id} is {found.status}: there is nothing to abort.")
        aborted, replies = outcome
        reply = _status(aborted, context)
        for change in replies:
            reply = replace(reply, sections=reply.sections + change.sections, actions=reply.actions + change.actions)
        return reply
    if action == "pause":
        paused = await pause(store, found, f"by {who}")
        return (
            _status(paused, context)
            if paused.status == "paused"
            else error_reply(f"{found.id} is {found.status}, not running.")
        )
    for _ in range(5):
        if action == "resume" and found.status != "paused":
            return error_reply(f"{found.id} is {found.status}, not paused.")
        if action == "next" and found.status != "running":
            return error_reply(f"{found.id} is {found.status}: resume it first.")
        changed = replace(
            found,
            status="running",
            due=time.time(),
            reason="",
            history=(*found.history, f"{utc(time.time())}: {action} by {who}"),
        )
        try:
            return _status(await store.save(changed), context)
        except Stale:
            fresh = await store.get(found.id)
            if fresh is None:
                break
            found = fresh
    return error_reply(f"{found.id} kept changing; try again.")


def _list(rollouts: list[Rollout]) -> Reply:
    if not rollouts:
        return Reply(True, "No rollouts", (Section((line("No rollouts."),)),))
    lines = [
        line(
            Strong(r.id),
            f" · {r.flag} · {r.status} · {r.done}/{len(r.steps)} steps · by ",
            Mention(r.who.user_id, r.who.user_name),
        )
        for r in sorted(rollouts, key=lambda r: (not r.active, -int(r.id[1:])))
    ]
    return Reply(True, f"{len(rollouts)} rollout(s)", (Section(tuple(lines), line(f"{len(rollouts)} rollout(s)")),))


def _latest(rollouts: list[Rollout], flag: str) -> Rollout | None:
    mine = [r for r in rollouts if r.flag == flag]
    return mine[-1] if mine else None


def _name(context: Context, option: str) -> str:
    environment = context.config.environment(option)
    return environment.name if environment is not None else option
