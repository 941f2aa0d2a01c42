"""How a change is told: its headline in words a person uses, before → after with environments
that moved alike on one line, the checks worth a look, and Undo buttons named by their effect."""

from __future__ import annotations

from collections.abc import Iterable

from flags import ChangeResult, DeleteFlag, RestoreState, SetBoolean, SetScopes
from handlers.changes.request import ChangeRequest
from handlers.config import Config, Environment
from handlers.core.reply import Action, Confirm, Line, Mention, Segment, Strong, line
from handlers.core.wording import flag_segment, moves, shortened

__all__ = ["ROLL_BACK_ACTION", "checks_line", "checks_text", "headline", "headline_words", "moved", "undo_action"]
__all__ += ["undo_button"]

ROLL_BACK_ACTION = "rollback"  # the action_id of Undo (roll back) buttons

_NAMED = 3  # a headline names this many actors and groups at most (the state line lists them)
_LABEL_STATE = 22  # a state in a button's label is cut to this (Slack allows 75 characters in all)


def headline_words(request: ChangeRequest) -> str:
    """``Enabled``, ``Disabled``, ``Set to 25% of actors``, ``Deleted``, ``Rolled back``, ``Killed``…"""
    if request.headline:
        return request.headline
    change = request.change
    if isinstance(change, SetBoolean):
        return "Enabled" if change.value else "Disabled"
    if isinstance(change, DeleteFlag):
        return "Deleted"
    if isinstance(change, RestoreState) and request.rollback_of:
        return "Rolled back"
    if isinstance(change, SetScopes) and len(change.actors) + len(change.groups) > _NAMED:
        count = len(change.actors) + len(change.groups)
        return f"{'Enabled' if change.enabled else 'Disabled'} for {count} actors and groups"
    words = change.describe()  # "set to 25% of actors", "enabled for User:1, group admins"
    return words[:1].upper() + words[1:]


def headline(request: ChangeRequest, where: Iterable[Environment], config: Config, origin: str = "") -> Line:
    """``*Set to 50% of actors*: `flag` on dev, pre by @alice`` (and what ran it: a rollout step…)."""
    who = request.who
    names = ", ".join(e.name for e in where)
    segments: list[Segment] = [Strong(headline_words(request)), ": ", flag_segment(request.flag, config)]
    segments += [f" on {names} by ", Mention(who.user_id, who.user_name)]
    if origin:
        segments.append(origin)
    return line(*segments)


def moved(done: Iterable[tuple[Environment, ChangeResult]]) -> list[Line]:
    return moves((e.name, r.before.describe(), r.after.describe()) for e, r in done)


def checks_line(checks: dict[str, str], explained: Iterable[str] = ()) -> Line:
    """The checks worth a look (ignored, unknown…), not the ones that passed or were skipped nor
    ones a warning already explains (every record stays in the audit); empty when there are none."""
    skip = set(explained)
    worth = {k: v for k, v in checks.items() if k not in skip and not v.startswith(("passed", "skipped"))}
    if not worth:
        return ()
    return line("Checks: " + checks_text(worth))


def checks_text(checks: dict[str, str]) -> str:
    """``consistency check passed; production check not configured``: each check's record, by name."""
    return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(checks.items()))


def undo_button(environment: Environment, flag: str, result: ChangeResult) -> Action:
    """``Undo on gprd: 25% of actors → off``, confirming the state it puts back."""
    return undo_action(environment, flag, result.before.describe(), result.after.describe(), result.entry_id)


def undo_action(environment: Environment, flag: str, before: str, after: str, entry_id: str) -> Action:
    """The Undo button of the change ``entry_id`` (``before`` → ``after``, as described), wherever it is shown."""
    label = f"Undo on {environment.name}: {shortened(after, _LABEL_STATE)} → {shortened(before, _LABEL_STATE)}"
    confirm = Confirm(
        f"Undo on {environment.name}?",
        f"{flag} on {environment.name} goes back to {before} (it is {after} now), if nobody changed it since.",
        f"Set {environment.name} to {shortened(before, 14)}",
    )
    value = f"{environment.option}|{flag}|{entry_id}"
    return Action(label, ROLL_BACK_ACTION, value, "danger", confirm)
