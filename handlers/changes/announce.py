"""After the writes: the reply (headline, before → after, an Undo button per environment), the
cross-posts (team, log, QA with the end-to-end pipeline) and the change-log issues."""

from __future__ import annotations

from dataclasses import dataclass, field

from flags import Change, ChangeResult, FlagState, RestoreState, SetPercentageOfActors, SetPercentageOfTime, SetScopes
from handlers.changes.events import publish_change
from handlers.changes.markdown import code_block, code_span
from handlers.changes.request import ChangeRequest
from handlers.changes.telling import (
    ROLL_BACK_ACTION,
    checks_line,
    checks_text,
    headline,
    headline_words,
    moved,
    undo_button,
)
from handlers.changes.watching import CHANGE_WATCH, watch_key
from handlers.config import Config, Environment
from handlers.core.context import Context
from handlers.core.reply import Action, Code, CrossPost, Line, Link, Reply, Section, line
from handlers.core.wording import channel_of, definition_note, once

__all__ = ["ROLL_BACK_ACTION", "Outcome", "announce", "shown_state", "told"]


@dataclass
class Outcome:
    """What the engine did: the rules' records and warnings, the writes done, and where it stopped."""

    checks: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Line, ...] = ()
    explained: set[str] = field(default_factory=set)  # the rules whose record a warning explains
    done: list[tuple[Environment, ChangeResult]] = field(default_factory=list)
    failure: Line | None = None
    not_attempted: list[Environment] = field(default_factory=list)  # after the failure
    failed_too: list[Line] = field(default_factory=list)  # independent writes: the other failures

    def stop(self, failure: Line, rest: list[Environment]) -> None:
        self.failure, self.not_attempted = failure, rest

    def failed(self, failure: Line) -> None:
        """An independent write failed; the others go on."""
        if self.failure is None:
            self.failure = failure
        else:
            self.failed_too.append(failure)


def shown_state(state: FlagState, exists: bool) -> str:
    """A flag's state as answers show it ("off" whether or not Flipper knows the flag: both read off)."""
    del exists
    return state.describe()


def _failure_lines(outcome: Outcome) -> list[Line]:
    if outcome.failure is None:
        return []
    lines = [outcome.failure, *outcome.failed_too]
    remaining = [e.name for e in outcome.not_attempted]
    if remaining:
        lines.append(line("Not attempted: " + ", ".join(remaining) + "."))
    lines.append(
        line(
            "Nothing is reported as done there or after: check with `feature get` and run the command "
            "again for those environments."
        )
    )
    return lines


async def announce(request: ChangeRequest, context: Context, outcome: Outcome) -> Reply:
    done, flag = outcome.done, request.flag
    reason: list[Line] = [line(f"Reason: {request.reason}")] if request.reason else []
    lines = [*reason, *moved(done), *_failure_lines(outcome)]
    lines += once((*outcome.warnings, checks_line(outcome.checks, outcome.explained)))
    if done:
        title = headline(request, (e for e, _ in done), context.config, context.origin)
        summary = f"{headline_words(request)}: {flag} on {', '.join(e.name for e, _ in done)}"
    else:
        title, summary = line(Code(flag), " was not changed"), f"{flag} was not changed"
    actions = tuple(undo_button(environment, flag, result) for environment, result in done)
    posts, notes = await told(request, context, outcome)
    return Reply(
        outcome.failure is None,
        summary,
        (Section(tuple(lines), title=title),),
        public=bool(done),
        cross_posts=posts,
        notes=tuple(notes),
        actions=actions,
    )


def _post_body(request: ChangeRequest, context: Context, outcome: Outcome) -> tuple[Section, tuple[Line, ...]]:
    """What the team and log channels read: the headline (with where it was typed), before → after,
    the checks worth a look; in small print the command and the flag's definition."""
    done = outcome.done
    title = headline(request, (e for e, _ in done), context.config, context.origin)
    title += line(" in ", channel_of(request.who))
    reason: list[Line] = [line(f"Reason: {request.reason}")] if request.reason else []
    lines = (*reason, *moved(done), *once((checks_line(outcome.checks),)))
    note = definition_note(request.flag, context.definitions)
    return Section(lines, title=title), (line(Code(request.command)), *((note,) if note else ()))


def _undo_here(channel: str, outcome: Outcome, request: ChangeRequest, config: Config) -> tuple[Action, ...]:
    """Undo buttons for the environments that may be changed from ``channel`` (the click is checked
    again, by channel ID, when pressed)."""
    return tuple(
        undo_button(environment, request.flag, result)
        for environment, result in outcome.done
        if not config.channels_for(environment) or channel in config.channels_for(environment)
    )


