"""``--at``, ``--in`` and ``--for``: when a change runs, and for how long it lasts (all in UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from handlers.core.parsing import UsageError

__all__ = ["MAX_AHEAD_S", "parse_at", "parse_duration"]

MAX_AHEAD_S = 30 * 24 * 3600  # a schedule or a time box reaches at most 30 days ahead
_PART = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_duration(option: str, text: str, minimum_s: float = 1) -> float:
    """Seconds in ``30m``, ``2h``, ``1d`` or ``1h30m``; UsageError naming the option otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise UsageError(f"`--{option} {text}` is not a duration: use e.g. `30m`, `2h`, `1d` or `1h30m`.")
    seconds = float(sum(int(n) * _UNITS[u] for n, u in parts))
    if seconds < minimum_s:
        raise UsageError(f"`--{option} {text}` is too short: at least {minimum_s:g} s.")
    if seconds > MAX_AHEAD_S:
        raise UsageError(f"`--{option} {text}` is too long: at most 30 days.")
    return seconds


def parse_at(text: str, now: float) -> float:
    """The moment ``--at`` names: ``2026-12-01 09:00 UTC`` (also ``…T09:00Z``), or ``14:30``, the
    next 14:30 UTC. Times are UTC; a moment in the past or beyond 30 days is refused."""
    raw = text.strip()
    plain = re.sub(r"\s*(UTC|Z)$", "", raw, flags=re.IGNORECASE)
    moment: datetime | None = None
    clock = _CLOCK.fullmatch(plain)
    current = datetime.fromtimestamp(now, UTC)
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour < 24 and minute < 60:
            moment = current.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment.timestamp() <= now:
                moment += timedelta(days=1)
    else:
        for form in _FORMATS:
            try:
                moment = datetime.strptime(plain, form).replace(tzinfo=UTC)
                break
            except ValueError:
                continue
    if moment is None:
        raise UsageError(
            f'`--at {raw}` is not a time: use `--at "2026-12-01 09:00 UTC"` or `--at 14:30` (UTC), or `--in 2h`.'
        )
    if moment.timestamp() <= now:
        raise UsageError(f"`--at {raw}` is in the past (it is now {current:%Y-%m-%d %H:%M} UTC).")
    if moment.timestamp() - now > MAX_AHEAD_S:
        raise UsageError(f"`--at {raw}` is more than 30 days ahead.")
    return moment.timestamp()
