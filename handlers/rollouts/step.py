"""One step of a rollout, as the driver writes it when it is due.

Before writing: the rollout must still be running; every environment must still be at the version
the rollout last saw (else someone changed it by hand: the rollout pauses and says who); no alert
matching its guard may be firing (else it aborts). The step itself is an ordinary ``feature set``
run as the person who started the rollout, through the same pipeline: channel and access rules of
now, consistency and production checks, the journalled, version-conditioned write, the audit
entry ("(rollout R1 step 3/5)"), cross-posts and Roll back buttons. A refusal or a failure pauses
the rollout (the step is not skipped) and says why. A step that would leave every environment as it
is (the flag is already that far) writes nothing, and the rollout goes on.
"""

from __future__ import annotations

import time
from dataclasses import replace

import structlog

from flags import (
    FlagsError,
)
from flags.exposure import simulate
from handlers.changes.noop import already_text, split
from handlers.changes.request import Target
from handlers.changes.set_plan import SetPlan, environments_of
from handlers.config import Config
from handlers.core import pipeline
from handlers.core.chat import ChatBackend
from handlers.core.context import Application, Context
from handlers.core.reply import Code, CrossPost, Line, Reply, error_reply, line, plain
from handlers.rollouts.control import abort, pause, versions_now
from handlers.rollouts.message import alerted, event, progress_posts, step_text
from handlers.rollouts.metric_actions import before_step
from handlers.rollouts.plans import step_change
from handlers.rollouts.store import Rollout, RolloutStore, Stale

__all__ = ["step", "step_command", "step_plan"]

_log = structlog.get_logger("chatops.rollouts")


def step_command(rollout: Rollout, percentage: float) -> str:
    """The ``feature set`` a step runs, as its audit entry records it (100% is ``true``: enabled for
    everyone, as a rollout ends)."""
    value = "true" if percentage >= 100 else f"{percentage:g} --{'random' if rollout.kind == 'random' else 'actors'}"
    options = " ".join(f"--{o}" for o in (*rollout.options, *rollout.overrides))
    return " ".join(("run", "feature", "set", rollout.flag, value, options))


def step_plan(rollout: Rollout, percentage: float, config: Config) -> SetPlan:
    """The typed ``feature set`` of a step; ValueError when one of its environments is no longer configured."""
    targets = environments_of(rollout.options, config)
    change = step_change(rollout.kind, percentage)
    return SetPlan(rollout.flag, targets, change, step_command(rollout, percentage), frozenset(rollout.overrides))


async def _write_step(rollout: Rollout, percentage: float, origin: str, app: Application, chat: ChatBackend) -> Reply:
    try:
        plan = step_plan(rollout, percentage, app.config)
    except (ValueError, FlagsError) as error:
        return error_reply(f"{error}; nothing was changed.")
    invocation = pipeline.Invoke("feature", "set", plan, rollout.who, origin, rollout.approved_by)
    return await pipeline.invoke(invocation, app, chat)


async def step(
    rollout: Rollout, app: Application, chat: ChatBackend, store: RolloutStore, token: int
) -> list[CrossPost]:
    """Write the rollout's next step if it may be written; what to post in its channel."""
    if rollout.status != "running" or rollout.done >= len(rollout.steps):
        return []
    number = rollout.done + 1
    approved = f", approved by {rollout.approved_by}" if rollout.approved_by else ""
    origin = f" (rollout {rollout.id} step {rollout.step_label(number)}{approved})"
    manual = await _changed_by_hand(rollout, app, origin)
    if manual == _OURS:  # a driver that died wrote this step but did not record it: record it now
        versions = await versions_now(rollout, app.stores)
        written = await _record_step(rollout, number, versions, store, token, " by a driver that stopped; recorded now")
        title = line(f"Step {rollout.step_label(number)} was written by a driver that stopped; recorded now")
        return _post(app, written, title)
    if manual:
        paused = await pause(store, rollout, manual, token=token)
        return _post(app, paused, line(f"Rollout {rollout.id} of ", Code(rollout.flag), " paused: ", manual))
    firing = await _guard_firing(rollout, app)
    if firing:
        context = Context(app, rollout.who, chat, origin=f" (rollout {rollout.id})")
        outcome = await abort(store, rollout, f"alert {firing} is firing", context)
        if outcome is None:
            return []  # aborted meanwhile, and said so then
        aborted, replies = outcome
        title = line(
            f"Rollout {rollout.id} of ",
            Code(rollout.flag),
            f" aborted: alert {firing} is firing — ",
            *alerted(app, rollout),
        )
        return _post(app, aborted, title, replies)
    guarded = await before_step(app, chat, store, rollout)
    if not isinstance(guarded, Rollout):
        return guarded  # a metric check holds the step back, paused or aborted the rollout
    rollout = guarded
    skipped = await _nothing_to_write(rollout, number, app, store, token)
    if skipped is not None:
        return skipped
    percentage = rollout.steps[number - 1]
    started = time.monotonic()
    reply = await _write_step(rollout, percentage, origin, app, chat)
    took = time.monotonic() - started
    where = ", ".join(app.config.environment_name(o) for o in rollout.options)
    what = step_text(rollout, percentage)
    if not reply.ok:
        reason = f"step {rollout.step_label(number)} was not written: {reply.summary}"
        paused = await pause(store, rollout, reason, token=token)
        return _post(app, paused, line(f"Rollout {rollout.id} paused: ", reason), [_without(reply, reply.summary)])
    versions = await versions_now(rollout, app.stores)
    _log.info("rollout.step_written", rollout=rollout.id, step=number, seconds=round(took, 3))
    written = await _record_step(rollout, number, versions, store, token, f": {what} on {where}")
    finished = number == len(rollout.steps)
    title = line(f"Step {rollout.step_label(number)} on {where}: {what}", " — the rollout is done" if finished else "")
    return _post(app, written, title, [reply])


