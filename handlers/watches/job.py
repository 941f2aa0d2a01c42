"""The driver's watch round (every ``metrics.watch.every``, one process at a time): new changes join
the running watch of their environment or start one; each running watch reads its checks, judges
them against the baseline from before its first change, and brings each change's reply up to date;
at its end the reply is final and carries a chart."""

from __future__ import annotations

import time
from dataclasses import replace

import structlog
from redis.exceptions import RedisError

from handlers.checks.metric_checks import Reading, judge, read_all
from handlers.config.metrics import Metrics
from handlers.core.charts import Chart
from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application
from handlers.core.post_refs import POST_REFS
from handlers.watches.chart import watch_chart
from handlers.watches.message import watch_post
from handlers.watches.store import DONE_KEPT_S, WATCH_STORE, Watch, Watched, WatchStore

__all__ = ["WatchPoll", "watch_round"]

_log = structlog.get_logger("chatops.watch")
THREAD_WAIT_S = 120.0  # a change's post not posted by then: the watch replies in the log channel instead


class WatchPoll:
    name = "watch"

    def every(self, app: Application) -> float:
        watch = app.config.metrics.watch if app.config.metrics is not None else None
        return watch.every if watch is not None else 60.0

    async def run(self, app: Application, chat: ChatBackend) -> None:
        try:
            await watch_round(app, chat)
        except (RedisError, OSError) as error:
            _log.warning("watch.round_failed", error=str(error)[:200])


async def watch_round(app: Application, chat: ChatBackend) -> None:
    store = app.ports.get(WATCH_STORE)
    metrics = app.config.metrics
    if store is None or metrics is None or metrics.watch is None:
        return
    watches = {w.id: w for w in await store.all()}
    pending = await store.pending()
    for change in pending:
        watch = await _place(store, list(watches.values()), change, app, metrics)
        watches[watch.id] = watch
        await store.save(watch)
    if pending:
        await store.forget_pending(len(pending))
    now = time.time()
    for watch in watches.values():
        if not watch.done:
            await store.save(await _read_and_tell(watch, app, chat, metrics))
        elif now - watch.ends > DONE_KEPT_S:
            await store.drop(watch.id)


async def _place(store: WatchStore, watches: list[Watch], change: Watched, app: Application, metrics: Metrics) -> Watch:
    """The running watch of the change's environment it joins, or a new one."""
    assert metrics.watch is not None
    minutes = metrics.watch.minutes
    for watch in watches:
        if watch.option == change.option and not watch.done and change.at <= watch.ends:
            return watch.joined(change, minutes)
    return Watch(
        await store.new_id(),
        change.option,
        app.config.environment_name(change.option),
        metrics.watch.checks,
        change.at,
        change.at + minutes * 60,
        (change,),
    )


async def _read_and_tell(watch: Watch, app: Application, chat: ChatBackend, metrics: Metrics) -> Watch:
    client = app.services.prometheus() if app.services is not None else None
    if client is None:
        return watch
    flag, now = watch.changes[0].flag, time.time()
    if not watch.baselines or None in watch.baselines.values():  # not read yet, or not readable then
        before = await read_all(client, metrics.checks, watch.checks, [watch.environment], flag, at=watch.started - 1)
        watch = replace(watch, baselines={r.check: r.value for r in before})
    readings = await read_all(client, metrics.checks, watch.checks, [watch.environment], flag)
    last = {r.check: r.value for r in readings}
    errors = {r.check: r.error or "no data (the query finds no series)" for r in readings if r.value is None}
    final = now >= watch.ends
    watch = replace(_judged(watch, readings, metrics), last=last, errors=errors, read_at=now, done=final)
    chart = await _chart(watch, app, metrics) if final else None
    return await _tell(watch, app, chat, final=final, chart=chart)


def _judged(watch: Watch, readings: list[Reading], metrics: Metrics) -> Watch:
    """The watch with each check's failing streak, its worst failing value, and the checks whose
    streak reached ``failure_limit`` (one noisy reading is not a warning)."""
    failing, worst, streak = list(watch.failing), dict(watch.worst), dict(watch.streak)
    for reading in readings:
        check = metrics.checks[reading.check]
        bad = judge(check, watch.baselines.get(reading.check), reading) == "failing"
        streak[reading.check] = streak.get(reading.check, 0) + 1 if bad else 0
        if bad and reading.value is not None:
            old = worst.get(reading.check, reading.value)
            higher = check.worse_when == "higher"
            worst[reading.check] = max(old, reading.value) if higher else min(old, reading.value)
        if streak[reading.check] >= metrics.failure_limit and reading.check not in failing:
            failing.append(reading.check)
    return replace(watch, failing=tuple(failing), worst=worst, streak=streak)


async def _tell(watch: Watch, app: Application, chat: ChatBackend, *, final: bool, chart: Chart | None) -> Watch:
    """Post or update each change's reply; the watch with their references."""
    refs = app.ports.get(POST_REFS)
    changes = []
    for member in watch.changes:
        thread = await refs.find(member.post) if refs is not None else None
        if thread is None and time.time() - member.at < THREAD_WAIT_S and not final:
            changes.append(member)  # its post is still on its way: reply next round
            continue
        channel = _channel(thread, app)
        post = watch_post(watch, member, app.config, channel=channel, thread=thread or "", final=final, chart=chart)
        try:
            member = replace(member, reply=await chat.post(post))
        except PostFailed as error:
            _log.error("watch.post_failed", watch=watch.id, flag=member.flag, error=str(error)[:200])
        changes.append(member)
    return replace(watch, changes=tuple(changes))


def _channel(thread: str | None, app: Application) -> str:
    """The channel of the change's post (a Slack reference is ``CHANNEL|TS``), else the log channel."""
    channel = (thread or "").partition("|")[0]
    if channel[:1] in ("C", "G", "D") and channel.isalnum():
        return channel
    return app.config.slack.log_channel or channel or "log channel"


async def _chart(watch: Watch, app: Application, metrics: Metrics) -> Chart | None:
    """The final chart, up to the final reading (the dashboard draws the watch up to the same moment)."""
    client = app.services.prometheus() if app.services is not None else None
    return await watch_chart(client, metrics, watch, end=watch.read_at) if client is not None else None
