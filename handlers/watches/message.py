"""A watch's reply in the thread of a change's post: what moved since the change, in plain words;
a warning with an Undo button when a check broke its bound; final, with a chart, at the end."""

from __future__ import annotations

import time

from handlers.changes.telling import undo_action
from handlers.checks.metric_checks import display_name, limit_of, shown
from handlers.config import Config
from handlers.config.metrics import Metrics
from handlers.core.charts import Chart
from handlers.core.reply import Action, Code, CrossPost, Line, Mention, Section, line, plain
from handlers.core.timefmt import span
from handlers.watches.store import Watch, Watched

__all__ = ["watch_post"]


def _clock(moment: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(moment))


def _moves(watch: Watch, metrics: Metrics, names: tuple[str, ...], *, worst: bool) -> list[str]:
    """``error ratio 0.41% → 0.43%`` for each of ``names`` (the worst reading, for a failing check)."""
    said = []
    for name in names:
        check = metrics.checks.get(name)
        if check is None:
            continue
        now = watch.worst.get(name) if worst else watch.last.get(name)
        said.append(f"{display_name(name)} {shown(check, watch.baselines.get(name))} → {shown(check, now)}")
    return said


def _title(watch: Watch, member: Watched, metrics: Metrics, *, final: bool) -> Line:
    minutes = span(watch.ends - member.at)
    readable = tuple(n for n in watch.checks if n not in watch.errors and watch.last.get(n) is not None)
    if watch.failing:
        moved = ", ".join(_moves(watch, metrics, watch.failing, worst=True))
        return line(
            f":warning: {moved} on {watch.environment} since this change — ", Mention(member.user_id, member.who)
        )
    if not readable:
        return line(f"Could not read the metric checks on {watch.environment} after this change")
    moved = ", ".join(_moves(watch, metrics, readable, worst=False))
    if final:
        return line(
            f"No change in {moved.replace(', ', '; ')} on {watch.environment} in the {minutes} after this change"
        )
    return line(f"Watching {watch.environment} until {_clock(watch.ends)}: {moved} so far")


def _details(watch: Watch, member: Watched, metrics: Metrics, *, final: bool) -> list[Line]:
    lines: list[Line] = []
    for name in watch.failing:
        check = metrics.checks.get(name)
        if check is not None:
            limit = limit_of(check, watch.baselines.get(name))
            now = shown(check, watch.last.get(name))
            lines.append(line(f"{display_name(name)}: bound {shown(check, limit)}, now {now}."))
    lines += [line(f"Could not read {display_name(n)}: {why}") for n, why in watch.errors.items()]
    others = [c for c in watch.changes if c.entry_id != member.entry_id]
    if others:
        said = "; ".join(f"{c.flag} {c.before} → {c.after} by {c.who} at {_clock(c.at)}" for c in others)
        lines.append(line(f"Watched together with the other changes on {watch.environment} close to it: {said}."))
    lines.append(
        line("Final: the watch has ended." if final else f"Updated {_clock(watch.read_at)}; ends {_clock(watch.ends)}.")
    )
    return lines


def watch_post(
    watch: Watch,
    member: Watched,
    config: Config,
    *,
    channel: str,
    thread: str,
    final: bool,
    chart: Chart | None,
) -> CrossPost:
    """The reply for ``member`` (a new thread reply, or an update of the one posted before)."""
    metrics = config.metrics
    assert metrics is not None
    actions: tuple[Action, ...] = ()
    environment = config.environment(member.option)
    if watch.failing and environment is not None:
        actions = (undo_action(environment, member.flag, member.before, member.after, member.entry_id),)
    title = _title(watch, member, metrics, final=final)
    summary = plain(title)
    section = Section(tuple(_details(watch, member, metrics, final=final)), title=title)
    notes = (line("Watch of ", Code(member.flag), f" on {watch.environment} ({watch.id})"),)
    return CrossPost(
        channel,
        "watch",
        (section,),
        summary[:150],
        actions=actions,
        thread=thread,
        replaces=member.reply,
        notes=notes,
        chart=chart,
    )
