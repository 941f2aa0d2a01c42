"""The in-process tier (``tests/handlers``) runs the application without its delivery: it imports
nothing from ``bot`` (Slack rendering, HTTP, the dashboard's HTML are tested under ``tests/bot``)."""

from __future__ import annotations

import ast
from pathlib import Path

TIER = Path(__file__).resolve().parent / "handlers"


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_the_in_process_tier_imports_nothing_from_bot() -> None:
    found = {
        str(path.relative_to(TIER)): sorted(m for m in _imported(path) if m == "bot" or m.startswith("bot."))
        for path in sorted(TIER.rglob("*.py"))
    }
    assert {name: modules for name, modules in found.items() if modules} == {}
