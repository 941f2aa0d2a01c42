"""The rules the message catalogue and the Slack stub hold every message to catch what they should."""

from __future__ import annotations

from bot.slack_blocks import to_slack
from handlers.core.reply import Action, Confirm, Reply, Section, line
from tests.bot.slack_stub import button_problems
from tests.handlers.catalogue import Entry, problems

UNDO = Action(
    "Undo on gprd: on → off", "rollback", "production|f|1-0", "danger", Confirm("Undo?", "f goes off.", "Undo")
)


def _both(reply: Reply) -> tuple[list[str], list[str]]:
    """What the catalogue and the stub (on the Block Kit payload) each find wrong with ``reply``."""
    payload = {"blocks": to_slack(reply)[0].blocks}
    return problems(Entry("kind", "here", reply)), button_problems(payload)


def test_a_good_message_breaks_no_rule() -> None:
    reply = Reply(True, "ok", (Section((line("The flag was switched off everywhere."),), button=UNDO),))
    assert _both(reply) == ([], [])


def test_a_sentence_said_twice_is_caught() -> None:
    said = line("Nothing was changed in any environment.")
    catalogue, stub = _both(Reply(False, "no", (Section((said, said)),)))
    assert len(catalogue) == 1 and "says twice" in catalogue[0]
    assert len(stub) == 1 and "says twice" in stub[0]


def test_two_buttons_with_one_label_are_caught() -> None:
    catalogue, stub = _both(Reply(True, "ok", (Section((line("x"),)),), actions=(UNDO, UNDO)))
    assert "two buttons named 'Undo on gprd: on → off'" in catalogue[0]
    assert stub == ["two buttons named 'Undo on gprd: on → off'"]


def test_a_danger_button_without_a_confirm_is_caught() -> None:
    bare = Action("Abort R1", "rollout_abort", "R1", "danger")
    catalogue, stub = _both(Reply(True, "ok", (Section((line("x"),)),), actions=(bare,)))
    assert "danger button 'Abort R1' asks nothing first" in catalogue[0]
    assert stub == ["danger button 'Abort R1' asks nothing first"]
