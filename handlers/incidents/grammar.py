"""The grammar of ``feature kill`` and ``feature changes``."""

from __future__ import annotations

from handlers.core.grammar import OptionSpec, SubcommandSpec

__all__ = ["CHANGES", "KILL"]

CHANGES = SubcommandSpec(
    "changes",
    (),
    "every flag change of a time window, newest first, with Roll back buttons (all environments by default)",
    options=(
        OptionSpec("since", "value", "how far back, e.g. 30m (default), 2h, 1d", "DURATION"),
        OptionSpec("match", "value", "only flags whose name contains SUBSTRING", "SUBSTRING"),
    ),
    examples=("/chatops run feature changes --since 1h --production",),
)

KILL = SubcommandSpec(
    "kill",
    ("NAME",),
    "switch a flag off everywhere (or where listed) at once; no check blocks it",
    options=(OptionSpec("reason", "value", "why, recorded and posted", "TEXT"),),
    examples=('/chatops run feature kill my_flag --reason "errors on checkout"',),
)
