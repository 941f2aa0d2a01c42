"""What each dashboard page shows, read from Redis and the definitions (never written).

Every environment is read at once; one that cannot be read is named on the page and its cells
say "unknown" (and since when) — the rest of the page still shows.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from redis.exceptions import RedisError

from flags import AuditEntry, FlagRecord, FlagsError, FlagState
from flags.definitions import Definition
from handlers.config import Environment
from handlers.core.charts import Chart
from handlers.core.context import Application
from handlers.core.freezes import FREEZES, Freeze
from handlers.core.recent_charts import RECENT_METRIC_CHARTS
from handlers.core.stale import by_flag, newest_milestone, stale_reason
from handlers.dashboard.cell_activity import CellActivity, cell_activity
from handlers.dashboard.cells import NOT_SET, UNKNOWN, Cell, Kind, Row, cell, cell_of, exposure, unknown_since
from handlers.dashboard.change_times import ChangeTimes, latest_of, records_times
from handlers.dashboard.live_rows import LiveRows
from handlers.dashboard.query import FlagsQuery
from handlers.dashboard.selection import Paged, matching, ordered

__all__ = ["EVERY_FLAG", "FlagPage", "FlagsPage", "Point", "flag_page", "flags_page"]


EVERY_FLAG = FlagsQuery()  # no filter, by name, the first page


@dataclass(frozen=True, slots=True)
class FlagsPage:
    environments: tuple[Environment, ...]
    rows: tuple[Row, ...]  # this page's rows
    unreachable: dict[str, str]  # environment name → why it could not be read
    total: int  # every flag, before filtering
    query: FlagsQuery = EVERY_FLAG
    matched: int = 0  # the rows the filters let through
    page: int = 1
    pages: int = 1
    first: int = 1  # the number of the page's first row among those matched
    source: Literal["snapshot", "redis"] = "redis"  # where the states came from
    note: str = ""  # why rows are missing (the cleanup filter with an environment unread)
    changed: dict[str, float] = field(default_factory=dict)  # the page's flags: when each last changed
    activity: CellActivity = field(default_factory=dict)  # (flag, option) → what is going on there
    activity_unread: tuple[str, ...] = ()  # what of that could not be read, and why
    now: float = 0.0


async def _read_all(app: Application) -> tuple[dict[str, dict[str, FlagRecord]], dict[str, str]]:
    environments = app.config.environments

    async def read(environment: Environment) -> dict[str, FlagRecord] | str:
        try:
            return {r.name: r for r in await app.stores[environment.option].list()}
        except FlagsError as error:
            return str(error)

    found = await asyncio.gather(*(read(e) for e in environments))
    records = {e.option: r for e, r in zip(environments, found, strict=True) if isinstance(r, dict)}
    unreachable = {e.name: r for e, r in zip(environments, found, strict=True) if isinstance(r, str)}
    return records, unreachable


async def flags_page(
    app: Application,
    query: FlagsQuery = EVERY_FLAG,
    *,
    live: LiveRows | None = None,
    times: ChangeTimes | None = None,
) -> FlagsPage:
    """One page of the flags, one cell per environment, filtered, sorted and paged as ``query``
    asks, with what is going on in its cells. With ``live`` snapshots of every environment the
    states come from memory (and the change times from ``times``, kept up to date); the cleanup
    filter, which needs when each flag last changed on each environment, always reads Redis."""
    now, environments = time.time(), app.config.environments
    records: dict[str, dict[str, FlagRecord]] = {}
    source: Literal["snapshot", "redis"] = "redis"
    if live is not None and not query.cleanup and live.ready(app):
        source, unreachable, all_rows = "snapshot", live.update(app), live.rows
        if times is not None:
            await times.refresh(app, [e.option for e in environments if e.name not in unreachable])
        changed = times.latest if times is not None else {}
    else:
        records, unreachable = await _read_all(app)
        all_rows = _rows(app, {o: {n: r.state for n, r in found.items()} for o, found in records.items()}, live)
        changed = latest_of(records_times(found.values()) for found in records.values())
    rows, note = _cleanup(app, all_rows, records, unreachable, now) if query.cleanup else (all_rows, "")
    rows = ordered(matching(rows, query, [e.name for e in environments], changed, now), query, changed)
    page = Paged(rows, query.page)
    readable = [e.option for e in environments if e.name not in unreachable]
    activity, unread = await cell_activity(app, [r.name for r in page.rows], readable)
    return FlagsPage(
        environments=tuple(environments),
        rows=page.rows,
        unreachable=unreachable,
        total=len(all_rows),
        query=query,
        matched=page.matched,
        page=page.page,
        pages=page.pages,
        first=page.first,
        source=source,
        note=note,
        changed={r.name: changed[r.name] for r in page.rows if r.name in changed},
        activity=activity,
        activity_unread=unread,
        now=now,
    )


def _cleanup(
    app: Application,
    rows: Sequence[Row],
    records: Mapping[str, Mapping[str, FlagRecord]],
    unreachable: Mapping[str, str],
    now: float,
) -> tuple[Sequence[Row], str]:
    """The rows ready to clean up, each with why; none while an environment cannot be read
    ("off everywhere" cannot be told from "could not read")."""
    if unreachable:
        return [], "Which flags to clean up cannot be told while an environment cannot be read."
    options = [e.option for e in app.config.environments]
    newest, settings = newest_milestone(app.definitions.values()), app.config.cleanup
    return [
        replace(r, cleanup=reason)
        for r in rows
        if (reason := stale_reason(by_flag(records, options, r.name), r.definition, newest, settings, now))
    ], ""


def _rows(app: Application, states: Mapping[str, Mapping[str, FlagState]], live: LiveRows | None) -> tuple[Row, ...]:
    """Rows from states read just now; an environment not read says unknown, and when its live
    snapshot (if any) last read it."""
    environments = app.config.environments
    unknown = {
        e.option: unknown_since(live.last_read(e.option) if live is not None else None)
        for e in environments
        if e.option not in states
    }
    names = sorted(set(app.definitions) | {n for by_name in states.values() for n in by_name})
    return tuple(
        Row(
            flag,
            app.definitions.get(flag),
            tuple(
                (cell_of(s) if (s := states[e.option].get(flag)) is not None else NOT_SET)
                if e.option in states
                else unknown[e.option]
                for e in environments
            ),
        )
        for flag in names
    )


@dataclass(frozen=True, slots=True)
class Point:
    """One change on the chart: when, how exposed after it, and what the audit entry says."""

    at: float
    kind: Kind
    share: float
    entry: AuditEntry
    step: str = ""  # "R1 step 2/4" when a rollout's step wrote it


_ROLLOUT_STEP = re.compile(r"\(rollout (R\d+) step (\d+/\d+)")


@dataclass(frozen=True, slots=True)
class FlagPage:
    name: str
    definition: Definition | None
    environments: tuple[Environment, ...]
    cells: tuple[Cell, ...]
    series: dict[str, list[Point]]  # environment name → its changes, oldest first
    history: list[AuditEntry]  # every environment's, newest first
    unreachable: dict[str, str] = field(default_factory=dict)
    now: float = 0.0
    charts: tuple[Chart, ...] = ()  # the metric charts of its recent watched changes, newest first
    freezes: dict[str, list[Freeze]] = field(default_factory=dict)  # environment name → its freezes in force
    freezes_unread: str = ""  # why the freezes could not be read ("" when they were)


HISTORY_LIMIT = 1000  # changes read per environment for the chart and the table
RECENT_CHARTS = 3  # the flag's recent watches whose charts the page shows


async def _recent_charts(app: Application, name: str) -> list[Chart]:
    """The charts its recent watches posted; none without metrics or a watches capability."""
    recent = app.ports.get(RECENT_METRIC_CHARTS)
    return await recent.for_flag(name, RECENT_CHARTS) if recent is not None else []


async def _freezes(app: Application) -> dict[str, list[Freeze]] | str:
    """The freezes in force by environment name (the freezes capability keeps them; lifted ones
    are not kept, so the chart marks those in force); why not, when they cannot be read."""
    view = app.ports.get(FREEZES)
    if view is None:
        return {}
    try:
        active = await view.active()
    except (RedisError, OSError, ValueError, KeyError) as error:  # ValueError, KeyError: a record written by hand
        return str(error) or type(error).__name__
    names = {e.option: e.name for e in app.config.environments}
    found: dict[str, list[Freeze]] = {}
    for freeze in active:
        if freeze.option in names:
            found.setdefault(names[freeze.option], []).append(freeze)
    return found


async def flag_page(app: Application, name: str) -> FlagPage | None:
    """A flag's definition, state and changes per environment, and the metric charts of its recent
    watched changes (read together); None when nothing knows the name."""
    environments = app.config.environments

    async def read(environment: Environment) -> tuple[FlagRecord, list[AuditEntry]] | str:
        store = app.stores[environment.option]
        try:
            return await store.get(name), await store.history(name, limit=HISTORY_LIMIT)
        except (FlagsError, ValueError) as error:  # ValueError: an audit entry written by hand, malformed
            return str(error)

    found, charts, freezes = await asyncio.gather(
        asyncio.gather(*(read(e) for e in environments)), _recent_charts(app, name), _freezes(app)
    )
    cells: list[Cell] = []
    series: dict[str, list[Point]] = {}
    history: list[AuditEntry] = []
    unreachable: dict[str, str] = {}
    for environment, result in zip(environments, found, strict=True):
        if isinstance(result, str):
            cells.append(UNKNOWN)
            unreachable[environment.name] = result
            continue
        record, entries = result
        cells.append(cell(record))  # "not set" when it is not there at all
        series[environment.name] = [_point(e) for e in reversed(entries)]
        history += entries
    definition = app.definitions.get(name)
    anywhere = any(isinstance(r, tuple) and (r[0].exists or not r[0].state.is_empty) for r in found)
    if definition is None and not history and not anywhere:
        return None
    history.sort(key=lambda e: e.at, reverse=True)
    return FlagPage(
        name,
        definition,
        tuple(environments),
        tuple(cells),
        series,
        history,
        unreachable,
        time.time(),
        tuple(charts),
        freezes if isinstance(freezes, dict) else {},
        freezes if isinstance(freezes, str) else "",
    )


def _point(entry: AuditEntry) -> Point:
    kind, share = exposure(entry.after)
    step = _ROLLOUT_STEP.search(entry.command)
    return Point(entry.at.timestamp(), kind, share, entry, f"{step[1]} step {step[2]}" if step else "")
