"""The grammar of ``feature schedule list|cancel``."""

from __future__ import annotations

from handlers.core.grammar import SubcommandSpec

__all__ = ["SCHEDULE"]

SCHEDULE = SubcommandSpec(
    "schedule",
    ("list|cancel", "[ID]"),
    "list scheduled changes, or cancel one before it runs",
    environments=False,
    examples=("/chatops run feature schedule list", "/chatops run feature schedule cancel S3"),
)
