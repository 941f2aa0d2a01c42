"""Recent flag changes, newest first, each with a Roll back button: ``feature changes`` and the
message an alert gets ("which flag changed before this alert?")."""

from __future__ import annotations

import time

from flags import AuditEntry, StoreUnavailable, WrongKeyType
from handlers.changes import ROLL_BACK_ACTION
from handlers.changes.announce import shown_state
from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.reply import Action, Code, Confirm, Line, Mention, Reply, Section, Strong, line
from handlers.core.timefmt import ago, span
from handlers.incidents.plans import ChangesPlan

__all__ = ["MAX_BUTTONS", "changes", "recent_changes"]

MAX_BUTTONS = 20  # Roll back buttons in one message (Slack allows 25 elements in an actions block)
_LIMIT = 200  # changes read per environment


def change_line(entry: AuditEntry, now: float) -> Line:
    """``NAME 10% of actors → 50% of actors by @bob 6 min ago``."""
    who: Line = (Mention(entry.who_id, entry.who),) if entry.who_id else (entry.who,)
    return line(
        Code(entry.name),
        f" {shown_state(entry.before, entry.before_exists)} → {shown_state(entry.after, entry.after_exists)} by ",
        *who,
        f" {ago(entry.at.timestamp(), now)}",
    )


def roll_back_button(entry: AuditEntry, environment: Environment) -> Action:
    label = f"Roll back this change ({entry.name[:30]} on {environment.name})"
    confirm = Confirm(
        "Roll back?", f"Restore {entry.name} on {environment.name} as it was before this change.", "Roll back"
    )
    return Action(label, ROLL_BACK_ACTION, f"{environment.option}|{entry.name}|{entry.entry_id}", "danger", confirm)


async def recent_changes(
    context: Context, environment: Environment, since: float, match: str = ""
) -> tuple[list[Line], list[Action]] | str:
    """The changes on ``environment`` since ``since`` (newest first) and their buttons, or why not."""
    try:
        entries = await context.stores[environment.option].changes_since(since, _LIMIT)
    except (StoreUnavailable, WrongKeyType) as error:
        return f"could not read {environment.name}'s changes ({error})"
    now = time.time()
    entries = [e for e in entries if match in e.name]
    return [change_line(e, now) for e in entries], [roll_back_button(e, environment) for e in entries]


async def changes(plan: ChangesPlan, context: Context) -> Reply:
    window, match_text = plan.window_s, plan.match
    since = time.time() - window
    sections: list[Section] = []
    buttons: list[Action] = []
    failed = False
    for environment in plan.targets:
        found = await recent_changes(context, environment, since, match_text)
        title = line(Strong(environment.name), f": flag changes in the last {span(window)}")
        if isinstance(found, str):
            failed = True
            sections.append(Section((line(found),), title))
            continue
        lines, actions = found
        sections.append(Section(tuple(lines) or (line("none"),), title))
        buttons += actions
    shown = buttons[:MAX_BUTTONS]
    notes = (line(f"{len(buttons) - len(shown)} more changes have no button here: narrow with --match or --since."),)
    return Reply(
        not failed,
        f"flag changes in the last {span(window)}",
        tuple(sections),
        actions=tuple(shown),
        notes=notes if len(buttons) > len(shown) else (),
    )