async def _cross_posts(
    request: ChangeRequest, context: Context, outcome: Outcome, remember: str
) -> tuple[tuple[CrossPost, ...], list[Line]]:
    done = outcome.done
    if not done:
        return (), []
    config, change = context.config, request.change
    body, small_print = _post_body(request, context, outcome)
    summary = f"{headline_words(request)}: {request.flag} on {', '.join(e.name for e, _ in done)}"
    posts: list[CrossPost] = []
    definition = context.definitions.get(request.flag)
    team_channel = config.teams.get(definition.group) if definition else None
    purposes = [(team_channel, "team channel")] if team_channel and any(e.production for e, _ in done) else []
    if config.slack.log_channel:
        purposes.append((config.slack.log_channel, "log channel"))
    for number, (channel, purpose) in enumerate(purposes, start=1):
        actions = _undo_here(channel, outcome, request, config)
        kept = remember if number == len(purposes) else ""  # the log channel's, else the team's: a watch replies there
        posts.append(CrossPost(channel, purpose, (body,), summary, actions=actions, notes=small_print, remember=kept))
    for environment, _result in done:
        if environment.qa_channel and change.enables:
            posts.append(await _qa_post(request, context, environment))
    notes: list[Line] = []
    services = context.app.services
    if services is not None and services.logs_issues:
        notes += await _log_issues(request, context, outcome)
    return tuple(posts), notes


def _triggers_e2e(environment: Environment, change: Change) -> bool:
    trigger = environment.e2e_trigger
    if trigger is None or not change.enables:
        return False
    if isinstance(change, SetScopes):  # scoped beyond the QA actors: not a change the QA suite covers
        return not change.groups and all(a.value in trigger.qa_actors for a in change.actors)
    return True


async def _qa_post(request: ChangeRequest, context: Context, environment: Environment) -> CrossPost:
    change = request.change
    text = f"Feature flag {request.flag} has been set to {change.value_text()} on {environment.name}"
    lines: list[Line] = [line(text)]
    services = context.app.services
    if services is not None and _triggers_e2e(environment, change):
        variables = {
            "FEATURE_FLAG": request.flag,
            "FEATURE_FLAG_VALUE": change.value_text(),
            "FEATURE_FLAG_ENVIRONMENT": environment.name,
        }
        try:
            url = await services.trigger_e2e(environment, variables)
            lines.append(line("End-to-end tests: ", Link(url, url) if url else "pipeline triggered"))
        except Exception as error:  # any failure of the trigger is reported, never raised
            lines.append(line(f":warning: the end-to-end pipeline could not be triggered: {error}"))
    assert environment.qa_channel is not None
    return CrossPost(environment.qa_channel, "QA channel", (Section(tuple(lines)),), text)


def _log_title(name: str, change: Change, environment: Environment) -> str:
    where = f"on {environment.name}"
    if change.describe() == "deleted":
        return f"Feature flag '{name}' has been deleted {where}"
    if isinstance(change, SetPercentageOfActors | SetPercentageOfTime):
        kind = "actors" if isinstance(change, SetPercentageOfActors) else "time"
        return f"Feature flag '{name}' has been set to '{change.percentage.text}%' of {kind} {where}"
    if isinstance(change, RestoreState):
        return f"Feature flag '{name}' has been rolled back to '{change.state.describe()}' {where}"
    return f"Feature flag '{name}' has been set to '{change.value_text()}' {where}"


async def _log_issues(request: ChangeRequest, context: Context, outcome: Outcome) -> list[Line]:
    services = context.app.services
    assert services is not None
    notes: list[Line] = []
    caller = request.who
    every = checks_text(outcome.checks)
    ignored = "production check ignored" in every
    for environment, result in outcome.done:
        labels = [environment.host or environment.name, "change"] + (["Production check ignored"] if ignored else [])
        checks = every
        description = "\n".join(
            [
                f"Changed by {code_span(caller.who)} in {code_span(caller.channel_label)}.",
                "Command:",
                code_block(request.command),
                f"Before: {code_span(shown_state(result.before, result.before_exists))}; "
                f"after: {code_span(shown_state(result.after, result.after_exists))} (version {result.version}).",
                *([f"Checks: {code_span(checks)}"] if checks else []),
            ]
        )
        try:
            await services.log_issue(_log_title(request.flag, request.change, environment), labels, description)
        except Exception as error:  # the change stands; say what could not be logged
            notes.append(line(f"Could not record the change-log issue for {environment.name}: {error}."))
    return notes


async def told(request: ChangeRequest, context: Context, outcome: Outcome) -> tuple[tuple[CrossPost, ...], list[Line]]:
    """Where every change the bot writes is told, whatever wrote it (a command, a button, a rollout
    step or abort, a schedule, a recovery after a crash): the team, log and QA posts, as a typed
    change's, and the change-log issues; notes of what could not be recorded."""
    post = watch_key(outcome.done, context.config)
    await publish_change(request, context, outcome.done)  # before the posts: the news outlives a crash now
    told = await _cross_posts(request, context, outcome, post)
    watch = context.app.ports.get(CHANGE_WATCH)
    if post and watch is not None:
        await watch.changed(request, outcome.done, post, context)
    return told
