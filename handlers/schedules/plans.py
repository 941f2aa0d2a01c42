"""Planning ``feature schedule list|cancel ID`` (and a schedule's Cancel button)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.core.arguments import no_more, short
from handlers.core.context import Context, Unscoped
from handlers.core.parsing import Invocation, UsageError

__all__ = ["ScheduleCancel", "ScheduleList", "SchedulePlan", "cancel_button_plan", "plan_schedule"]

_SCHEDULE_ID = re.compile(r"S[0-9]{1,12}")


@dataclass(frozen=True, slots=True)
class ScheduleList(Unscoped):
    """``feature schedule list``."""


@dataclass(frozen=True, slots=True)
class ScheduleCancel(Unscoped):
    """``feature schedule cancel ID``: who may cancel is checked against the schedule found."""

    schedule_id: str


SchedulePlan = ScheduleList | ScheduleCancel


def plan_schedule(invocation: Invocation, context: Context) -> SchedulePlan:
    return _plan(invocation.arguments)


def cancel_button_plan(value: str, context: Context) -> SchedulePlan:
    """The plan of a schedule's Cancel button: its value is the schedule id."""
    return _plan(("cancel", value[:40]))


def _plan(args: tuple[str, ...]) -> SchedulePlan:
    action = args[0] if args else ""
    if action == "list":
        no_more(args, 1, "`feature schedule list` takes nothing more.")
        return ScheduleList()
    if action == "cancel":
        if len(args) < 2:
            raise UsageError("`feature schedule cancel` needs a schedule id, e.g. `S3`: see `feature schedule list`.")
        no_more(args, 2, "`feature schedule cancel` takes one schedule id, e.g. `S3`.")
        if not _SCHEDULE_ID.fullmatch(args[1]):
            raise UsageError(
                f"`{short(args[1])}` is not a schedule id: they look like `S3` (see `feature schedule list`)."
            )
        return ScheduleCancel(args[1])
    raise UsageError("`feature schedule` takes `list` or `cancel ID`: e.g. `/chatops run feature schedule list`.")
