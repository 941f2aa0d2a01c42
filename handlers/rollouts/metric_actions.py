"""What a rollout does with its metric checks' readings: abort and roll back on a check failing too
many times in a row, hold its step while one fails, pause while one cannot be read, and go on by
itself when every check can be read again. Run between steps (the driver's periodic job) and right
before each step."""

from __future__ import annotations

import time
from dataclasses import replace

import structlog

from handlers.checks.metric_checks import Reading
from handlers.config.metrics import Metrics
from handlers.core.charts import Chart, Mark
from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.driver import post_all
from handlers.core.metric_charts import BEFORE_S, metric_chart
from handlers.core.reply import Code, CrossPost, Line, line
from handlers.rollouts.guard import abort_and_tell
from handlers.rollouts.message import alerted, event, progress_posts
from handlers.rollouts.metric_guard import Evaluation, evaluate, failure_text, held_text
from handlers.rollouts.store import ROLLOUT_STORE, Rollout, RolloutStore, Stale

__all__ = ["abort_title", "before_step", "poll_metric_guards", "rollout_chart"]

_log = structlog.get_logger("chatops.guard")


async def poll_metric_guards(app: Application, chat: ChatBackend) -> list[str]:
    """Read the checks of every rollout that has written a step and is running (or paused because
    its checks could not be read); act on what they say. The ids of the rollouts acted upon."""
    store = app.ports.get(ROLLOUT_STORE)
    if store is None or app.config.metrics is None:
        return []
    acted = []
    for rollout in await store.all():
        if not rollout.metrics or rollout.done == 0 or not (rollout.status == "running" or rollout.held):
            continue
        evaluation = await _evaluate(app, rollout)
        if evaluation is None:
            continue
        posts = await _act(app, chat, store, rollout, evaluation, stepping=False)
        if isinstance(posts, list) and posts:
            acted.append(rollout.id)
            await post_all(chat, posts, rollout=rollout.id)
    return acted


async def before_step(
    app: Application, chat: ChatBackend, store: RolloutStore, rollout: Rollout
) -> Rollout | list[CrossPost]:
    """The rollout (as saved now) when its next step may be written: it has no checks, or every
    check passed just now; else what happened instead, to post."""
    if not rollout.metrics or rollout.done == 0:
        return rollout  # the baseline was taken as it started: the first step is written at once
    evaluation = await _evaluate(app, rollout)
    if evaluation is None:
        return rollout
    acted = await _act(app, chat, store, rollout, evaluation, stepping=True)
    return rollout if acted is None else acted


async def _evaluate(app: Application, rollout: Rollout) -> Evaluation | None:
    return await evaluate(
        app, rollout.metrics, rollout.options, rollout.flag, baselines=rollout.baselines, failing=rollout.failing
    )


async def _act(
    app: Application,
    chat: ChatBackend,
    store: RolloutStore,
    rollout: Rollout,
    evaluation: Evaluation,
    *,
    stepping: bool,
) -> list[CrossPost] | Rollout:
    """What the readings make the rollout do; when ``stepping`` and the step may be written, the
    rollout as saved."""
    metrics = app.config.metrics
    assert metrics is not None  # evaluate answered
    if evaluation.breached:
        await _abort(app, chat, store, rollout, evaluation, metrics)
        return []
    if evaluation.unreadable:
        return await _hold(app, store, rollout, evaluation, metrics)
    if not evaluation.all_passed:
        return await _wait(app, store, rollout, evaluation, metrics, stepping=stepping)
    if rollout.held:
        return await _go_on(app, store, rollout, evaluation)
    if rollout.failing != evaluation.failing:
        saved = await _save(store, replace(rollout, failing=evaluation.failing))
        if saved is None:
            return []  # changed meanwhile: the next reading decides
        rollout = saved
    return rollout if stepping else []


async def _abort(
    app: Application,
    chat: ChatBackend,
    store: RolloutStore,
    rollout: Rollout,
    evaluation: Evaluation,
    metrics: Metrics,
) -> None:
    first = evaluation.breached[0]
    title = abort_title(app, rollout, first, evaluation.failing[first.key])
    reason = f"metric check {first.check} on {first.environment} failed {evaluation.failing[first.key]} times in a row"

    async def chart(aborted: Rollout) -> Chart | None:
        return await rollout_chart(app, aborted, "aborted")

    if await abort_and_tell(app, chat, store, rollout, reason, title, chart):
        _log.warning("guard.metric_abort", rollout=rollout.id, check=first.key, value=first.value)


