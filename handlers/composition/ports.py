"""What each capability offers the others, registered once: stores, the approval gate, the
scheduler, the safety rules in the order they run, alert listeners, timer and periodic jobs, what
stops a killed flag's standing work, and what is going on with a flag (for the flags page)."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis

from handlers.approvals.activity import ApprovalActivity
from handlers.approvals.gate import ApprovalDesk
from handlers.approvals.store import APPROVAL_STORE, ApprovalStore
from handlers.changes.ports import APPROVAL_GATE, SCHEDULER
from handlers.changes.rules import SAFETY_RULES, SafetyRule
from handlers.changes.rules.consistency import ConsistencyRule
from handlers.changes.rules.percentage_step import PercentageStepRule
from handlers.changes.rules.production_check import ProductionCheckRule
from handlers.changes.rules.rollout_issue import RolloutIssueRule
from handlers.changes.watching import CHANGE_WATCH
from handlers.checks.prometheus import PrometheusClient
from handlers.config.metrics import Metrics
from handlers.core.alerts import ALERT_LISTENERS
from handlers.core.code import CODE_DEPLOYED
from handlers.core.driver import PERIODIC_JOBS, TIMER_JOBS
from handlers.core.flag_activity import FLAG_ACTIVITY
from handlers.core.freezes import FREEZES
from handlers.core.outbox import OUTBOX, Outbox
from handlers.core.outbox_delivery import OUTBOX_RECEIVERS
from handlers.core.ports import Ports
from handlers.core.post_refs import POST_REFS, PostRefs
from handlers.core.recent_charts import RECENT_METRIC_CHARTS
from handlers.core.standing import STANDING_WORK
from handlers.core.timers import Timers
from handlers.dashboard.signin import SIGN_IN, SignIn
from handlers.deployments.mirror import MIRROR, GitMirror
from handlers.deployments.registry import REGISTRY, DeploymentRegistry
from handlers.deployments.rule import DeployedCode, DeploymentRule
from handlers.freezes.activity import FreezeActivity
from handlers.freezes.alerts import AlertFreezes
from handlers.freezes.rule import FreezeRule
from handlers.freezes.store import FREEZE_STORE, FreezeStore
from handlers.incidents.activity import KillActivity
from handlers.incidents.alerts import RecentChanges
from handlers.rollouts.activity import RolloutActivity
from handlers.rollouts.jobs import GuardPoll, MetricGuardPoll, RolloutAlerts, RolloutSteps, RunningRollouts
from handlers.rollouts.store import ROLLOUT_STORE, RolloutStore
from handlers.schedules.commands import Scheduler
from handlers.schedules.jobs import DueSchedules, PendingSchedules
from handlers.schedules.store import SCHEDULE_STORE, ScheduleStore
from handlers.subscriptions.receiver import subscription_receivers
from handlers.subscriptions.store import SUBSCRIPTION_STORE, SubscriptionStore
from handlers.watches.hook import WatchChanges
from handlers.watches.job import WatchPoll
from handlers.watches.recent import RecentWatchCharts
from handlers.watches.store import WATCH_STORE, WatchStore
from handlers.webhooks.receiver import webhook_receivers

__all__ = ["RULES", "application_ports"]

#: The safety rules, in the order they run before any write.
RULES: tuple[SafetyRule, ...] = (
    FreezeRule(),
    RolloutIssueRule(),
    ConsistencyRule(),
    DeploymentRule(),
    ProductionCheckRule(),
    PercentageStepRule(),
)


def application_ports(
    own: aioredis.Redis,
    timers: Timers,
    prefix: str,
    registry: DeploymentRegistry | None,
    mirror: GitMirror | None,
    sign_in: SignIn | None,
    metrics: Metrics | None,
    prometheus: Callable[[], PrometheusClient | None],
) -> Ports:
    """Every capability's offer, on the bot's own Redis (``own``, keys under ``prefix``); the
    metric checks and the client of their Prometheus (``Services.prometheus``) draw watches' charts."""
    ports = Ports()
    freezes = FreezeStore(own, prefix)
    ports.add(FREEZE_STORE, freezes)
    ports.add(FREEZES, freezes)
    ports.add(APPROVAL_STORE, ApprovalStore(own, prefix))
    ports.add(APPROVAL_GATE, ApprovalDesk())
    ports.add(SCHEDULE_STORE, ScheduleStore(timers))
    ports.add(SCHEDULER, Scheduler())
    ports.add(ROLLOUT_STORE, RolloutStore(timers))
    ports.add(CODE_DEPLOYED, DeployedCode())
    if registry is not None:
        ports.add(REGISTRY, registry)
    if mirror is not None:
        ports.add(MIRROR, mirror)
    if sign_in is not None:
        ports.add(SIGN_IN, sign_in)
    ports.add_many(SAFETY_RULES, RULES)
    ports.add_many(TIMER_JOBS, (DueSchedules(), RolloutSteps()))
    watches = WatchStore(own, prefix)
    ports.add(WATCH_STORE, watches)
    ports.add(RECENT_METRIC_CHARTS, RecentWatchCharts(watches, metrics, prometheus))
    ports.add(CHANGE_WATCH, WatchChanges())
    ports.add(POST_REFS, PostRefs(own, prefix))
    ports.add(OUTBOX, Outbox(own, prefix))
    ports.add(SUBSCRIPTION_STORE, SubscriptionStore(own, prefix))
    ports.add_many(OUTBOX_RECEIVERS, (webhook_receivers, subscription_receivers))
    ports.add_many(PERIODIC_JOBS, (GuardPoll(), MetricGuardPoll(), WatchPoll()))
    ports.add_many(ALERT_LISTENERS, (RolloutAlerts(), AlertFreezes(), RecentChanges()))
    ports.add_many(STANDING_WORK, (RunningRollouts(), PendingSchedules()))
    ports.add_many(FLAG_ACTIVITY, (RolloutActivity(), ApprovalActivity(), FreezeActivity(), KillActivity()))
    return ports
