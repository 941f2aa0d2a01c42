"""Flags in memory: the flag store contract kept in Python dicts, for tests and for trying things without Redis.

It behaves as the Redis store does, change for change: versions, changes on condition of a
version, retried changes applied once, audit entries numbered as Redis numbers stream entries,
and stores sharing one ``MemoryBackend`` written together, all or none. Nothing is announced on
a channel, nothing is shared with other processes, and nothing outlives the process.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flags.adapter import AUDIT_PER_ENVIRONMENT, AUDIT_PER_FLAG, Write, apply_together, entry_id_parts
from flags.changes import Change, Mutation
from flags.errors import ChangeConflict
from flags.records import AuditEntry, AuditInfo, ChangeResult, FlagRecord
from flags.state import FlagState
from flags.values import FlagName

__all__ = ["MemoryBackend", "MemoryFlagStore"]

_Id = tuple[int, int]


@dataclass(slots=True)
class _Stream:
    """Audit entries by id, oldest first, as a Redis stream keeps them: each new id is greater
    than the last one, even when the clock goes back; past ``keep`` entries, the oldest go."""

    keep: int
    order: deque[_Id] = field(default_factory=deque)
    entries: dict[_Id, AuditEntry] = field(default_factory=dict)
    last: _Id = (0, 0)

    def next_id(self, ms: int) -> _Id:
        self.last = (ms, 0) if ms > self.last[0] else (self.last[0], self.last[1] + 1)
        return self.last

    def append(self, entry_id: _Id, entry: AuditEntry) -> None:
        self.order.append(entry_id)
        self.entries[entry_id] = entry
        if len(self.order) > self.keep:
            del self.entries[self.order.popleft()]

    def newest(self, limit: int, start: _Id = (0, 0)) -> list[AuditEntry]:
        """Up to ``limit`` entries from ``start`` on, newest first."""
        found: list[AuditEntry] = []
        for entry_id in reversed(self.order):
            if entry_id < start or len(found) == limit:
                break
            found.append(self.entries[entry_id])
        return found


@dataclass(slots=True)
class _Flag:
    """One flag under one prefix: its gate hash, its version and last change, its audit entries."""

    fields: dict[str, str] = field(default_factory=dict)  # Flipper's hash of the flag
    state: FlagState = field(default_factory=FlagState)  # read from ``fields`` once per change
    version: int = 0
    changed_at: float | None = None
    change_id: str = ""
    result: ChangeResult | None = None
    audit: _Stream = field(default_factory=lambda: _Stream(AUDIT_PER_FLAG))


_ABSENT = _Flag()  # what a flag never written looks like (only ever read)


@dataclass(slots=True)
class _Space:
    """Every flag under one prefix: the feature set, each flag, and the environment's audit entries."""

    features: set[str] = field(default_factory=set)
    flags: dict[str, _Flag] = field(default_factory=dict)
    audit: _Stream = field(default_factory=lambda: _Stream(AUDIT_PER_ENVIRONMENT))