_OURS = "ours"  # what _changed_by_hand says of a change this very step made


async def _nothing_to_write(
    rollout: Rollout, number: int, app: Application, store: RolloutStore, token: int
) -> list[CrossPost] | None:
    """A step that would leave every environment as it is (the flag is already that far, or
    further: on) is recorded as done without writing anything; None when it would change one."""
    percentage = rollout.steps[number - 1]
    same = await _unchanged_by(rollout, percentage, app)
    if not same:
        return None
    what = step_text(rollout, percentage)
    where = ", ".join(app.config.environment_name(o) for o in rollout.options)
    said = f" — nothing written: already {already_text(same)}"
    written = await _record_step(rollout, number, {}, store, token, said)
    finished = number == len(rollout.steps)
    title = line(
        f"Step {rollout.step_label(number)} on {where}: {what}{said}", " — the rollout is done" if finished else ""
    )
    return _post(app, written, title)


async def _unchanged_by(rollout: Rollout, percentage: float, app: Application) -> list[Target]:
    """Every environment as it is now, if the step would leave all of them so; else none (nor when
    one cannot be read: the step itself then says what is wrong)."""
    change = step_change(rollout.kind, percentage)
    targets: list[Target] = []
    for option in rollout.options:
        environment, store = app.config.environment(option), app.stores.get(option)
        if environment is None or store is None:
            return []
        try:
            record = await store.get(rollout.flag)
        except FlagsError:
            return []
        targets.append(Target(environment, record, *simulate(record.state, record.exists, change)))
    changing, same = split(rollout.flag, targets, app.definitions)
    return [] if changing else same


async def _record_step(
    rollout: Rollout, number: int, versions: dict[str, int], store: RolloutStore, token: int, said: str
) -> Rollout:
    """Save that step ``number`` is written (and when the next is due)."""
    finished = number == len(rollout.steps)
    written = replace(
        rollout,
        done=number,
        versions={**rollout.versions, **versions},
        status="done" if finished else "running",
        due=None if finished else time.time() + rollout.every_s,
        stepped_at=(*rollout.stepped_at, time.time()) if versions else rollout.stepped_at,
        history=(*rollout.history, event(rollout.every_s, f"Step {rollout.step_label(number)} written{said}.")),
    )
    try:
        return await store.save(written, token=token)
    except Stale:  # paused or aborted while the step was written: the step stands; they said what next
        fresh = await store.get(rollout.id)
        if fresh is None:
            return written
        return await store.save(replace(fresh, done=number, versions={**fresh.versions, **versions}))


async def _changed_by_hand(rollout: Rollout, app: Application, origin: str) -> str:
    for option in rollout.options:
        name = app.config.environment_name(option)
        store = app.stores.get(option)
        if store is None:
            return f"environment {option} is no longer configured"
        try:
            record = await store.get(rollout.flag)
            if record.version == rollout.versions.get(option, record.version):
                continue
            latest = await store.history(rollout.flag, limit=1)
        except FlagsError as error:
            return f"could not read {name} ({error})"
        if latest and latest[0].command.endswith(origin):
            return _OURS
        who = latest[0].who if latest else "someone"
        what = latest[0].description if latest else "a change"
        return f"{rollout.flag} was changed by hand on {name} ({what} by {who}): the manual change wins"
    return ""


async def _guard_firing(rollout: Rollout, app: Application) -> str:
    """The name and labels of an alert matching the guard that fires now, or ''."""
    if not rollout.guard or app.services is None:
        return ""
    firing = await app.services.firing_alerts(rollout.guard)
    return firing[0] if firing else ""


def _post(app: Application, rollout: Rollout, title: Line, replies: list[Reply] | None = None) -> list[CrossPost]:
    return progress_posts(rollout, app.config, title, replies or [])


def _without(reply: Reply, said: str) -> Reply:
    """``reply`` without its lines that only say ``said`` (the title of the post says it already)."""
    sections = tuple(replace(s, lines=tuple(t for t in s.lines if plain(t) != said)) for s in reply.sections)
    return replace(reply, sections=sections)
