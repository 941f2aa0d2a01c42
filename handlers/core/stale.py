"""Flags ready to be cleaned up: fully on, or fully off, on every environment for more than
``cleanup.days``, or whose definition's milestone is ``cleanup.milestones`` or more behind the
newest milestone among the definitions. Chat (``feature list --stale``) and the dashboard's
cleanup filter ask the same question here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from flags import FlagRecord
from flags.definitions import Definition
from handlers.config.model import Cleanup
from handlers.core.timefmt import span, utc

__all__ = ["by_flag", "newest_milestone", "stale_reason"]

_MILESTONE = re.compile(r"^(\d+)\.(\d+)$")
MINORS_PER_MAJOR = 12  # GitLab: x.0 to x.11, then (x+1).0


def _number(milestone: str | None) -> int | None:
    found = _MILESTONE.match((milestone or "").strip())
    return int(found.group(1)) * MINORS_PER_MAJOR + int(found.group(2)) if found else None


def newest_milestone(definitions: Iterable[Definition]) -> str | None:
    known = [(n, d.milestone) for d in definitions if (n := _number(d.milestone)) is not None]
    return max(known)[1] if known else None


def stale_reason(
    records: Sequence[FlagRecord | None],
    definition: Definition | None,
    newest: str | None,
    settings: Cleanup,
    now: float,
) -> str:
    """Why this flag (read on every environment; None where it is not set) is ready to clean up,
    or "" when it is not."""
    kinds = {_kind(r) for r in records}
    if len(kinds) == 1 and "partial" not in kinds:
        times = [r.changed_at for r in records if r is not None and r.changed_at]
        if times and now - max(times) >= settings.days * 86400:
            return f"fully {kinds.pop()} everywhere since {utc(max(times))} ({span(now - max(times))})"
    behind = _behind(definition.milestone if definition is not None else None, newest)
    if behind is not None and behind >= settings.milestones:
        assert definition is not None
        return f"milestone {definition.milestone}, {behind} milestones before {newest}"
    return ""


def _kind(record: FlagRecord | None) -> str:
    if record is None or record.state.is_empty:
        return "off"
    if record.state.boolean:
        return "on"
    return "partial"


def _behind(milestone: str | None, newest: str | None) -> int | None:
    mine, latest = _number(milestone), _number(newest)
    return latest - mine if mine is not None and latest is not None else None


def by_flag(
    records: Mapping[str, Mapping[str, FlagRecord]], options: Sequence[str], name: str
) -> list[FlagRecord | None]:
    """One flag's record on each environment (by option, in order); None where it is absent."""
    return [records.get(option, {}).get(name) for option in options]
