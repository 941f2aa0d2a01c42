"""The lines about a flag's definition that every answer about it carries."""

from __future__ import annotations

from collections.abc import Mapping

from flags import Definition
from handlers.core.reply import Line, Link, Section, line

__all__ = ["definition_section"]


def definition_section(name: str, definitions: Mapping[str, Definition]) -> list[Section]:
    definition = definitions.get(name)
    if definition is None:
        return []
    lines: list[Line] = [line(f"type {definition.type}, group {definition.group}, milestone {definition.milestone}")]
    if definition.rollout_issue_url:
        lines.append(line("Rollout issue: ", Link(definition.rollout_issue_url, definition.rollout_issue_url)))
    return [Section(tuple(lines))]
