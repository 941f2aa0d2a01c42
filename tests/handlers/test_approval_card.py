"""The approval card as people read it: the checks one per line, who can approve named as they are
(the members of the approval group who may also change the environment), every button asking
first, refusals that say "Nothing was changed" once, and the approver kept as its own field of the
audit entry, shown by `feature history` and the dashboard."""

from __future__ import annotations

import re

from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.handlers.test_approvals import ACCESS, RAISE, SET

GPRD_ONLY = "--production --ignore-feature-flag-consistency-check"


def _people(bot: Chatops, **groups: tuple[str, ...]) -> None:
    """Who Slack knows, with their groups (as the harness tells the shell)."""
    for name, member_of in groups.items():
        bot.people[name] = frozenset(member_of)


async def test_the_card_names_only_the_approvers_who_may_also_change_the_environment(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    _people(bot, bob=("sre", "approvers"), carol=("approvers",), dave=("approvers", "sre"), erin=("sre",))
    answer = await bot.run(RAISE)
    narrowed = "@bob, @dave (of @approvers, those who may also change gprd"
    assert f"Approval requested from {narrowed}; expires in 30 min): A1." in answer.text, answer.text
    (card,) = answer.posted_to("#production")
    assert f"Requested by @alice in #production. Who can approve: {narrowed})." in to_text(card), to_text(card)
    own = await bot.run(":approve A1")
    assert f"Nobody approves their own request: ask one of {narrowed})." in own.text, own.text
    carol = await bot.run(":approve A1", user="carol", groups=("approvers",))  # in the group, may not change gprd
    assert not carol.ok and "changing gprd needs @sre" in carol.text
    assert len(re.findall("nothing was changed", carol.text, re.IGNORECASE)) == 1, carol.text  # said once


async def test_when_nobody_can_approve_yet_the_request_says_so(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    _people(bot, carol=("approvers",))  # the only approver may not change gprd
    answer = await bot.run(RAISE)
    assert answer.ok and (
        "Approval requested: A1 (expires in 30 min), but nobody can approve it yet: no member of @approvers "
        "but the requester may also change gprd." in answer.text
    ), answer.text
    (card,) = answer.posted_to("#production")
    assert "Who can approve: nobody yet (no member of @approvers but the requester may also change gprd)." in to_text(
        card
    )


async def test_the_checks_are_a_list_and_every_button_asks_naming_the_flag_and_the_result(
    chatops: MakeChatops,
) -> None:
    bot = await chatops(access=ACCESS, safety={"percentage_step": 10})
    _people(bot, bob=("sre", "approvers"))
    answer = await bot.run(f"{SET} {FLAG} 50 --actors {GPRD_ONLY}")
    (card,) = answer.posted_to("#production")
    text = to_text(card)
    lines = text.split("\n")
    start = lines.index("  Checks as they stand (each runs again when it is applied):")
    items = [entry for entry in lines[start + 1 :] if entry.startswith("  • ")]
    assert len(items) >= 3, text  # one check a line
    assert "  • :warning: gprd: percentage of actors rose from 0% to 50%, more than the 10-point step; watch" in text
    for entry in lines:
        assert ".." not in entry and "))" not in entry, entry
        assert not re.search(r"\S.*:[a-z_]+:", entry.removeprefix("  • :warning:")), entry  # no emoji mid-sentence
    approve, decline, cancel = card.actions
    for action in (approve, decline, cancel):
        assert action.confirm is not None and len(action.confirm.text) <= 300, action
        assert FLAG in action.confirm.text and "gprd: off → 50% of actors" in action.confirm.text, action.confirm
    assert decline.confirm is not None and decline.confirm.confirm == "Decline"
    assert cancel.confirm is not None and cancel.confirm.text.startswith(
        f"Withdraw A1? {FLAG} stays as it is: gprd: off → 50%"
    )


async def test_a_request_approved_but_refused_when_run_says_so_once(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS)
    _people(bot, bob=("sre", "approvers"))
    assert (await bot.run(RAISE)).ok
    _people(bot, alice=())  # the requester left @sre meanwhile: the change runs as them, and is refused
    answer = await bot.run(":approve A1", user="bob", groups=("sre", "approvers"))
    assert not answer.ok and await bot.gates("production") == {}
    (card,) = [p for p in answer.posts if p.purpose == "approval"]
    text = to_text(card)
    assert text.startswith(f"Approval A1: `{FLAG}` — approved, not applied"), text
    (closing,) = [entry for entry in text.split("\n") if entry.startswith("  Approved by bob, but not applied: ")]
    assert closing.endswith(".") and ".." not in closing and not closing.endswith(" by bob."), closing
