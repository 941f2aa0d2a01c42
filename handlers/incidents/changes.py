"""Recent flag changes, newest first, each with an Undo button: ``feature changes`` and the
message an alert gets ("which flag changed before this alert?")."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC

from flags import AuditEntry, StoreUnavailable, WrongKeyType
from handlers.changes import ROLL_BACK_ACTION
from handlers.changes.announce import shown_state
from handlers.config import Config, Environment
from handlers.core.context import Context
from handlers.core.reply import Action, Confirm, Line, Mention, Reply, Section, Strong, line
from handlers.core.timefmt import ago, span
from handlers.core.wording import flag_segment, shortened
from handlers.incidents.plans import ChangesPlan

__all__ = ["MAX_BUTTONS", "changes", "recent_changes", "undo_buttons"]

MAX_BUTTONS = 20  # Undo buttons in one message (Slack allows 25 elements in an actions block)
LABEL_MAX = 75  # Slack's limit for a button's text
CONFIRM_MAX = 300  # and for a confirm dialog's text
_LIMIT = 200  # changes read per environment

Found = tuple[AuditEntry, Environment]


def change_line(entry: AuditEntry, now: float, config: Config) -> Line:
    """``NAME 10% of actors → 50% of actors by @bob 6 min ago`` (the name links to the flag's
    dashboard page when there is a dashboard)."""
    who: Line = (Mention(entry.who_id, entry.who),) if entry.who_id else (entry.who,)
    return line(
        flag_segment(entry.name, config),
        f" {shown_state(entry.before, entry.before_exists)} → {shown_state(entry.after, entry.after_exists)} by ",
        *who,
        f" {ago(entry.at.timestamp(), now)}",
    )


def _label(entry: AuditEntry, environment: Environment, suffix: str) -> str:
    """``Undo on gprd: 25% of actors → off`` (what pressing it does: the state now, the state it
    brings back), within Slack's 75 characters: long states are cut, never the suffix."""
    now_state = shown_state(entry.after, entry.after_exists)
    back_to = shown_state(entry.before, entry.before_exists)
    head = f"Undo on {environment.name}: "
    room = LABEL_MAX - len(head) - len(" → ") - len(suffix)
    if len(now_state) + len(back_to) > room:
        back_to = shortened(back_to, max(4, room - min(len(now_state), room // 2)))
        now_state = shortened(now_state, max(4, room - len(back_to)))
    return shortened(f"{head}{now_state} → {back_to}", LABEL_MAX - len(suffix)) + suffix


def _confirm(entry: AuditEntry, environment: Environment, now: float) -> Confirm:
    """Names the flag, the environment and the state it is set back to (Slack: 300 characters)."""
    back_to = shortened(shown_state(entry.before, entry.before_exists), 80)
    made = shortened(shown_state(entry.after, entry.after_exists), 80)
    who, when = shortened(entry.who, 30), ago(entry.at.timestamp(), now)
    text = (
        f"Set {shortened(entry.name, 100)} on {environment.name} back to {back_to}, undoing the change to {made} "
        f"by @{who} {when}. If the flag changed since, nothing is changed."
    )
    where = environment.name
    return Confirm(f"Undo on {where}?", shortened(text, CONFIRM_MAX), f"Set {where} to {shortened(back_to, 14)}")


def _clock(entry: AuditEntry) -> str:
    return entry.at.astimezone(UTC).strftime("%H:%M:%S")


#: What tells apart two changes whose labels would read alike: the flag, then also the time.
_TELLERS: tuple[Callable[[AuditEntry], str], ...] = (
    lambda e: f" ({shortened(e.name, 26)})",
    lambda e: f" ({shortened(e.name, 14)}, {_clock(e)})",
)


def undo_buttons(found: Sequence[Found], now: float) -> list[Action]:
    """An Undo button for each change (the ordinary Roll back path), each label unlike the others in
    the message: labels two changes would share name the flag, then the time, then a number."""
    suffixes = [""] * len(found)
    labels = [_label(entry, environment, "") for entry, environment in found]
    for teller in _TELLERS:
        repeated = {label for label, count in Counter(labels).items() if count > 1}
        for n, (entry, environment) in enumerate(found):
            if labels[n] in repeated:
                suffixes[n] = teller(entry)
                labels[n] = _label(entry, environment, suffixes[n])
    while repeated := {label for label, count in Counter(labels).items() if count > 1}:
        for n, (entry, environment) in enumerate(found):
            if labels[n] in repeated:
                labels[n] = _label(entry, environment, f"{suffixes[n]} #{n + 1}")
    return [
        Action(
            label,
            ROLL_BACK_ACTION,
            f"{environment.option}|{entry.name}|{entry.entry_id}",
            "danger",
            _confirm(entry, environment, now),
        )
        for label, (entry, environment) in zip(labels, found, strict=True)
    ]


async def recent_changes(
    context: Context, environment: Environment, since: float, match: str = ""
) -> list[AuditEntry] | str:
    """The changes on ``environment`` since ``since`` (newest first), or why they are unknown."""
    try:
        entries = await context.stores[environment.option].changes_since(since, _LIMIT)
    except (StoreUnavailable, WrongKeyType) as error:
        return f"could not read {environment.name}'s changes ({error})"
    return [e for e in entries if match in e.name]


async def changes(plan: ChangesPlan, context: Context) -> Reply:
    window, match_text = plan.window_s, plan.match
    now = time.time()
    sections: list[Section] = []
    found: list[Found] = []
    failed = False
    for environment in plan.targets:
        entries = await recent_changes(context, environment, now - window, match_text)
        title = line(Strong(environment.name), f": flag changes in the last {span(window)}")
        if isinstance(entries, str):
            failed = True
            sections.append(Section((line(entries),), title))
            continue
        lines = tuple(change_line(e, now, context.config) for e in entries)
        sections.append(Section(lines or (line("none"),), title))
        found += [(e, environment) for e in entries]
    shown = undo_buttons(found[:MAX_BUTTONS], now)
    notes = (line(f"{len(found) - len(shown)} more changes have no button here: narrow with --match or --since."),)
    return Reply(
        not failed,
        f"flag changes in the last {span(window)}",
        tuple(sections),
        actions=tuple(shown),
        notes=notes if len(found) > len(shown) else (),
    )