def abort_title(app: Application, rollout: Rollout, reading: Reading, times: int) -> Line:
    """``Rollout R1 of `f` aborted and rolled back: error ratio on gstg is 3.1%, past its bound …``,
    then the starter and on-call."""
    assert app.config.metrics is not None
    said = failure_text(app.config.metrics, reading, rollout.baselines.get(reading.key), times)
    title = line(f"Rollout {rollout.id} of ", Code(rollout.flag), " aborted and rolled back: ", *said, " — ")
    return title + alerted(app, rollout)


async def _hold(
    app: Application, store: RolloutStore, rollout: Rollout, evaluation: Evaluation, metrics: Metrics
) -> list[CrossPost]:
    """Pause the rollout until its checks can be read (said once, when it pauses)."""
    reason = held_text(metrics, evaluation.unreadable)
    if rollout.held or rollout.status != "running":
        await _save(store, replace(rollout, failing=evaluation.failing))
        return []
    said = event(rollout.every_s, f"Paused: {reason}.")
    paused = replace(
        rollout, status="paused", held=True, reason=reason, failing=evaluation.failing, history=(*rollout.history, said)
    )
    saved = await _save(store, paused)
    if saved is None:
        return []
    title = line(f"Rollout {rollout.id} of ", Code(rollout.flag), f" paused: {reason}")
    return progress_posts(saved, app.config, title)


async def _go_on(app: Application, store: RolloutStore, rollout: Rollout, evaluation: Evaluation) -> list[CrossPost]:
    """Every check can be read again: the paused rollout goes on (its next step when it was due)."""
    said = "Resumed: every metric check can be read again, and every one passes"
    due = max(rollout.due or 0.0, time.time())
    resumed = replace(
        rollout,
        status="running",
        held=False,
        reason="",
        due=due,
        failing=evaluation.failing,
        history=(*rollout.history, event(rollout.every_s, said + ".")),
    )
    saved = await _save(store, resumed)
    if saved is None:
        return []
    return progress_posts(saved, app.config, line(f"Rollout {rollout.id} of ", Code(rollout.flag), f": {said}"))


async def _wait(
    app: Application,
    store: RolloutStore,
    rollout: Rollout,
    evaluation: Evaluation,
    metrics: Metrics,
    *,
    stepping: bool,
) -> list[CrossPost]:
    """A check failed, not yet often enough to abort: keep counting; a due step waits one reading."""
    changed = replace(rollout, failing=evaluation.failing)
    if not stepping:
        await _save(store, changed)
        return []
    worst = max(evaluation.readings, key=lambda r: evaluation.failing.get(r.key, 0))
    said = failure_text(metrics, worst, rollout.baselines.get(worst.key), evaluation.failing[worst.key])
    label = rollout.step_label(rollout.done + 1)
    changed = replace(changed, due=time.time() + metrics.every)
    saved = await _save(store, changed)
    if saved is None:
        return []
    title = line(f"Step {label} waits: ", *said, f"; {metrics.failure_limit} in a row abort")
    return progress_posts(saved, app.config, title)[:1]


async def _save(store: RolloutStore, rollout: Rollout) -> Rollout | None:
    """Saved, or None when someone changed the rollout meanwhile (this reading is dropped)."""
    try:
        return await store.save(rollout)
    except Stale:
        return None


async def rollout_chart(app: Application, rollout: Rollout, ending: str) -> Chart | None:
    """The rollout's checks from 30 minutes before it began to now, its steps (and how it ended) marked."""
    client = app.services.prometheus() if app.services is not None else None
    metrics = app.config.metrics
    if client is None or metrics is None:
        return None
    now = time.time()
    marks = [Mark(at, f"step {rollout.step_label(i)}", "step") for i, at in enumerate(rollout.stepped_at, start=1)]
    marks.append(Mark(now, ending, "abort" if ending == "aborted" else "change"))
    names = [app.config.environment_name(o) for o in rollout.options]
    return await metric_chart(
        client,
        metrics,
        rollout.metrics,
        names,
        rollout.flag,
        start=rollout.created_at - BEFORE_S,
        end=now,
        marks=marks,
        baselines=rollout.baselines,
        title=f"Rollout {rollout.id} of {rollout.flag}",
    )
