"""The buttons of an approval card: Approve & apply, Decline, Cancel (``:approve A1`` in the shell).

Approving is refused, changing nothing, when: there is no such request; it was already decided
(a double click applies once); it expired; the approver is its requester; the approver is not in
its approver groups, or may not change its environments from this channel; its flag changed since
it was reviewed. Otherwise the command runs again as its requester, with every rule and check,
recorded as approved by the approver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

from flags import FlagsError
from handlers.approvals.gate import APPROVE, CANCEL, DECLINE, approval_card
from handlers.approvals.store import APPROVAL_STORE, ApprovalRequest, ApprovalStore
from handlers.core import pipeline
from handlers.core.chat import MembershipUnknown, PostFailed
from handlers.core.command import ButtonAction, Buttons
from handlers.core.context import Context, Unscoped
from handlers.core.parsing import UsageError
from handlers.core.policy import Writes, authorize
from handlers.core.reply import Reply, error_reply, refused_reply
from handlers.core.timefmt import utc

__all__ = ["ACTIONS", "ApprovalButtons", "ApprovalDecision", "approval_plan", "decide"]

ACTIONS = {APPROVE: "approve", DECLINE: "decline", CANCEL: "cancel"}
_NOTHING = "Nothing was changed."


@dataclass(frozen=True, slots=True)
class ApprovalDecision(Unscoped):
    """A click on an approval card: approve, decline or cancel request ``request_id``. Who may is
    checked against the request found."""

    action: str
    request_id: str


def approval_plan(action: str) -> Callable[[str, Context], ApprovalDecision]:
    """The plan of an approval card's button: its value is the request id."""

    def plan_of(value: str, context: Context) -> ApprovalDecision:
        if not (value.startswith("A") and value[1:].isdigit() and len(value) <= 13):
            raise UsageError("This button does not name an approval request.")
        return ApprovalDecision(action, value)

    return plan_of


class ApprovalButtons(Buttons):
    """Approve & apply, Decline and Cancel on an approval card."""

    command_name: ClassVar[str] = "feature"

    def actions(self) -> tuple[ButtonAction[ApprovalDecision], ...]:
        return tuple(
            ButtonAction(action_id, f"{action.capitalize()} button", approval_plan(action), decide)
            for action_id, action in ACTIONS.items()
        )


async def decide(plan: ApprovalDecision, context: Context) -> Reply:
    store = context.app.ports.need(APPROVAL_STORE)
    found = await store.get(plan.request_id)
    if found is None:
        return error_reply(f"There is no approval request {plan.request_id}. {_NOTHING}")
    if found.status != "pending":
        by = f" by {found.decided_by}" if found.decided_by else ""
        return error_reply(f"Approval {found.id} was already {found.status}{by}; it cannot apply. {_NOTHING}")
    if found.expired:
        return error_reply(f"Approval {found.id} expired at {utc(found.expires_at)}; ask again. {_NOTHING}")
    caller, action = context.caller, plan.action
    refused = await _may_decide(found, action, context)
    if refused is not None:
        return refused
    if action == "cancel":
        return await _close(store, found, "cancelled", caller.who, context)
    if action == "decline":
        return await _close(store, found, "declined", caller.who, context)
    changed = await _changed_since_review(found, context)
    if changed:
        return error_reply(f"{found.flag} changed since review ({changed}): ask again. {_NOTHING}")
    if await store.decide(found.id, "approved", caller.who) != "ok":
        return error_reply(f"Approval {found.id} was decided meanwhile. {_NOTHING}")
    origin = f" (approved by {caller.who}, request {found.id})"
    app, chat = context.app, context.chat
    reply = await pipeline.run_kept(
        found.plan, found.text, found.requester, app, chat, origin=origin, approved_by=caller.who
    )
    decided = await store.get(found.id) or found
    if not reply.ok:  # approved, but refused when run (a check failed, the requester lost access, …)
        decided = replace(decided, status=f"approved by {caller.who} but not applied: {reply.summary[:200]}")
        await store.save(decided)
    await _update_card(decided, context)
    return reply


async def _may_decide(found: ApprovalRequest, action: str, context: Context) -> Reply | None:
    """None when the caller may ``action`` the request: only its requester may cancel it; only a
    member of its approver groups, not its requester, who may change its environments here may
    approve or decline it. Else the refusal, which the pipeline reports to the security channel."""
    caller, requester = context.caller, found.requester
    if action == "cancel":
        if caller.user_id == requester.user_id:
            return None
        return refused_reply(
            f"Only its requester ({requester.who}) may cancel {found.id}; decline it instead. {_NOTHING}",
            f"only its requester ({requester.who}) may cancel {found.id}",
        )
    if caller.user_id == requester.user_id:
        advice = f"ask one of {_groups(found)}" if action == "approve" else "cancel it instead"
        return refused_reply(
            f"Nobody {action}s their own request: {advice}. {_NOTHING}",
            f"{caller.who} asked for {found.id}, and nobody {action}s their own request",
        )
    member = False
    for group in found.approvers:
        try:
            if caller.user_id in await context.chat.usergroup_members(group):
                member = True
                break
        except MembershipUnknown as error:
            why = f"could not check membership of @{group}: {error.reason}"
            return refused_reply(f"This action is not allowed: {why}. {_NOTHING} Try again in a minute.", why)
    if not member:
        who_may = f"members of {_groups(found)} may approve or decline {found.id}"
        return refused_reply(f"Only {who_may}. {_NOTHING} Ask one of them.", f"only {who_may}")
    targets = tuple(e for e in context.config.environments if e.option in found.options)
    refusal = await authorize(Writes(targets), caller, context.config, context.chat)
    if refusal is None:
        return None
    where = ", ".join(e.name for e in targets)
    message = f"Only someone who may change {where} here may approve or decline {found.id}. {refusal.message}"
    return refused_reply(message, refusal.reason)


async def _changed_since_review(found: ApprovalRequest, context: Context) -> str:
    for option, version in found.versions.items():
        try:
            now = (await context.stores[option].get(found.flag)).version
        except FlagsError as error:
            return f"could not read it: {error}"
        if now != version:
            return f"version {version} when reviewed, {now} now on {option}"
    return ""


async def _close(store: ApprovalStore, found: ApprovalRequest, status: str, who: str, context: Context) -> Reply:
    if await store.decide(found.id, status, who) != "ok":
        return error_reply(f"Approval {found.id} was decided meanwhile. {_NOTHING}")
    decided = await store.get(found.id) or found
    await _update_card(decided, context)
    card = approval_card(decided, context.config.slack.production_channel)
    return Reply(True, f"approval {found.id} {status}", card.sections)


async def _update_card(found: ApprovalRequest, context: Context) -> None:
    if found.card:
        with contextlib.suppress(PostFailed):  # the answer says it anyway
            await context.chat.post(approval_card(found, context.config.slack.production_channel))


def _groups(found: ApprovalRequest) -> str:
    return ", ".join(f"@{g}" for g in found.approvers)