class MemoryBackend:
    """What memory stores keep their flags in, one set of flags per prefix, as one Redis server
    does for its environments. Stores sharing one can be written together (``apply_together``).

    ``clock`` (epoch seconds) dates the changes and numbers their audit entries.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._spaces: dict[str, _Space] = {}

    def _space(self, prefix: str) -> _Space:
        space = self._spaces.get(prefix)
        if space is None:
            space = self._spaces[prefix] = _Space()
        return space


class MemoryFlagStore:
    """Flags of one environment in memory: a ``MemoryBackend`` (a new one by default) and an
    optional prefix. Stores with the same backend and prefix see the same flags."""

    def __init__(self, backend: MemoryBackend | None = None, *, prefix: str = "", environment: str = "") -> None:
        self._backend = backend if backend is not None else MemoryBackend()
        self._prefix = prefix
        self.environment = environment
        self._space = self._backend._space(prefix)

    @property
    def backend(self) -> MemoryBackend:
        return self._backend

    @property
    def prefix(self) -> str:
        return self._prefix

    async def close(self) -> None:
        """Nothing to let go of: the flags stay in the backend."""

    async def ping(self) -> None:
        """Memory always answers."""

    async def get(self, name: str) -> FlagRecord:
        """One flag's gates, whether it is in the feature set, and its version."""
        flag = FlagName(name).value
        found = self._space.flags.get(flag)
        if found is None:
            return FlagRecord(flag, FlagState(), False, 0)
        return FlagRecord(flag, found.state, flag in self._space.features, found.version)

    async def list(self, match: str | None = None) -> builtins.list[FlagRecord]:
        """Every flag in the feature set (sorted by name), optionally those containing ``match``."""
        names = sorted(n for n in self._space.features if not match or match in n)
        flags = self._space.flags
        return [FlagRecord(n, flags[n].state, True, flags[n].version, flags[n].changed_at) for n in names]

    async def apply(
        self,
        name: str,
        change: Change,
        audit: AuditInfo,
        *,
        expected_version: int | None = None,
        change_id: str | None = None,
    ) -> ChangeResult:
        """Apply one change and return the states before and after.

        With ``expected_version`` the change is applied only if the flag is still
        at that version; otherwise ``ChangeConflict`` is raised and nothing is written.
        Applying again with the same ``change_id`` (the default is a new one) returns the first
        result and writes nothing.
        """
        (result,) = await apply_together([Write(self, name, change, audit, expected_version, change_id)])
        return result

    async def apply_group(self, writes: Sequence[Write]) -> builtins.list[ChangeResult]:
        """Apply writes to stores sharing this store's backend as one step: all or none."""
        now = self._backend.clock()
        planned: list[_Planned] = []
        for write in writes:
            if not isinstance(write.store, MemoryFlagStore) or write.store.backend is not self._backend:
                raise ValueError("changes written together must share one MemoryBackend")
            # Each write dated when it is made, in order, as the Redis store dates its writes; the
            # entry ids are numbered from the group's one time, as Redis numbers a script's entries.
            at = now if not planned else self._backend.clock()
            planned.append(_Planned.of(write, write.store._space, at))
        for plan in planned:  # every check before any write, as the Redis script does
            plan.check()
        return [plan.replayed or plan.apply(int(now * 1000)) for plan in planned]

    async def last_change(self, name: str, change_id: str) -> ChangeResult | None:
        """The result of the change with this id, if it is the flag's last change; else None."""
        flag = FlagName(name).value
        found = self._space.flags.get(flag)
        if found is None or found.change_id != change_id or found.result is None:
            return None
        return dataclasses.replace(found.result, environment=self.environment, description="")

    async def history(self, name: str, limit: int = 10) -> builtins.list[AuditEntry]:
        """The flag's last ``limit`` changes, newest first."""
        flag = FlagName(name).value
        if limit < 1:
            raise ValueError("limit must be at least 1")
        found = self._space.flags.get(flag)
        return found.audit.newest(limit) if found is not None else []

    async def changes_since(self, since: float, limit: int = 200) -> builtins.list[AuditEntry]:
        """Every flag's changes in this environment from ``since`` (epoch seconds), newest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        return self._space.audit.newest(limit, (max(0, int(since * 1000)), 0))

    async def last_entries(self, names: Sequence[str]) -> dict[str, AuditEntry]:
        """The last audit entry of each of ``names`` that has one."""
        flags = [FlagName(name).value for name in names]
        found = ((flag, self._space.flags.get(flag)) for flag in flags)
        return {flag: newest[0] for flag, f in found if f is not None and (newest := f.audit.newest(1))}

    async def entry(self, name: str, entry_id: str) -> AuditEntry | None:
        """One audit entry of a flag by its id, or None when there is none."""
        flag = FlagName(name).value
        parts = entry_id_parts(entry_id)
        found = self._space.flags.get(flag)
        if parts is None or found is None:
            return None
        return found.audit.entries.get(parts)


@dataclass(slots=True)
class _Planned:
    """One write of a group, read and checked: once every write is planned, nothing can fail."""

    write: Write
    space: _Space
    flag: str
    mutation: Mutation
    audit_fields: dict[str, str]
    change_id: str
    version: int = 0  # the flag's version when the group was checked
    replayed: ChangeResult | None = None  # the first result of a retried change

    @classmethod
    def of(cls, write: Write, space: _Space, now: float) -> _Planned:
        change_id = write.change_id or uuid.uuid4().hex  # a new id never matches: the change is applied
        return cls(write, space, write.flag, write.change.mutation(), write.audit_fields(now), change_id)

    def check(self) -> None:
        """Find a retried change's first result, or the flag's version: ``ChangeConflict`` when it
        is not the version the write expects."""
        found = self.space.flags.get(self.flag, _ABSENT)
        if found.change_id == self.change_id and found.result is not None:
            self.replayed = dataclasses.replace(
                found.result, environment=self.write.store.environment, description=self.write.change.describe()
            )
            return
        expected = self.write.expected_version
        if expected is not None and expected != found.version:
            raise ChangeConflict(self.flag, expected, found.version, environment=self.write.store.environment)
        self.version = found.version

    def apply(self, ms: int) -> ChangeResult:
        """Write the change: the gates, the version, the last change and both audit entries."""
        space, name = self.space, self.flag
        flag = space.flags.get(name)
        if flag is None:
            flag = space.flags[name] = _Flag()
        before, before_state, existed = flag.fields, flag.state, name in space.features
        flag.fields = _mutated(before, self.mutation)
        if self.mutation.remove:
            space.features.discard(name)
        else:
            space.features.add(name)
        flag.state, exists = FlagState.from_hash(flag.fields), name in space.features
        flag.version = self.version + 1
        entry_id = flag.audit.next_id(ms)
        states = {
            "before": json.dumps(before),
            "after": json.dumps(flag.fields),
            "existed": str(int(existed)),
            "exists": str(int(exists)),
        }
        entry = AuditEntry.from_stream(_text(entry_id), {"version": str(flag.version), **states, **self.audit_fields})
        flag.audit.append(entry_id, entry)
        space.audit.append(space.audit.next_id(ms), entry)
        flag.changed_at, flag.change_id = float(self.audit_fields["at"]), self.change_id
        flag.result = ChangeResult(
            name=name,
            environment=self.write.store.environment,
            version=flag.version,
            entry_id=entry.entry_id,
            description=self.write.change.describe(),
            before=before_state,
            before_exists=existed,
            after=flag.state,
            after_exists=exists,
        )
        return flag.result


def _mutated(fields: dict[str, str], mutation: Mutation) -> dict[str, str]:
    """The gate hash after a mutation, as a new dict (Flipper's semantics, as the Redis script
    applies them: a removed flag has no hash; fields are set, then deleted)."""
    if mutation.remove:
        return {}
    after = {} if mutation.clear else dict(fields)
    after.update(mutation.set_fields)
    for deleted in mutation.delete_fields:
        after.pop(deleted, None)
    return after


def _text(entry_id: _Id) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"
