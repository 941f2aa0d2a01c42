"""A warning (not a refusal) when a production percentage rises more than ``safety.percentage_step``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from flags.exposure import percentage
from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import Verdict
from handlers.core.context import Context
from handlers.core.reply import Line, line

__all__ = ["PercentageStepRule"]


class PercentageStepRule:
    name: ClassVar[str] = "percentage_step"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        return context.config.safety.percentage_step is not None

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        step = context.config.safety.percentage_step
        assert step is not None
        warnings: list[Line] = []
        for target in targets:
            if not target.environment.production:
                continue
            for gate, kind in (("percentage_of_actors", "actors"), ("percentage_of_time", "time")):
                before = percentage(getattr(target.record.state, gate))
                after = percentage(getattr(target.after, gate))
                if after - before > step:
                    warnings.append(
                        line(
                            f":warning: {target.environment.name}: percentage of {kind} rose from {before:g}% "
                            f"to {after:g}%, more than the {step:g}-point step; watch the dashboards."
                        )
                    )
        return Verdict(warnings=tuple(warnings))
