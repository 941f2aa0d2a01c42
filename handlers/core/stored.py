"""Work kept for later (an approval request, a scheduled change) keeps the typed plan it will run,
as versioned JSON: which command, which subcommand, and the plan's own fields. A record from before
plans were kept (it has only the command's text) is planned again from that text when it is read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PLAN_SCHEMA", "StoredPlan"]

PLAN_SCHEMA = 1  # the version of a kept plan's JSON; a newer reader migrates older ones


@dataclass(frozen=True, slots=True)
class StoredPlan:
    command: str
    subcommand: str
    data: dict[str, Any] = field(default_factory=dict)
    schema: int = PLAN_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "command": self.command, "subcommand": self.subcommand, "plan": self.data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredPlan:
        """Raises ValueError for a record this version cannot read (a newer schema, a missing field)."""
        schema = int(data.get("schema", 0))
        if schema != PLAN_SCHEMA:
            raise ValueError(f"a kept plan of schema {schema} (this bot reads {PLAN_SCHEMA})")
        return cls(str(data["command"]), str(data["subcommand"]), dict(data["plan"]), schema)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())
