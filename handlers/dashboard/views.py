"""What each dashboard page shows, read from Redis and the definitions (never written).

Every environment is read at once; one that cannot be read is named on the page and its cells
say "unknown" — the rest of the page still shows.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
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
from handlers.dashboard.cells import NOT_SET, UNKNOWN, Cell, Kind, Row, cell, cell_of, exposure
from handlers.dashboard.live_rows import LiveRows

__all__ = ["FlagPage", "FlagsPage", "Point", "flag_page", "flags_page"]


@dataclass(frozen=True, slots=True)
class FlagsPage:
    environments: tuple[Environment, ...]
    rows: tuple[Row, ...]
    unreachable: dict[str, str]  # environment name → why it could not be read
    total: int  # rows before filtering
    source: Literal["snapshot", "redis"] = "redis"  # where the states came from
    note: str = ""  # why rows are missing (the cleanup filter with an environment unread)


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
    *,
    name: str = "",
    group: str = "",
    kind: str = "",
    milestone: str = "",
    cleanup: bool = False,
    live: LiveRows | None = None,
) -> FlagsPage:
    """Every flag in Redis or in a definition, one cell per environment, filtered. With ``live``
    snapshots of every environment the states come from memory; the cleanup filter, which needs
    when each flag last changed, always reads Redis."""
    environments = app.config.environments
    source: Literal["snapshot", "redis"] = "redis"
    records: dict[str, dict[str, FlagRecord]] = {}
    if live is not None and not cleanup and live.ready(app):
        source = "snapshot"
        unreachable = live.update(app)
        all_rows = live.rows
    else:
        records, unreachable = await _read_all(app)
        all_rows = _rows(app, {o: {n: r.state for n, r in found.items()} for o, found in records.items()})
    total = len(all_rows)
    if not (cleanup or name or group or kind or milestone):
        return FlagsPage(tuple(environments), all_rows, unreachable, total, source)  # the kept tuple itself
    rows: list[Row] | tuple[Row, ...] = all_rows
    note = ""
    if cleanup and unreachable:  # "off everywhere" cannot be told from "could not read"
        rows, note = [], "Which flags to clean up cannot be told while an environment cannot be read."
    elif cleanup:
        options = [e.option for e in environments]
        newest, now, settings = newest_milestone(app.definitions.values()), time.time(), app.config.cleanup
        rows = [
            replace(r, cleanup=reason)
            for r in rows
            if (reason := stale_reason(by_flag(records, options, r.name), r.definition, newest, settings, now))
        ]
    rows = [
        r
        for r in rows
        if (not name or name.lower() in r.name.lower())
        and (not group or (r.definition is not None and group.lower() in r.definition.group.lower()))
        and (not kind or (r.definition is not None and r.definition.type == kind))
        and (not milestone or (r.definition is not None and (r.definition.milestone or "") == milestone))
    ]
    return FlagsPage(tuple(environments), tuple(rows), unreachable, total, source, note)


def _rows(app: Application, states: Mapping[str, Mapping[str, FlagState]]) -> tuple[Row, ...]:
    environments = app.config.environments
    names = sorted(set(app.definitions) | {n for by_name in states.values() for n in by_name})
    return tuple(
        Row(
            flag,
            app.definitions.get(flag),
            tuple(
                (cell_of(s) if (s := states[e.option].get(flag)) is not None else NOT_SET)
                if e.option in states
                else UNKNOWN
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
