"""Times as people read them in chat: an absolute UTC time and how long ago it was."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["ago", "clock", "span", "utc"]


def utc(moment: datetime | float, *, seconds: bool = False) -> str:
    """``2026-12-01 09:30 UTC``; with ``seconds`` (for what spans less than an hour) ``09:30:12``."""
    value = moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def clock(moment: float, now: float | None = None) -> str:
    """A time in a few characters, for a badge: ``14:30`` on the same UTC day as ``now``, else
    ``12-01 14:30`` (UTC both; the whole time goes in the badge's words)."""
    value = datetime.fromtimestamp(moment, UTC)
    today = datetime.fromtimestamp(now if now is not None else time.time(), UTC).date()
    return value.strftime("%H:%M" if value.date() == today else "%m-%d %H:%M")


def ago(moment: float, now: float | None = None) -> str:
    seconds = max(0.0, (now if now is not None else time.time()) - moment)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def span(seconds: float) -> str:
    """A duration for people: ``45 s``, ``30 min``, ``2 h``, ``1 h 30 min``, ``3 days``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{hours / 24:.0f} days"
