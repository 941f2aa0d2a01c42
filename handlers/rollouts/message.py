"""The rollout's message, and what each of its events posts.

The message (posted when the rollout starts, then updated in place) shows the plan with each
step's time, where it stands, the guard, who started it, its last events in plain words, and
only the buttons that apply now: Pause and Next step while it runs, Resume while it is paused,
Abort while it is either, none once it is done or aborted. An event (a step, a pause, an
abort) is a reply in the message's thread, and the message is brought up to date with it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from handlers.changes.announce import shown_state
from handlers.checks.metric_checks import display_name, shown
from handlers.config import Config
from handlers.core.context import Application
from handlers.core.reply import Action, Code, Confirm, CrossPost, Line, Mention, Reply, Section, Strong, line
from handlers.core.timefmt import span, utc
from handlers.rollouts.store import Rollout

__all__ = ["alerted", "buttons", "card_post", "event", "progress_posts", "step_text"]


def step_text(found: Rollout, percentage: float) -> str:
    """What a step makes of the flag: ``10% of actors``, ``5% of time``, ``on`` (the last, at 100%)."""
    if percentage >= 100:
        return "on"
    return f"{percentage:g}% of {'time' if found.kind == 'random' else 'actors'}"


def event(every_s: float, text: str) -> str:
    """One entry of a rollout's event list, said now: when (to the second when its steps are less
    than an hour apart, else to the minute with the date) and what happened, in plain words."""
    now = time.time()
    when = utc(now) if every_s >= 3600 else datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S UTC")
    return f"{when}: {text}"


def card_post(found: Rollout, config: Config, *, started: bool = False) -> CrossPost:
    """The rollout's message: the plan with each step's time, where it stands, the guard, who
    started it, the last events, and the buttons that apply now (an update of its message once it
    has one)."""
    who = Mention(found.who.user_id, found.who.user_name)
    lines: list[Line] = [
        line(f"Step {found.step_label(number)}: {step_text(found, percentage)} — {_when(found, number)}")
        for number, percentage in enumerate(found.steps, start=1)
    ]
    guard = ", ".join(found.guard) if found.guard else "none (no Alertmanager matchers)"
    approved = f", approved by {found.approved_by} (for every step)" if found.approved_by else ""
    lines.append(line(f"Alert guard: {guard}. Every {span(found.every_s)}. Started by ", who, f"{approved}."))
    if found.metrics:
        lines.append(line(_metric_line(found, config)))
    events = found.history[-5:]
    if found.reason and not any(found.reason in entry for entry in events):  # a record from before events said it
        lines.append(line(f"{found.status.capitalize()}: {found.reason}"))
    lines += [line(entry) for entry in events]
    verb = "started" if started else found.status
    where = ", ".join(config.environment_name(o) for o in found.options)
    title = line(f"Rollout {found.id} of ", Code(found.flag), f" on {where}: ", Strong(verb))
    summary = f"rollout {found.id} of {found.flag}: {verb}"
    return CrossPost(
        found.who.channel_id,
        "rollout",
        (Section(tuple(lines), title),),
        summary,
        buttons(found, config),
        replaces=found.message,
    )


def _metric_line(found: Rollout, config: Config) -> str:
    """``Metric checks: error ratio (before: gstg 0.41%); 2 failing readings in a row abort.``"""
    metrics = config.metrics
    if metrics is None:
        return f"Metric checks: {', '.join(found.metrics)} (no Prometheus is configured now: not read)."
    said = []
    for name in found.metrics:
        check = metrics.checks.get(name)
        values = [
            f"{key.partition('@')[2]} {shown(check, value)}"
            for key, value in found.baselines.items()
            if check is not None and key.partition("@")[0] == name
        ]
        said.append(f"{display_name(name)} (before: {', '.join(values)})" if values else display_name(name))
    return f"Metric checks: {'; '.join(said)}; {metrics.failure_limit} failing readings in a row abort."


def _when(found: Rollout, number: int) -> str:
    if number <= found.done:
        return "done"
    if found.status == "paused":
        return "when resumed"
    if found.status != "running":
        return "not written"
    first = found.due if found.due is not None else time.time()
    return f"due {utc(first + (number - found.done - 1) * found.every_s, seconds=found.every_s < 3600)}"


def buttons(found: Rollout, config: Config) -> tuple[Action, ...]:
    """The buttons that apply now: Pause and Next step while it runs (Next step not for an approved
    rollout, whose pace was approved), Resume while it is paused, Abort while it is either."""
    if not found.active:
        return ()
    where = ", ".join(config.environment_name(o) for o in found.options)
    if found.status == "paused":
        out = [Action(f"Resume {found.id}", "rollout_resume", found.id)]
    else:
        out = [Action(f"Pause {found.id}", "rollout_pause", found.id)]
    if found.status == "running" and not found.approved_by and found.done < len(found.steps):
        label, what = found.step_label(found.done + 1), step_text(found, found.steps[found.done])
        ask = f"Set {found.flag} on {where} to {what} now (step {label}), without waiting for its time."
        out.append(
            Action(
                f"Next step now: {what}", "rollout_next", found.id, confirm=Confirm("Next step now?", ask, "Write it")
            )
        )
    ask = f"Stop {found.id} and restore {found.flag} as it was before the rollout: {_before(found, config)}."
    out.append(
        Action(f"Abort {found.id} & roll back", "rollout_abort", found.id, "danger", Confirm("Abort?", ask, "Abort"))
    )
    return tuple(out)


def _before(found: Rollout, config: Config) -> str:
    """Each environment's state before the rollout, environments alike together: ``off on gstg, gprd``."""
    alike: dict[str, list[str]] = {}
    for option in found.options:
        if option in found.before:
            alike.setdefault(shown_state(*found.before[option]), []).append(config.environment_name(option))
    return "; ".join(f"{state} on {', '.join(names)}" for state, names in alike.items()) or "unknown"


def alerted(app: Application, found: Rollout) -> Line:
    """Who hears that an alert aborted the rollout: its starter, and the on-call group if configured."""
    who: Line = (Mention(found.who.user_id, found.who.user_name),)
    group = app.config.slack.oncall_usergroup
    return (*who, ", ", Mention(group, "on-call")) if group else who


def progress_posts(found: Rollout, config: Config, title: Line, replies: Sequence[Reply] = ()) -> list[CrossPost]:
    """What an event (a step, a pause, an abort) posts: a reply in the rollout message's thread
    (the step's own answer, with its Roll back buttons) and the message brought up to date."""
    lines: list[Line] = []
    actions: list[Action] = []
    for reply in replies:
        lines += reply.all_lines()
        actions += list(reply.actions)
    event_post = CrossPost(
        found.who.channel_id,
        "rollout",
        (Section(tuple(lines), title),),
        f"rollout {found.id}",
        tuple(actions),
        thread=found.message,
    )
    return [event_post, card_post(found, config)] if found.message else [event_post]
