"""``/chatops run feature ...`` and its Roll back button."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from handlers.approvals.buttons import ACTIONS as APPROVAL_ACTIONS
from handlers.approvals.buttons import approval_plan, decide
from handlers.changes import ROLL_BACK_ACTION, apply_change, roll_back
from handlers.core.command import ButtonAction, Command
from handlers.core.context import Context
from handlers.core.grammar import CommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.reply import Reply, line
from handlers.flag_commands.grammar import FEATURE
from handlers.flag_commands.plans import FeaturePlan, cancel_plan, plan, rollback_plan
from handlers.flag_commands.reads import get, history, list_flags
from handlers.incidents.changes import changes
from handlers.incidents.kill import kill
from handlers.rollouts.commands import ROLLOUT_ACTIONS, rollout
from handlers.rollouts.plans import rollout_plan
from handlers.schedules.commands import CANCEL_ACTION, cancel, list_schedules, schedule_expiry, schedule_run

__all__ = ["FeatureCommand"]

_READS = {"get": get, "list": list_flags, "history": history, "changes": changes}


class FeatureCommand(Command[FeaturePlan]):
    spec: ClassVar[CommandSpec] = FEATURE

    def plan(self, invocation: Invocation, context: Context) -> FeaturePlan:
        if invocation.subcommand == "rollout":
            return rollout_plan(invocation, context)
        return plan(invocation, context)

    async def handle(self, plan: FeaturePlan, context: Context) -> Reply:
        read = _READS.get(plan.subcommand)
        if read is not None:
            return await read(plan, context)
        if plan.subcommand == "rollback":
            environment = plan.targets[0]
            return await roll_back(plan.name, environment, plan.rollback_of, context)
        if plan.subcommand == "rollout":
            return await rollout(plan, context)
        if plan.subcommand == "approval":
            return await decide(plan, context)
        if plan.subcommand == "kill":
            return await kill(plan, context)
        if plan.subcommand == "schedule":
            return await (cancel(plan, context) if plan.schedule_id else list_schedules(context))
        if plan.scheduled:
            return await schedule_run(plan, context)
        reply = await apply_change(plan.change_request(context), context)
        if plan.lasts is not None and reply.ok:
            reply = await schedule_expiry(plan, reply, context)
        return reply.with_notes(*(line(w) for w in plan.warnings)) if plan.warnings else reply

    def actions(self) -> tuple[ButtonAction[FeaturePlan], ...]:
        return (
            ButtonAction(ROLL_BACK_ACTION, "Roll back button", rollback_plan),
            ButtonAction(CANCEL_ACTION, "Cancel button", cancel_plan),
            *(ButtonAction(a, f"{v.capitalize()} button", _rollout_button(v)) for a, v in ROLLOUT_ACTIONS.items()),
            *(ButtonAction(a, f"{v.capitalize()} button", approval_plan(v)) for a, v in APPROVAL_ACTIONS.items()),
        )


def _rollout_button(action: str) -> Callable[[str, Context], FeaturePlan]:
    """The plan of a rollout button: its value is the rollout id."""

    def plan_of(value: str, context: Context) -> FeaturePlan:
        invocation = Invocation("feature", "rollout", (action, value[:20]), {}, (), False, f"[{action} {value[:20]}]")
        if not (value.startswith("R") and value[1:].isdigit() and len(value) <= 13):
            raise UsageError("This button does not name a rollout.")
        return FeaturePlan("rollout", invocation, (), value, action=action)

    return plan_of
