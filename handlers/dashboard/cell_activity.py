"""What is going on in each cell of a page of flags, asked of every capability that knows
(``FLAG_ACTIVITY``: rollouts, approvals, freezes, kills) at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from handlers.core.context import Application
from handlers.core.flag_activity import FLAG_ACTIVITY, Activity

__all__ = ["CellActivity", "cell_activity"]

#: (flag, environment option) → what is going on there, in the order the capabilities answered.
CellActivity = dict[tuple[str, str], tuple[Activity, ...]]


async def cell_activity(
    app: Application, flags: Sequence[str], options: Sequence[str]
) -> tuple[CellActivity, tuple[str, ...]]:
    """Each cell's activity (a freeze on every cell of its environment), and what could not be read."""
    if not flags or not options:
        return {}, ()
    answers = await asyncio.gather(*(p.about(app, flags, options) for p in app.ports.all(FLAG_ACTIVITY)))
    found: dict[tuple[str, str], list[Activity]] = {}
    for answer in answers:
        for activity in answer.found:
            for flag in [activity.flag] if activity.flag else flags:
                found.setdefault((flag, activity.option), []).append(activity)
    unread = tuple(a.unread for a in answers if a.unread)
    return {cell: tuple(found_there) for cell, found_there in found.items()}, unread
