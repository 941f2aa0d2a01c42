"""Time ticks a person reads, for a chart drawn by hand (the flag page's exposure chart): a step
chosen for the span shown, from seconds to weeks, ticks on round UTC times (whole minutes, hours,
midnights, Mondays), and labels as precise as the step (seconds only when ticks are seconds
apart, the date where the day changes)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["DAY", "MINUTE", "WEEK", "moment_label", "tick_label", "time_ticks"]

MINUTE, HOUR, DAY, WEEK = 60, 3600, 86400, 7 * 86400
_STEPS = (
    *(1, 2, 5, 10, 15, 30),
    *(MINUTE * n for n in (1, 2, 5, 10, 15, 30)),
    *(HOUR * n for n in (1, 2, 3, 6, 12)),
    *(DAY * n for n in (1, 2)),
    *(WEEK * n for n in (1, 2, 4)),
)
_MONDAY = 4 * DAY  # 1970-01-05, the first Monday after the epoch: weeks start there


def time_ticks(start: float, end: float, most: int) -> tuple[int, list[float]]:
    """The step (seconds) and the ticks between ``start`` and ``end``: the smallest round step
    giving at most ``most`` ticks (whole weeks beyond the list)."""
    span = max(end - start, 1.0)
    step = next((s for s in _STEPS if span / s <= most), None)
    if step is None:
        step = WEEK * math.ceil(span / (WEEK * most))
    origin = _MONDAY if step >= WEEK else 0
    first = origin + math.ceil((start - origin) / step) * step
    return step, [float(t) for t in range(int(first), int(end) + 1, step)]


def tick_label(at: float, step: int, previous: float | None) -> str:
    """``12:04:30`` (seconds apart), ``12:04`` (or ``27 Nov 00:00`` where the day changes, and on
    the first tick), ``27 Nov`` (days or weeks apart)."""
    moment = datetime.fromtimestamp(at, UTC)
    if step >= DAY:
        return moment.strftime("%d %b").lstrip("0")
    clock = moment.strftime("%H:%M:%S" if step < MINUTE else "%H:%M")
    new_day = previous is None or datetime.fromtimestamp(previous, UTC).date() != moment.date()
    return f"{moment.strftime('%d %b').lstrip('0')} {clock}" if new_day else clock


def moment_label(at: float, *, seconds: bool, dated: bool) -> str:
    """When a change happened, as its mark's name says it: ``12:04 UTC``, ``12:04:30 UTC`` or
    ``26 Nov 2026 12:04 UTC`` (``dated``: the chart spans more than one day)."""
    moment = datetime.fromtimestamp(at, UTC)
    clock = moment.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{moment.strftime('%d %b %Y').lstrip('0')} {clock} UTC" if dated else f"{clock} UTC"
