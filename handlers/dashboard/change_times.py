"""When each flag last changed on any environment, for the flags page's "last change" column,
its sort by it and its "changed since" filter — without reading ten thousand audit streams.

Each environment is read whole once (``list``: every flag's ``changed_at``), then kept up to date
from the environment's own audit stream, reading only the entries since the newest one read: a
page costs one short read per environment. Changes through the bot are what is timed (Flipper's
layout keeps no time; a flag set by other means has none until the bot changes it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence

from flags import AuditEntry, FlagRecord, FlagsError
from flags.adapter import entry_id_parts
from handlers.core.context import Application

__all__ = ["ChangeTimes", "latest_of", "records_times"]

#: Entries read per environment per refresh; when more arrived, the environment is read whole again.
READ_LIMIT = 1000


class ChangeTimes:
    def __init__(self) -> None:
        self._at: dict[str, dict[str, float]] = {}  # option → flag → when it last changed there
        self._read_to: dict[str, float] = {}  # option → its audit stream read up to here (epoch s, by entry id)
        self._lock = asyncio.Lock()
        self.latest: dict[str, float] = {}  # flag → when it last changed on any environment

    async def refresh(self, app: Application, options: Sequence[str]) -> None:
        """Bring the times of ``options`` up to date (those that cannot be read keep what was known)."""
        async with self._lock:
            seeded = await asyncio.gather(*(self._refresh(app, option) for option in options))
            if any(seeded):
                self.latest = latest_of(self._at.values())

    async def _refresh(self, app: Application, option: str) -> bool:
        """Read ``option``'s new audit entries (or all its flags, the first time); True when read whole."""
        store = app.stores[option]
        try:
            if option in self._read_to:
                # from the millisecond of the newest entry read: only entries of that millisecond are read again
                entries = await store.changes_since(self._read_to[option], limit=READ_LIMIT)
                if len(entries) < READ_LIMIT:
                    self._note(option, entries)
                    return False
            newest = await store.changes_since(0, limit=1)  # read first: nothing after it is missed
            records = await store.list()
        except (FlagsError, ValueError):  # ValueError: an audit entry written by hand, malformed
            return False
        self._at[option] = records_times(records)
        self._read_to[option] = _entry_time(newest[0]) if newest else 0.0
        return True

    def _note(self, option: str, entries: Iterable[AuditEntry]) -> None:
        known, latest = self._at.setdefault(option, {}), self.latest
        for entry in entries:
            at = entry.at.timestamp()
            if at > known.get(entry.name, 0.0):
                known[entry.name] = at
            if at > latest.get(entry.name, 0.0):
                latest[entry.name] = at
            self._read_to[option] = max(self._read_to[option], _entry_time(entry))


def latest_of(times: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Each flag's newest time across the environments' ``times``."""
    latest: dict[str, float] = {}
    for by_flag in times:
        for name, at in by_flag.items():
            if at > latest.get(name, 0.0):
                latest[name] = at
    return latest


def records_times(records: Iterable[FlagRecord]) -> dict[str, float]:
    """When each listed flag last changed (those the bot never changed have no time)."""
    return {r.name: r.changed_at for r in records if r.changed_at is not None}


def _entry_time(entry: AuditEntry) -> float:
    parts = entry_id_parts(entry.entry_id)
    return parts[0] / 1000 if parts is not None else entry.at.timestamp()
