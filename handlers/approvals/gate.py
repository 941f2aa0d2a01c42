"""Two-person approval: a change that needs it is not written; a request is made instead, and a
card goes to the production channel with Approve & apply · Decline · Cancel.

A change needs approval when it raises exposure (or, with ``applies_to: all``, any change) on an
environment whose access rule has ``approval:``, or raises exposure of a flag whose definition
says ``approval_required: true``. Changes that only reduce exposure never need it. It is asked
for after every safety rule passed (a refused change asks no one), and the card shows those
checks as they stand. The request records the flag as it was reviewed; approving runs the
command again, as its requester, with every rule and check, and both names recorded. A rollout
or a schedule is approved once, when it is made (its checks run at each step, so none has run
yet): its steps then carry that approval, at the pace approved.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from handlers.approvals.card import approval_card, approvers_line, who_can_approve
from handlers.approvals.store import APPROVAL_STORE, ApprovalRequest
from handlers.changes.announce import Outcome, shown_state
from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import NOTHING_CHANGED
from handlers.config import Environment
from handlers.core.chat import PostFailed
from handlers.core.context import Context
from handlers.core.policy import access_rule
from handlers.core.reply import (
    Reply,
    Section,
    Strong,
    error_reply,
    line,
    plain,
)
from handlers.core.seen import Seen
from handlers.core.stored import StoredPlan
from handlers.core.timefmt import span

__all__ = ["ApprovalDesk", "approvers_for", "ask_approval", "gate"]


def approvers_for(flag: str, raises: Sequence[tuple[Environment, bool]], context: Context) -> tuple[str, ...]:
    """The user groups whose approval a change of ``flag`` needs, given for each environment
    whether it raises exposure there; empty when it needs none (or the approval is given)."""
    if context.approved_by or context.app.ports.get(APPROVAL_STORE) is None:
        return ()
    groups: list[str] = []
    definition = context.definitions.get(flag)
    for environment, increases in raises:
        rule = access_rule(environment, context.config)
        approval = rule.approval if rule is not None else None
        if approval is not None and (increases or approval.applies_to == "all"):
            groups += [g for g in approval.usergroups if g not in groups]
        if definition is not None and definition.approval_required and increases and rule is not None:
            groups += [g for g in rule.usergroups if g not in groups]
    return tuple(groups)


async def gate(request: ChangeRequest, targets: Sequence[Target], context: Context, outcome: Outcome) -> Reply | None:
    """After the safety rules passed: None when the change may be written; else the answer that
    an approval was asked for (or why it cannot be)."""
    groups = approvers_for(request.flag, [(t.environment, t.increases) for t in targets], context)
    if not groups:
        return None
    needs = ", ".join(f"@{g}" for g in groups)
    if context.origin:  # a step of a rollout or a schedule made before approval was needed here
        return error_reply(
            f"This change needs the approval of {needs}, which a rollout step or a scheduled change "
            "cannot ask for once it runs: start it again so that it is approved when it is made, or make "
            "the change by hand and have it approved."
        )
    if request.rollback_of:  # a button, not a command that an approval could run again
        return error_reply(
            f"This roll back raises exposure, so it needs the approval of {needs}: ask for it with "
            f"`/chatops run feature set {request.flag} …` and the state you want. {NOTHING_CHANGED}"
        )
    if request.plan is None:  # made by the bot's own work, which cannot be run again
        return error_reply(f"This change needs the approval of {needs}, which it cannot ask for. {NOTHING_CHANGED}")
    summary = [
        f"{t.environment.name}: {shown_state(t.record.state, t.record.exists)} → {shown_state(t.after, t.after_exists)}"
        for t in targets
    ]
    checks = [f"{name.replace('_', ' ')}: {record}" for name, record in outcome.checks.items()]
    checks += [plain(warning) for warning in outcome.warnings]
    text = request.command.removeprefix("/chatops ").strip()
    seen = {t.environment.option: Seen.of(t.record) for t in targets}
    return await ask_approval(text, request.flag, seen, groups, summary, context, kept=request.plan, checks=checks)


async def ask_approval(
    text: str,
    flag: str,
    seen: Mapping[str, Seen],
    groups: tuple[str, ...],
    summary: list[str],
    context: Context,
    *,
    kept: StoredPlan,
    checks: list[str] | None = None,
    note: str = "",
) -> Reply:
    """Record a request that ``groups`` approve running ``kept`` (typed as ``text``; its flag
    reviewed as ``seen``), post its card, and answer the requester."""
    store = context.app.ports.need(APPROVAL_STORE)
    now = time.time()
    definition = context.definitions.get(flag)
    environments = [e for e in context.config.environments if e.option in seen]
    eligible, eligible_note = await who_can_approve(groups, environments, context.caller, context)
    created = await store.create(
        ApprovalRequest(
            id="",
            text=text,
            flag=flag,
            options=tuple(seen),
            seen=dict(seen),
            requester=context.caller,
            approvers=groups,
            created_at=now,
            expires_at=now + context.config.safety.approval_expiry_seconds,
            summary=summary,
            rollout_issue=(definition.rollout_issue_url or "") if definition is not None else "",
            checks=checks if checks is not None else [],
            note=note,
            plan=kept,
            eligible=eligible,
            eligible_note=eligible_note,
        )
    )
    channel = context.config.slack.production_channel
    try:
        created = replace(created, card=await context.chat.post(approval_card(created, channel)))
    except PostFailed as error:
        await store.decide(created.id, "cancelled", "the bot (its card could not be posted)")
        message = f"The approval request could not be posted to {channel} ({error}); it is cancelled: try again."
        return error_reply(message)
    await store.save(created)
    return _requested(created, channel, now)


def _requested(created: ApprovalRequest, channel: str, now: float) -> Reply:
    """The requester's answer: from whom approval is asked, until when, and where."""
    expires = f"expires in {span(created.expires_at - now)}"
    until = f"{created.flag} is not changed until someone approves it in {channel}."
    if created.eligible == ():
        said = line(
            "Approval requested: ",
            Strong(created.id),
            f" ({expires}), but nobody can approve it yet: {created.eligible_note}. {until}",
        )
    else:
        said = line(
            "Approval requested from ", *approvers_line(created, expires), ": ", Strong(created.id), f". {until}"
        )
    return Reply(True, f"approval {created.id} requested", (Section((said,)),))


class ApprovalDesk:
    """Approval as the change engine and the other capabilities ask for it (``APPROVAL_GATE``)."""

    approvers_for = staticmethod(approvers_for)
    gate = staticmethod(gate)
    ask = staticmethod(ask_approval)
