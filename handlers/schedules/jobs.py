"""What schedules give the driver and the other capabilities: running a due scheduled change (its
timer records are ``S…``), and cancelling the pending ones of a killed flag."""

from __future__ import annotations

import structlog

from handlers.core.chat import ChatBackend
from handlers.core.context import Application, Context
from handlers.core.driver import post_all
from handlers.core.reply import Line, line
from handlers.schedules.fire import fire
from handlers.schedules.store import SCHEDULE_STORE, Schedule

__all__ = ["DueSchedules", "PendingSchedules"]

_log = structlog.get_logger("chatops.driver")


class DueSchedules:
    """A due scheduled change: run as its author (or its time box ended), said where it was made."""

    prefix = "S"

    async def run(self, record_id: str, record: str, token: int, app: Application, chat: ChatBackend) -> None:
        schedule = Schedule.from_json(record)
        post = await fire(schedule, app, chat)
        await post_all(chat, [post], schedule=schedule.id)
        await app.ports.need(SCHEDULE_STORE).timers.done(token, schedule.id)
        _log.info("driver.fired", schedule=schedule.id, kind=schedule.kind, flag=schedule.flag)


class PendingSchedules:
    """A killed flag's pending schedules are cancelled, so that none turns it back on."""

    async def stop_for(self, flag: str, why: str, context: Context) -> list[Line]:
        store = context.app.ports.need(SCHEDULE_STORE)
        notes: list[Line] = []
        for schedule in await store.pending():
            if schedule.flag == flag and await store.cancel(schedule.id) is not None:
                notes.append(line(f"Schedule {schedule.id} ({schedule.summary}) is cancelled."))
        return notes
