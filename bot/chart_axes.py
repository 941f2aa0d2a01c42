"""How a chart's axes read: values by their unit (a ratio as a percentage, seconds as ms or s, a
number with an SI prefix) and times as UTC clock times chosen for the span shown, so that a person
reads a guard's chart in Slack without decoding 0.0125 or 1717430400."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import pairwise

from matplotlib.ticker import Formatter, FuncFormatter

from handlers.core.charts import Unit

__all__ = ["GAP_FACTOR", "time_format", "time_label", "value_formatter", "with_gaps"]

#: Two points further apart than this many times the usual step are a gap in the data, not a line.
GAP_FACTOR = 2.5
_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def value_formatter(unit: Unit, values: Iterable[float]) -> Formatter:
    """Tick labels for ``unit``; ``values`` (the panel's points and bounds) pick ms or s for seconds,
    one scale for the whole axis so that ticks compare at a glance."""
    if unit == "ratio":
        return FuncFormatter(lambda v, _: f"{_short(v * 100)}%")
    if unit == "seconds":
        in_ms = max((abs(v) for v in values if math.isfinite(v)), default=0.0) < 1.0
        return FuncFormatter(lambda v, _: _milliseconds(v) if in_ms else f"{_short(v)} s")
    return FuncFormatter(lambda v, _: _si(v))


def _milliseconds(value: float) -> str:
    return f"{_short(value * 1000)} ms"


def _short(value: float) -> str:
    """At most four significant digits, no trailing zeros, never ``-0`` (rounding first: ticks at
    0.1 steps arrive as 0.30000000000000004)."""
    text = f"{round(value, 9):.4g}"
    return "0" if text == "-0" else text


def _si(value: float) -> str:
    for scale, prefix in _SI_PREFIXES:
        if abs(value) >= scale:
            return f"{_short(value / scale)}{prefix}"
    return _short(value)


def time_format(span_s: float) -> str:
    """A strftime format for ticks over ``span_s`` seconds: seconds matter over minutes, the day over days."""
    if span_s <= 15 * 60:
        return "%H:%M:%S"
    if span_s <= 36 * 3600:
        return "%H:%M"
    return "%d %b %H:%M"


def time_label(start: float, end: float) -> str:
    """The time axis' label: the clock is UTC, and the date(s) it shows."""
    first, last = _utc(start), _utc(end)
    if first.date() == last.date():
        return f"Time (UTC), {_day(first)} {first:%Y}"
    return f"Time (UTC), {_day(first)} {first:%Y} to {_day(last)} {last:%Y}"


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


def _day(at: datetime) -> str:
    return f"{at.day} {at:%b}"


def with_gaps(points: Sequence[tuple[float, float]]) -> tuple[list[datetime], list[float]]:
    """Times and values to plot, with NaN where the data is missing (two points more than
    GAP_FACTOR usual steps apart), so that the line breaks instead of bridging the gap."""
    if not points:
        return [], []
    steps = sorted(b[0] - a[0] for a, b in pairwise(points))
    usual = steps[len(steps) // 2] if steps else 0.0
    times, values = [_utc(points[0][0])], [points[0][1]]
    for (before, _), (at, value) in pairwise(points):
        if usual > 0 and at - before > GAP_FACTOR * usual:
            times.append(_utc((before + at) / 2))
            values.append(math.nan)
        times.append(_utc(at))
        values.append(value)
    return times, values
