"""Raising exposure in production needs a rollout issue in the flag's definition (when configured)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import NOTHING_CHANGED, Verdict
from handlers.core.context import Context
from handlers.core.reply import error_reply

__all__ = ["RolloutIssueRule"]


class RolloutIssueRule:
    name: ClassVar[str] = "rollout_issue"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        definition = context.definitions.get(request.flag)
        has_issue = definition is not None and bool(definition.rollout_issue_url)
        return context.config.safety.require_rollout_issue and not has_issue

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        for target in targets:
            if target.environment.production and target.increases:
                return Verdict(
                    refusal=error_reply(
                        f"Enabling {request.flag} in {target.environment.name} needs a rollout issue: add "
                        f"`rollout_issue_url` to its definition first. {NOTHING_CHANGED}"
                    )
                )
        return Verdict()
