"""After the writes: the reply with a Roll back button per environment, the cross-posts (team,
log, QA with the end-to-end pipeline) and the change-log issues."""

from __future__ import annotations

from dataclasses import dataclass, field

from flags import Change, ChangeResult, FlagState, RestoreState, SetPercentageOfActors, SetPercentageOfTime, SetScopes
from handlers.changes.markdown import code_block, code_span
from handlers.changes.request import ChangeRequest
from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.definition_info import definition_section
from handlers.core.reply import Action, Code, Confirm, CrossPost, Line, Link, Mention, Reply, Section, Strong, line

__all__ = ["ROLL_BACK_ACTION", "Outcome", "announce", "shown_state"]

ROLL_BACK_ACTION = "rollback"  # the action_id of Roll back buttons


@dataclass
class Outcome:
    """What the engine did: the rules' records and warnings, the writes done, and where it stopped."""

    checks: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Line, ...] = ()
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


def _checks_line(checks: dict[str, str]) -> Line:
    if not checks:
        return ()
    return line("Checks: " + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(checks.items())))


async def announce(request: ChangeRequest, context: Context, outcome: Outcome) -> Reply:
    done, flag = outcome.done, request.flag
    who = Mention(request.who.user_id, request.who.user_name)
    names = ", ".join(e.name for e, _ in done)
    verb = request.change.describe()
    lines: list[Line] = [
        line(
            Strong(environment.name),
            ": ",
            Code(shown_state(result.before, result.before_exists)),
            " → ",
            Code(shown_state(result.after, result.after_exists)),
            f" (version {result.version})",
        )
        for environment, result in done
    ]
    if outcome.failure is not None:
        lines.append(outcome.failure)
        lines += outcome.failed_too
        remaining = [e.name for e in outcome.not_attempted]
        if remaining:
            lines.append(line("Not attempted: " + ", ".join(remaining) + "."))
        lines.append(
            line(
                "Nothing is reported as done there or after: check with `feature get` and run the command "
                "again for those environments."
            )
        )
    lines += outcome.warnings
    checks_line = _checks_line(outcome.checks)
    if checks_line:
        lines.append(checks_line)
    title = (
        line("Feature flag ", Code(flag), f" {verb} on {names} by ", who)
        if done
        else line("Feature flag ", Code(flag), " was not changed")
    )
    sections = (Section(tuple(lines), title=title), *definition_section(flag, context.definitions))
    summary = f"Feature flag {flag} {verb} on {names}" if done else f"{flag} was not changed"
    actions = tuple(_roll_back_button(environment, flag, result) for environment, result in done)
    posts, notes = await _cross_posts(request, context, outcome, checks_line)
    return Reply(
        outcome.failure is None,
        summary,
        sections,
        public=bool(done),
        cross_posts=posts,
        notes=tuple(notes),
        actions=actions,
    )


def _roll_back_button(environment: Environment, flag: str, result: ChangeResult) -> Action:
    label = f"Roll back {environment.name}"
    confirm = Confirm("Roll back?", f"{label}: restore the flag as it was before this change.", "Roll back")
    value = f"{environment.option}|{flag}|{result.entry_id}"
    return Action(label, ROLL_BACK_ACTION, value, "danger", confirm)


async def _cross_posts(
    request: ChangeRequest, context: Context, outcome: Outcome, checks_line: Line
) -> tuple[tuple[CrossPost, ...], list[Line]]:
    done = outcome.done
    if not done:
        return (), []
    config, caller, flag, change = context.config, request.who, request.flag, request.change
    names = ", ".join(e.name for e, _ in done)
    summary = f"Feature flag {flag} {change.describe()} on {names}"
    announce_line = line(
        "Feature flag ",
        Code(flag),
        f" {change.describe()} on {names} by ",
        Mention(caller.user_id, caller.user_name),
        f" in {caller.channel_label}",
    )
    body_lines = [announce_line, line(Code(request.command))]
    if checks_line:
        body_lines.append(checks_line)
    body = (Section(tuple(body_lines)), *definition_section(flag, context.definitions))
    posts: list[CrossPost] = []
    definition = context.definitions.get(flag)
    team_channel = config.teams.get(definition.group) if definition else None
    if team_channel and any(e.production for e, _ in done):
        posts.append(CrossPost(team_channel, "team channel", body, summary))
    if config.slack.log_channel:
        posts.append(CrossPost(config.slack.log_channel, "log channel", body, summary))
    for environment, _result in done:
        if environment.qa_channel and change.enables:
            posts.append(await _qa_post(request, context, environment))
    notes: list[Line] = []
    services = context.app.services
    if services is not None and services.logs_issues:
        notes += await _log_issues(request, context, outcome, checks_line)
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


async def _log_issues(request: ChangeRequest, context: Context, outcome: Outcome, checks_line: Line) -> list[Line]:
    services = context.app.services
    assert services is not None
    notes: list[Line] = []
    caller = request.who
    ignored = "production check ignored" in "".join(s for s in checks_line if isinstance(s, str))
    for environment, result in outcome.done:
        labels = [environment.host or environment.name, "change"] + (["Production check ignored"] if ignored else [])
        checks = "".join(str(s) for s in checks_line).removeprefix("Checks: ")
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
