"""Safety rules, run in this order before any write. A new rule: one module, one line here.

Approval is not among them: it is asked for once they all passed (see handlers.approvals.gate)."""

from __future__ import annotations

from handlers.changes.rules.base import SafetyRule, Verdict
from handlers.changes.rules.consistency import ConsistencyRule
from handlers.changes.rules.percentage_step import PercentageStepRule
from handlers.changes.rules.production_check import ProductionCheckRule
from handlers.changes.rules.rollout_issue import RolloutIssueRule
from handlers.deployments.rule import DeploymentRule
from handlers.freezes.rule import FreezeRule

__all__ = ["RULES", "SafetyRule", "Verdict"]

RULES: tuple[SafetyRule, ...] = (
    FreezeRule(),
    RolloutIssueRule(),
    ConsistencyRule(),
    DeploymentRule(),
    ProductionCheckRule(),
    PercentageStepRule(),
)
