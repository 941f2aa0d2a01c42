"""Two-person approval: a change that needs it is not written; a request is made instead, and a
card goes to the production channel with Approve & apply · Decline · Cancel.

A change needs approval when it raises exposure (or, with ``applies_to: all``, any change) on an
environment whose access rule has ``approval:``, or raises exposure of a flag whose definition
says ``approval_required: true``. Changes that only reduce exposure never need it. The request
records the versions it was reviewed at; approving runs the command again, as its requester,
with every rule and check, and both names recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from handlers.changes.announce import shown_state
from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules.base import NOTHING_CHANGED, Verdict
from handlers.core.approvals import ApprovalRequest
from handlers.core.chat import PostFailed
from handlers.core.context import Context
from handlers.core.policy import access_rule
from handlers.core.reply import (
    Action,
    Code,
    Confirm,
    CrossPost,
    Line,
    Link,
    Mention,
    Reply,
    Section,
    Strong,
    error_reply,
    line,
)
from handlers.core.timefmt import span, utc

__all__ = ["APPROVE", "CANCEL", "DECLINE", "ApprovalRule", "approval_card", "approvers_for"]

APPROVE, DECLINE, CANCEL = "approve", "decline", "approval_cancel"  # button action ids (and shell :approve A1)


def approvers_for(request: ChangeRequest, targets: Sequence[Target], context: Context) -> tuple[str, ...]:
    """The user groups whose approval this change needs; empty when it needs none."""
    groups: list[str] = []
    definition = context.definitions.get(request.flag)
    for target in targets:
        rule = access_rule(target.environment, context.config)
        approval = rule.approval if rule is not None else None
        if approval is not None and (target.increases or approval.applies_to == "all"):
            groups += [g for g in approval.usergroups if g not in groups]
        if definition is not None and definition.approval_required and target.increases and rule is not None:
            groups += [g for g in rule.usergroups if g not in groups]
    return tuple(groups)


def approval_card(found: ApprovalRequest, channel: str) -> CrossPost:
    """The request's card in ``channel`` (an update of it once posted)."""
    who = Mention(found.requester.user_id, found.requester.user_name)
    groups = ", ".join(f"@{g}" for g in found.approvers)
    lines: list[Line] = [
        line(Code(f"/chatops {found.text}")),
        *(line(s) for s in found.summary),
        line("Requested by ", who, f" in {found.requester.channel_label}; approvers: {groups}."),
    ]
    if found.rollout_issue:
        lines.append(line("Rollout issue: ", Link(found.rollout_issue, found.rollout_issue)))
    if found.status == "pending":
        lines.append(line(f"Expires {utc(found.expires_at)} (in {span(found.expires_at - time.time())})."))
        approve = Confirm("Approve?", f"Apply {found.flag} as requested.", "Approve & apply")
        actions: tuple[Action, ...] = (
            Action("Approve & apply", APPROVE, found.id, "primary", approve),
            Action("Decline", DECLINE, found.id, "danger"),
            Action("Cancel (requester)", CANCEL, found.id),
        )
    else:
        lines.append(line(f"{found.status.capitalize()}" + (f" by {found.decided_by}." if found.decided_by else ".")))
        actions = ()
    title = line(f"Approval {found.id}: ", Code(found.flag), " — ", Strong(found.status))
    summary = f"approval {found.id} of {found.flag}: {found.status}"
    return CrossPost(channel, "approval", (Section(tuple(lines), title),), summary, actions, replaces=found.card)


class ApprovalRule:
    name: ClassVar[str] = "approval"

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        return (
            not context.approved_by
            and context.app.approvals is not None
            and bool(approvers_for(request, targets, context))
        )

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        store = context.app.approvals
        assert store is not None
        groups = approvers_for(request, targets, context)
        needs = ", ".join(f"@{g}" for g in groups)
        if context.origin:  # a rollout step or a scheduled change: nobody is there to ask
            return Verdict(
                refusal=error_reply(
                    f"This change needs the approval of {needs}, which a rollout step or a scheduled change "
                    "cannot ask for: make the change by hand and have it approved."
                )
            )
        if request.rollback_of:  # a button, not a command that an approval could run again
            return Verdict(
                refusal=error_reply(
                    f"This roll back raises exposure, so it needs the approval of {needs}: ask for it with "
                    f"`/chatops run feature set {request.flag} …` and the state you want. {NOTHING_CHANGED}"
                )
            )
        now = time.time()
        summary = [
            f"{t.environment.name}: {shown_state(t.record.state, t.record.exists)} → "
            f"{shown_state(t.after, t.after_exists)}"
            for t in targets
        ]
        created = await store.create(
            ApprovalRequest(
                id="",
                text=request.command.removeprefix("/chatops ").strip(),
                flag=request.flag,
                options=tuple(t.environment.option for t in targets),
                versions={t.environment.option: t.record.version for t in targets},
                requester=request.who,
                approvers=groups,
                created_at=now,
                expires_at=now + context.config.safety.approval_expiry_seconds,
                summary=summary,
                rollout_issue=_rollout_issue(request.flag, context),
            )
        )
        channel = context.config.slack.production_channel
        try:
            created = replace(created, card=await context.chat.post(approval_card(created, channel)))
        except PostFailed as error:
            await store.decide(created.id, "cancelled", "the bot (its card could not be posted)")
            message = f"The approval request could not be posted to {channel} ({error}); it is cancelled: try again."
            return Verdict(refusal=error_reply(message))
        await store.save(created)
        groups_text = ", ".join(f"@{g}" for g in groups)
        lines = (
            line(
                f"Approval requested from {groups_text} (expires in {span(created.expires_at - now)}): ",
                Strong(created.id),
                f". {request.flag} is not changed until someone approves it in {channel}.",
            ),
        )
        return Verdict(refusal=Reply(True, f"approval {created.id} requested", (Section(lines),)))


def _rollout_issue(flag: str, context: Context) -> str:
    definition = context.definitions.get(flag)
    return (definition.rollout_issue_url or "") if definition is not None else ""
