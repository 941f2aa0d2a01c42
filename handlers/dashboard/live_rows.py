"""The flags page's rows from live snapshots of every environment, kept between pages and
brought up to date flag by flag: a change to one flag works out one row again, not ten thousand.
While an environment's Redis cannot be read, its cells say "unknown" and since when, not the
snapshot's last states (which would look current)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from flags import FlagState
from handlers.core.context import Application
from handlers.core.timefmt import utc
from handlers.dashboard.cells import NOT_SET, Cell, Row, cell_of, unknown_since

__all__ = ["LiveEnvironment", "LiveRows"]


class LiveEnvironment(Protocol):
    """An environment's flags kept in memory (the flags SDK's snapshot client)."""

    def names(self) -> list[str]: ...

    def state(self, name: str) -> FlagState | None: ...

    def changed_since(self, version: int) -> frozenset[str] | None: ...

    @property
    def version(self) -> int: ...

    @property
    def loaded_at(self) -> float | None: ...

    @property
    def stale(self) -> bool: ...


class LiveRows:
    def __init__(self, live: Mapping[str, LiveEnvironment]) -> None:
        self._live = live
        self._definitions: object = None  # the definitions the rows were made with (by identity)
        self._versions: dict[str, int] = {}
        self._rows: dict[str, Row] = {}
        self._order: list[str] = []
        self._unknown: dict[str, Cell] = {}  # option → the cell of every flag there while it cannot be read
        self.rows: tuple[Row, ...] = ()  # the same tuple until a state changes

    def ready(self, app: Application) -> bool:
        """Whether every environment's snapshot has been read whole at least once (until then the
        page reads Redis, where an environment that cannot be read says "unknown", not "not set")."""
        return all(
            e.option in self._live and self._live[e.option].loaded_at is not None for e in app.config.environments
        )

    def last_read(self, option: str) -> float | None:
        """When the environment's snapshot was last read whole (None: never, or no snapshot)."""
        live = self._live.get(option)
        return live.loaded_at if live is not None else None

    def update(self, app: Application) -> dict[str, str]:
        """Bring ``rows`` up to date; the environments that cannot be read now, and why."""
        options = [e.option for e in app.config.environments]
        unknown = {o: unknown_since(self._live[o].loaded_at) for o in options if self._live[o].stale}
        changed: set[str] | None = None
        if self._definitions is app.definitions and set(self._versions) == set(options) and unknown == self._unknown:
            changed = set()
            for option in options:
                since = self._live[option].changed_since(self._versions[option])
                if since is None:
                    changed = None
                    break
                changed |= since
        if changed is None:
            self._unknown = unknown
            self._rebuild(app, options)
        elif changed:
            self._refresh(app, options, changed)
        return {
            app.config.environment_name(option): f"its Redis cannot be read now (last read {_when(cell.read_at)})"
            for option, cell in unknown.items()
        }

    def _row(self, app: Application, options: list[str], name: str) -> Row | None:
        states = [self._live[o].state(name) for o in options]
        if name not in app.definitions and all(s is None for s in states):
            return None  # deleted everywhere and not defined
        unknown = self._unknown
        cells = tuple(
            unknown[o] if o in unknown else NOT_SET if s is None else cell_of(s)
            for o, s in zip(options, states, strict=True)
        )
        return Row(name, app.definitions.get(name), cells)

    def _rebuild(self, app: Application, options: list[str]) -> None:
        self._versions = {o: self._live[o].version for o in options}
        names = set(app.definitions)
        for option in options:
            names.update(self._live[option].names())
        self._rows = {n: row for n in names if (row := self._row(app, options, n)) is not None}
        self._order = sorted(self._rows)
        self._definitions = app.definitions
        self.rows = tuple(self._rows[n] for n in self._order)

    def _refresh(self, app: Application, options: list[str], names: set[str]) -> None:
        self._versions = {o: self._live[o].version for o in options}
        reorder = False
        for name in names:
            row = self._row(app, options, name)
            if row is None:
                reorder |= self._rows.pop(name, None) is not None
            else:
                reorder |= name not in self._rows
                self._rows[name] = row
        if reorder:
            self._order = sorted(self._rows)
        self.rows = tuple(self._rows[n] for n in self._order)


def _when(read_at: float | None) -> str:
    return utc(read_at, seconds=True) if read_at is not None else "never"
