"""What a flag store is, wherever it keeps the flags: the adapter contract, and changes written together.

``FlagStore`` keeps one environment's flags in Redis, in Flipper's layout; ``MemoryFlagStore``
keeps them in Python dicts. Both behave the same way, and the same tests run against each.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flags.changes import Change
from flags.records import AuditEntry, AuditInfo, ChangeResult, FlagRecord
from flags.values import FlagName

__all__ = ["AUDIT_PER_ENVIRONMENT", "AUDIT_PER_FLAG", "FlagStorage", "Write", "apply_together", "entry_id_parts"]

#: Audit entries kept per flag, at least; the oldest go first.
AUDIT_PER_FLAG = 1000
#: Audit entries kept per environment, at least.
AUDIT_PER_ENVIRONMENT = 100_000


class FlagStorage(Protocol):
    """One environment's flags, whatever keeps them.

    Every change is one step: the gates, the flag's version and its audit entries change
    together or not at all. Stores with the same ``backend`` can be written together.
    """

    @property
    def environment(self) -> str:
        """The environment's name, as audit entries and errors give it."""
        ...

    @property
    def prefix(self) -> str:
        """What keeps this environment's flags apart from others on the same backend."""
        ...

    @property
    def backend(self) -> object:
        """What holds the flags (a Redis client, a ``MemoryBackend``): stores with the same one,
        the same object, can be written together by ``apply_together``."""
        ...

    async def get(self, name: str) -> FlagRecord:
        """One flag's gates, whether it is in the feature set, and its version."""
        ...

    async def list(self, match: str | None = None) -> builtins.list[FlagRecord]:
        """Every flag in the feature set (sorted by name), optionally those containing ``match``."""
        ...

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

        With ``expected_version`` the change is applied only if the flag is still at that version;
        otherwise ``ChangeConflict`` is raised and nothing is written. Applying again with the same
        ``change_id`` (the default is a new one) returns the first result and writes nothing.
        """
        ...

    async def apply_group(self, writes: Sequence[Write]) -> builtins.list[ChangeResult]:
        """Apply writes to stores sharing this store's backend as one step: all or none.

        Use ``apply_together``, which picks the store to ask.
        """
        ...

    async def last_change(self, name: str, change_id: str) -> ChangeResult | None:
        """The result of the change with this id, if it is the flag's last change; else None."""
        ...

    async def history(self, name: str, limit: int = 10) -> builtins.list[AuditEntry]:
        """The flag's last ``limit`` changes, newest first."""
        ...

    async def changes_since(self, since: float, limit: int = 200) -> builtins.list[AuditEntry]:
        """Every flag's changes in this environment from ``since`` (epoch seconds), newest first."""
        ...

    async def last_entries(self, names: Sequence[str]) -> dict[str, AuditEntry]:
        """The last audit entry of each of ``names`` that has one (one round trip for a page of
        flags: what their last change was, and when)."""
        ...

    async def entry(self, name: str, entry_id: str) -> AuditEntry | None:
        """One audit entry of a flag by its id, or None when there is none."""
        ...

    async def ping(self) -> None:
        """Return when the store answers; raise ``StoreUnavailable`` when it does not."""
        ...

    async def close(self) -> None:
        """Let go of what the store holds open (a Redis connection pool)."""
        ...


@dataclass(frozen=True, slots=True)
class Write:
    """One change of one flag in one store, as ``apply`` takes it."""

    store: FlagStorage
    name: str
    change: Change
    audit: AuditInfo
    expected_version: int | None = None
    change_id: str | None = None  # None: a new one

    @property
    def flag(self) -> str:
        """The flag's name, checked: ``InvalidFlagName`` when it is not one."""
        return FlagName(self.name).value

    def audit_fields(self, at: float) -> dict[str, str]:
        """What the audit entry of this write says besides the version and the states."""
        audit = self.audit
        fields = {
            "flag": self.flag,
            "environment": self.store.environment,
            "who": audit.who,
            "who_id": audit.who_id,
            "at": f"{at:.6f}",
            "channel": audit.channel,
            "command": audit.command,
            "description": self.change.describe(),
            "checks": json.dumps(dict(audit.checks), sort_keys=True),
        }
        if audit.approved_by:  # only then: an entry of a change nobody approved reads as before
            fields["approved_by"] = audit.approved_by
        return fields


async def apply_together(writes: Sequence[Write]) -> list[ChangeResult]:
    """Apply changes to stores sharing one backend (one Redis client, one ``MemoryBackend``) as one
    atomic step: all or none.

    A write whose flag is not at its expected version raises ``ChangeConflict`` (its
    ``environment`` says which) and nothing at all is written. Results are in the order given.
    """
    if not writes:
        return []
    store = writes[0].store
    if any(w.store.backend is not store.backend for w in writes):
        raise ValueError("changes written together must share one backend (one Redis client, one MemoryBackend)")
    return await store.apply_group(writes)


def entry_id_parts(text: str) -> tuple[int, int] | None:
    """The two numbers of an audit entry id (``MS-SEQ``, as Redis numbers stream entries: two
    unsigned 64-bit numbers), or None when ``text`` is not such an id."""
    ms, dash, seq = text.partition("-")
    if not dash or not all(p.isascii() and p.isdigit() and int(p) < 2**64 for p in (ms, seq)):
        return None
    return int(ms), int(seq)
