"""What an approval request says: its card in the production channel (the command, before → after,
the checks one per line, who asked, who can approve, and Approve & apply · Decline · Cancel, each
asking for confirmation), and who can approve it: the members of its approval groups who may
also change its environments (an approver's click runs the change as they may)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from handlers.approvals.store import ApprovalRequest
from handlers.config import Environment
from handlers.core.caller import Caller
from handlers.core.chat import MembershipUnknown
from handlers.core.context import Context
from handlers.core.policy import may_change
from handlers.core.reply import (
    Action,
    Code,
    Confirm,
    CrossPost,
    Line,
    Mention,
    Section,
    Segment,
    Strong,
    line,
    plain,
)
from handlers.core.timefmt import span, utc
from handlers.core.wording import issue_link

__all__ = ["APPROVE", "CANCEL", "DECLINE", "approval_card", "approvers_line", "approvers_text", "who_can_approve"]

APPROVE, DECLINE, CANCEL = "approve", "decline", "approval_cancel"  # button action ids (and shell :approve A1)
_NAMED = 8  # people named before "and N more"
_CONFIRM_MAX = 300  # Slack's limit for a confirm dialog's text


async def who_can_approve(
    groups: Sequence[str], environments: Sequence[Environment], requester: Caller, context: Context
) -> tuple[tuple[str, ...] | None, str]:
    """Who of ``groups`` may approve a change of ``environments``: ``(None, "")`` when every member
    (but the requester) may; else the user IDs of those who may, and what they are. ``(None, why)``
    when the members or their access could not be read."""
    where = ", ".join(e.name for e in environments)
    named = ", ".join(f"@{g}" for g in groups)
    unknown = f"those of them who may also change {where}; who they are could not be read: "
    members: set[str] = set()
    for group in groups:
        try:
            members |= await context.chat.usergroup_members(group)
        except MembershipUnknown as error:
            return None, f"{unknown}{error.reason}"
    members.discard(requester.user_id)
    may: list[str] = []
    for member in sorted(members):
        person = Caller(member, member, requester.channel_id, requester.channel_name)
        whys = [await may_change(person, e, context.config, context.chat) for e in environments]
        if any(why is not None and why.startswith("could not check") for why in whys):
            return None, f"{unknown}{next(w for w in whys if w)}"
        if all(why is None for why in whys):
            may.append(member)
    if members and len(may) == len(members):
        return None, ""
    if not may:
        return (), f"no member of {named} but the requester may also change {where}"
    return tuple(may), f"of {named}, those who may also change {where}"


def approvers_line(found: ApprovalRequest, aside: str = "") -> Line:
    """``@sre-leads``; ``@bob, @carol (of @sre-leads, those who may also change gprd)``; or
    ``nobody yet (…)``; ``aside`` is said in the same parentheses."""
    people = found.eligible
    if people is None:
        names: list[Segment] = [", ".join(f"@{g}" for g in found.approvers)]
    elif not people:
        names = ["nobody yet"]
    else:
        names = []
        for n, person in enumerate(people[:_NAMED]):
            names += [", " if n else "", Mention(person, person)]
        if len(people) > _NAMED:
            names.append(f" and {len(people) - _NAMED} more")
    said = "; ".join(a for a in (found.eligible_note, aside) if a)
    return line(*names, f" ({said})" if said else "")


def approvers_text(found: ApprovalRequest) -> str:
    """The same, as plain words (for a refusal)."""
    return plain(approvers_line(found))


def approval_card(found: ApprovalRequest, channel: str) -> CrossPost:
    """The request's card in ``channel`` (an update of it once posted)."""
    who = Mention(found.requester.user_id, found.requester.user_name)
    lines: list[Line] = [line(Code(f"/chatops {found.text}")), *(line(s) for s in found.summary)]
    if found.note:
        lines.append(line(found.note))
    if found.checks:
        lines.append(line("Checks as they stand (each runs again when it is applied):"))
        lines += [line(f"• {check}") for check in found.checks]
    else:
        lines.append(line("Checks: none has run yet; each runs when it is applied (at each step, or at its time)."))
    asked = line("Requested by ", who, f" in {found.requester.channel_label}. Who can approve: ")
    lines.append(asked + approvers_line(found) + line("."))
    if found.rollout_issue:
        lines.append(line("See the ", issue_link(found.rollout_issue), "."))
    actions: tuple[Action, ...] = ()
    if found.status == "pending":
        lines.append(line(f"Expires {utc(found.expires_at)} (in {span(found.expires_at - time.time())})."))
        actions = _buttons(found)
    else:
        lines.append(_closing(found))
    title = line(f"Approval {found.id}: ", Code(found.flag), " — ", Strong(_status_word(found.status)))
    summary = f"approval {found.id} of {found.flag}: {_status_word(found.status)}"
    return CrossPost(channel, "approval", (Section(tuple(lines), title),), summary, actions, replaces=found.card)


def _buttons(found: ApprovalRequest) -> tuple[Action, ...]:
    """Approve & apply, Decline, Cancel: each confirm names the flag, its environments and the
    states asked for."""
    asked = "; ".join(found.summary) or "as requested"
    requester = f"@{found.requester.user_name or found.requester.user_id}"
    approve = _confirm(
        "Approve and apply?", f"Apply {found.flag} as {requester} asked: {asked}.", "Every check runs again first."
    )
    decline = _confirm(
        "Decline?", f"Decline {found.flag}: {asked}, asked by {requester}.", "Nothing is applied; they can ask again."
    )
    cancel = _confirm(
        "Cancel your request?", f"Withdraw {found.id}? {found.flag} stays as it is: {asked} is not applied.", ""
    )
    return (
        Action("Approve & apply", APPROVE, found.id, "primary", Confirm(approve[0], approve[1], "Approve & apply")),
        Action("Decline", DECLINE, found.id, "danger", Confirm(decline[0], decline[1], "Decline")),
        Action("Cancel (requester)", CANCEL, found.id, "", Confirm(cancel[0], cancel[1], "Cancel request", "Keep it")),
    )


def _confirm(title: str, what: str, after: str) -> tuple[str, str]:
    """A confirm's title and text within Slack's 300 characters (what it does kept first)."""
    text = f"{what} {after}".strip()
    if len(text) > _CONFIRM_MAX:
        text = what[: _CONFIRM_MAX - 1].rstrip() + "…"
    return title, text


def _status_word(status: str) -> str:
    return "approved, not applied" if " but not applied: " in status else status


def _closing(found: ApprovalRequest) -> Line:
    """``Declined by bob.``; ``Approved by bob, but not applied: …``."""
    approver, marker, why = found.status.removeprefix("approved by ").partition(" but not applied: ")
    if marker:
        why = why.strip()
        return line(f"Approved by {approver}, but not applied: {why}" + ("" if why.endswith((".", "!", "?")) else "."))
    by = f" by {found.decided_by}" if found.decided_by else ""
    return line(f"{found.status.capitalize()}{by}.")
