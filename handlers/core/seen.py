"""A flag on one environment as it was seen when something was made to run later (an approval
request, a scheduled change, a Roll back button): before it runs, the flag as it is then is
compared with it, and a change made since stops it.

The gates are compared, not the version: the version only moves on this bot's own writes, and
another writer (Ruby's Flipper, a console) changes the gates without it. Records kept before
the gates were (they have only a version) are compared by their version, as they were then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flags import FlagRecord, FlagState

__all__ = ["Seen", "seen_from_json", "seen_to_json"]


@dataclass(frozen=True, slots=True)
class Seen:
    version: int
    state: FlagState | None = None  # None: a record kept before states were (its version is compared)

    @classmethod
    def of(cls, record: FlagRecord) -> Seen:
        return cls(record.version, record.state)

    def changed(self, record: FlagRecord) -> bool:
        """Whether the flag, as read now, is no longer as it was seen."""
        if self.state is None:
            return record.version != self.version
        return record.state != self.state

    def since(self, record: FlagRecord) -> str:
        """How it changed, in words: "off then, on now"."""
        if self.state is None:
            return f"{record.state.describe()} now"
        return f"{self.state.describe()} then, {record.state.describe()} now"


def seen_to_json(seen: Mapping[str, Seen]) -> dict[str, Any]:
    """The fields a record keeps them in, by environment option: ``versions`` (as records always
    had) and ``states`` (Flipper's hash fields)."""
    return {
        "versions": {option: s.version for option, s in seen.items()},
        "states": {option: s.state.to_hash() for option, s in seen.items() if s.state is not None},
    }


def seen_from_json(data: Mapping[str, Any]) -> dict[str, Seen]:
    """What ``seen_to_json`` wrote, or a record's ``versions`` alone (kept before states were)."""
    versions = dict(data.get("versions") or {})
    states = {
        str(o): {str(k): str(v) for k, v in dict(fields).items()} for o, fields in (data.get("states") or {}).items()
    }
    return {
        str(option): Seen(int(version), FlagState.from_hash(states[option]) if option in states else None)
        for option, version in versions.items()
    }
