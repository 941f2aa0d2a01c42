"""Raising exposure in production needs the production check to pass (alerts, HTTP checks,
running deployments). A change that only reduces exposure is never blocked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import Verdict
from handlers.core.context import Context
from handlers.core.notices import notice_if_slow
from handlers.core.reply import Line, Reply, Section, Strong, line
from handlers.metrics import PRODUCTION_CHECKS

__all__ = ["ProductionCheckRule"]

OVERRIDE = "ignore-production-check"
OVERRIDE_HINT = f"If you are sure, talk to the on-call SRE, then run the command again with `--{OVERRIDE}`."
SLOW_CHECK_NOTICE_S = 1.0


class ProductionCheckRule:
    name: ClassVar[str] = "production_check"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        return any(t.environment.production for t in targets)

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        if not any(t.increases for t in targets if t.environment.production):
            PRODUCTION_CHECKS.labels("skipped").inc()
            return Verdict(record="skipped: the change only reduces exposure")
        if request.overrides_rule(OVERRIDE):
            PRODUCTION_CHECKS.labels("ignored").inc()
            return Verdict(record=f"ignored (--{OVERRIDE}) by {request.who.who}")
        services = context.app.services
        if services is None or not services.production_check_configured:
            return Verdict(record="not configured")
        running = "Production check running… (Alertmanager, HTTP checks, deployments)"
        async with notice_if_slow(context.notify, SLOW_CHECK_NOTICE_S, running):
            results = await services.production_check()
        failed = [r for r in results if not r.ok]
        PRODUCTION_CHECKS.labels("failed" if failed else "passed").inc()
        if not failed:
            return Verdict(record="passed")
        lines: list[Line] = [
            line(f"The production check failed, so {request.flag} was not changed in any environment:")
        ]
        lines += [line("• ", reason) for r in failed for reason in r.reasons]
        lines.append(line(OVERRIDE_HINT))
        title = line(Strong("Production check failed"))
        return Verdict(refusal=Reply(False, "Production check failed", (Section(tuple(lines), title=title),)))
