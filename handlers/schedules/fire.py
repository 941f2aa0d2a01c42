"""Running a due schedule as its author, and saying so in the channel it was made in.

A schedule may fire twice if the driver that took it died before finishing (it is taken again
after a while): what it wrote carries its id in the audit (``… (schedule S3)``), so a second
firing finds it done instead of writing again.
"""

from __future__ import annotations

from flags import AuditEntry, FlagRecord, FlagsError
from handlers.changes import ROLL_BACK_ACTION
from handlers.core import pipeline
from handlers.core.chat import ChatBackend
from handlers.core.context import Application
from handlers.core.reply import Code, CrossPost, Line, Mention, Reply, Section, line
from handlers.core.seen import Seen
from handlers.core.timefmt import span, utc
from handlers.schedules.store import Schedule

__all__ = ["fire"]


async def fire(schedule: Schedule, app: Application, chat: ChatBackend) -> CrossPost:
    """Run ``schedule``; what to post in its channel."""
    if schedule.kind == "expire":
        return await _expire(schedule, app, chat)
    return await _run(schedule, app, chat)


async def _run(schedule: Schedule, app: Application, chat: ChatBackend) -> CrossPost:
    who = Mention(schedule.who.user_id, schedule.who.user_name)
    title = line(f"Scheduled change {schedule.id} by ", who, ": ", Code(f"/chatops {schedule.text}"))
    moved: list[Line] = []
    written = 0
    for option, seen in schedule.seen.items():
        environment, store = app.config.environment(option), app.stores.get(option)
        if environment is None or store is None:
            moved.append(line(f"{option} is no longer configured."))
            continue
        try:
            record = await store.get(schedule.flag)
            newer = await store.history(schedule.flag, limit=1) if seen.changed(record) else []
        except FlagsError as error:
            return _post(schedule, title, (line(f"Did not run: could not read {environment.name} ({error})."),))
        if not seen.changed(record):
            continue
        if newer and newer[0].command.endswith(schedule.origin):
            written += 1  # this schedule wrote it already (its driver died before saying so)
            continue
        moved.append(_moved(schedule, environment.name, seen, record, newer[0] if newer else None))
    if moved:
        return _post(schedule, title, (line("Did not run, so that it does not undo a newer change:"), *moved))
    if written:
        return _post(schedule, title, (line("It had already run; not run again."),))
    approved_by = schedule.approved_by
    reply = await pipeline.run_kept(
        schedule.plan, schedule.text, schedule.who, app, chat, origin=schedule.origin, approved_by=approved_by, due=True
    )
    return _post(schedule, title, reply.all_lines(), reply)


def _moved(schedule: Schedule, where: str, seen: Seen, now: FlagRecord, newer: AuditEntry | None) -> Line:
    """How the flag changed on ``where`` since ``schedule`` was made; by whom, when this bot wrote it."""
    changed = f"{schedule.flag} changed on {where} since it was scheduled ({seen.since(now)})"
    if newer is None or newer.after != now.state:  # another writer (Flipper, a console): no audit entry
        return line(changed + ".")
    who = Mention(newer.who_id, newer.who) if newer.who_id else newer.who
    return line(changed, ": ", Code(newer.description), " by ", who, f" at {utc(newer.at)}.")


async def _expire(schedule: Schedule, app: Application, chat: ChatBackend) -> CrossPost:
    who = Mention(schedule.who.user_id, schedule.who.user_name)
    lasted = span(schedule.due - schedule.created_at)
    title = line(f"Time box {schedule.id} of ", Code(schedule.flag), " by ", who, f" expired after {lasted}")
    lines: list[Line] = []
    actions = []
    for option, entry in schedule.entries.items():
        store = app.stores.get(option)
        if store is not None:
            try:
                latest = await store.history(schedule.flag, limit=1)
            except FlagsError:
                latest = []
            if latest and latest[0].command == f"Roll back button on change {entry}{schedule.origin}":
                lines.append(line(f"{option}: already restored."))
                continue
        value = f"{option}|{schedule.flag}|{entry}"
        reply = await pipeline.press(ROLL_BACK_ACTION, value, schedule.who, app, chat, origin=schedule.origin)
        lines += reply.all_lines()
        actions += list(reply.actions)
    return _post(schedule, title, tuple(lines), Reply(True, "", (), actions=tuple(actions)))


def _post(schedule: Schedule, title: Line, lines: tuple[Line, ...], reply: Reply | None = None) -> CrossPost:
    summary = f"{schedule.id}: " + (reply.summary if reply is not None and reply.summary else "scheduled change")
    return CrossPost(
        schedule.who.channel_id,
        "scheduled change",
        (Section(lines, title),),
        summary,
        reply.actions if reply is not None else (),
    )
