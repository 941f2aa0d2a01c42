"""What the store returns: flag records, change results and audit entries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flags.state import FlagState

__all__ = ["AuditEntry", "AuditInfo", "ChangeResult", "FlagRecord"]


@dataclass(frozen=True, slots=True)
class FlagRecord:
    name: str
    state: FlagState
    exists: bool
    version: int
    changed_at: float | None = None  # when it last changed through chatops (epoch seconds), when listed


@dataclass(frozen=True, slots=True)
class AuditInfo:
    """Who asked for a change, where, with what command, and which checks passed or were ignored."""

    who: str
    channel: str = ""
    command: str = ""
    checks: Mapping[str, str] = field(default_factory=dict)
    who_id: str = ""
    approved_by: str = ""  # who approved it, when it needed a second person (``who`` asked for it)

    def __post_init__(self) -> None:
        if not self.who.strip():
            raise ValueError("a change needs to say who made it")


@dataclass(frozen=True, slots=True)
class ChangeResult:
    name: str
    environment: str
    version: int
    entry_id: str
    description: str
    before: FlagState
    before_exists: bool
    after: FlagState
    after_exists: bool


@dataclass(frozen=True, slots=True)
class AuditEntry:
    entry_id: str
    name: str
    environment: str
    version: int
    who: str
    who_id: str
    at: datetime
    channel: str
    command: str
    description: str
    checks: Mapping[str, str]
    before: FlagState
    before_exists: bool
    after: FlagState
    after_exists: bool
    approved_by: str = ""  # who approved it ("" when it needed no approval, and in entries written before)

    @classmethod
    def from_stream(cls, entry_id: str, fields: Mapping[str, str]) -> AuditEntry:
        checks: Any = _json(fields.get("checks"), {})
        return cls(
            entry_id=fields.get("entry", entry_id),
            name=fields.get("flag", ""),
            environment=fields.get("environment", ""),
            version=int(fields.get("version", "0") or 0),
            who=fields.get("who", ""),
            who_id=fields.get("who_id", ""),
            at=datetime.fromtimestamp(float(fields.get("at", "0") or 0), UTC),
            channel=fields.get("channel", ""),
            command=fields.get("command", ""),
            description=fields.get("description", ""),
            checks={str(k): str(v) for k, v in checks.items()} if isinstance(checks, dict) else {},
            before=FlagState.from_hash(_hash(fields.get("before"))),
            before_exists=fields.get("existed") == "1",
            after=FlagState.from_hash(_hash(fields.get("after"))),
            after_exists=fields.get("exists") == "1",
            approved_by=fields.get("approved_by", ""),
        )


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _hash(text: str | None) -> dict[str, str]:
    value = _json(text, {})
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
