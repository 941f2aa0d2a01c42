"""Changing a flag safely: checks, the writes, and everything said about it afterwards.

In order: read every target; refuse if a rule says no (rollout issue required, consistency
between staging and production, the production check — never for a change that only reduces
exposure); write each environment in configured order on condition that it did not change
meanwhile; then the reply with a Roll back button per environment, the cross-posts (team, log,
QA with the end-to-end pipeline), and the change-log issue.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Environment
from bot.metrics import PRODUCTION_CHECKS
from flags import (
    AuditInfo,
    Change,
    ChangeConflict,
    ChangeResult,
    FlagRecord,
    FlagState,
    RestoreState,
    SetBoolean,
    SetPercentageOfActors,
    SetPercentageOfTime,
    SetScopes,
    StoreUnavailable,
)
from handlers.context import Context
from handlers.definition_info import definition_section
from handlers.exposure import increases_exposure, percentage, simulate
from handlers.reply import (
    Action,
    Code,
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
from handlers.timefmt import utc

if TYPE_CHECKING:
    from handlers.feature import FeaturePlan

__all__ = ["roll_back", "run_change"]

SLOW_CHECK_NOTICE_S = 1.0
OVERRIDE_HINT = "If you are sure, talk to the on-call SRE, then run the command again with `--ignore-production-check`."


@dataclass(frozen=True, slots=True)
class _Target:
    environment: Environment
    record: FlagRecord
    after: FlagState
    after_exists: bool

    @property
    def increases(self) -> bool:
        return increases_exposure(self.record.state, self.after)


def _state(state: FlagState, exists: bool) -> str:
    return "not set" if not exists and state.is_empty else state.describe()


async def roll_back(plan: FeaturePlan, context: Context) -> Reply:
    """Restore the gates a recorded change found, if the flag is still as that change left it."""
    environment = plan.targets[0]
    store = context.stores[environment.option]
    try:
        entry = await store.entry(plan.name, plan.rollback_of)
    except StoreUnavailable as error:
        return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}); nothing was changed.")
    if entry is None:
        return error_reply("This button does not point at a change recorded for this flag; nothing was changed.")
    change = RestoreState(entry.before, entry.before_exists)
    return await run_change(plan, context, change=change, expected_version=entry.version, rolling_back=True)


async def run_change(
    plan: FeaturePlan,
    context: Context,
    *,
    change: Change | None = None,
    expected_version: int | None = None,
    rolling_back: bool = False,
) -> Reply:
    change = change or plan.change
    assert change is not None
    safety = context.config.safety
    targets: list[_Target] = []
    for environment in plan.targets:
        try:
            record = await context.stores[environment.option].get(plan.name)
        except StoreUnavailable as error:
            return error_reply(
                f"Could not reach Redis for {environment.name} ({error.reason}). "
                "Nothing was changed in any environment."
            )
        after, after_exists = simulate(record.state, record.exists, change)
        targets.append(_Target(environment, record, after, after_exists))
    if expected_version is not None and targets[0].record.version != expected_version:
        return await _changed_since(plan, context, targets[0], expected_version, targets[0].record.version)

    checks: dict[str, str] = {}
    warnings: list[Line] = []
    refusal = _rollout_issue_rule(plan, context, targets) or await _consistency_rule(plan, context, targets, checks)
    if refusal is not None:
        return refusal
    refusal = await _production_check(plan, context, targets, checks)
    if refusal is not None:
        return refusal
    for target in targets:
        warnings += _percentage_jump(target, safety.percentage_step)

    caller = context.caller
    command = f"/chatops {plan.invocation.text}".strip() if not rolling_back else (
        f"Roll back button on change {plan.rollback_of}"
    )  # fmt: skip
    audit = AuditInfo(
        who=caller.user_name or caller.user_id, who_id=caller.user_id, channel=caller.channel_label,
        command=command, checks=checks,
    )  # fmt: skip
    done: list[tuple[Environment, ChangeResult]] = []
    failure: Line | None = None
    for target in targets:
        version = expected_version if expected_version is not None else target.record.version
        try:
            result = await context.stores[target.environment.option].apply(
                plan.name, change, audit, expected_version=version
            )
        except StoreUnavailable as error:
            failure = line("Failed on ", Strong(target.environment.name),
                           f": could not reach Redis for {target.environment.name} ({error.reason}).")  # fmt: skip
            break
        except ChangeConflict as conflict:
            if rolling_back:
                return await _changed_since(plan, context, target, version, conflict.actual)
            failure = line("Stopped at ", Strong(target.environment.name),
                           ": the flag changed there while the checks ran.")  # fmt: skip
            break
        done.append((target.environment, result))
    return await _reply(plan, context, change, done, failure, checks, warnings)


async def _changed_since(plan: FeaturePlan, context: Context, target: _Target, version: int, now: int) -> Reply:
    store = context.stores[target.environment.option]
    lines = [line(f"{plan.name} on {target.environment.name} changed since that change (version {version}, "
                  f"now {now}), so it was not rolled back and nothing was changed.")]  # fmt: skip
    try:
        newer = await store.history(plan.name, limit=1)
    except StoreUnavailable as error:
        lines.append(line(f"(The newer change could not be read: could not reach Redis for {error.environment}.)"))
        newer = []
    if newer:
        entry = newer[0]
        who: Line = (Mention(entry.who_id, entry.who),) if entry.who_id else (entry.who,)
        lines.append(line("Newer change: ", Code(entry.description), " by ", *who, f" at {utc(entry.at)} in ",
                          f"{entry.channel or 'an unknown channel'}; now ",
                          Code(entry.after.describe()), "."))  # fmt: skip
    return Reply(False, f"{plan.name} changed since; not rolled back", (Section(tuple(lines)),))


def _rollout_issue_rule(plan: FeaturePlan, context: Context, targets: list[_Target]) -> Reply | None:
    if not context.config.safety.require_rollout_issue:
        return None
    definition = context.definitions.get(plan.name)
    if definition is not None and definition.rollout_issue_url:
        return None
    for target in targets:
        if target.environment.production and target.increases:
            return error_reply(
                f"Enabling {plan.name} in {target.environment.name} needs a rollout issue: add "
                "`rollout_issue_url` to its definition first. Nothing was changed in any environment."
            )
    return None


async def _consistency_rule(
    plan: FeaturePlan, context: Context, targets: list[_Target], checks: dict[str, str]
) -> Reply | None:
    """Production needs staging enabled first; staging cannot be disabled while production is enabled."""
    config = context.config
    pair_option = config.safety.consistency_environment
    pair_env = config.environment(pair_option) if pair_option else None
    if pair_env is None:
        return None
    pair = next((t for t in targets if t.environment.option == pair_env.option), None)
    productions = [t for t in targets if t.environment.production]
    disables_pair = pair is not None and pair.after.is_empty and not pair.record.state.is_empty
    enables_production = any(t.increases for t in productions)
    if not (enables_production or disables_pair):
        return None
    if plan.invocation.flag("ignore-feature-flag-consistency-check"):
        checks["consistency_check"] = "ignored (--ignore-feature-flag-consistency-check)"
        return None
    hint = (
        " Or, if you know why, add `--ignore-feature-flag-consistency-check`. Nothing was changed in any environment."
    )

    async def state_of(environment: Environment) -> FlagState:
        target = next((t for t in targets if t.environment.option == environment.option), None)
        if target is not None:
            return target.after  # as this command leaves it
        return (await context.stores[environment.option].get(plan.name)).state

    try:
        for production in productions:
            if not production.increases:
                continue
            problem = _staging_short_of(await state_of(pair_env), production.after)
            if problem:
                return error_reply(
                    f"{plan.name} is {problem} in {pair_env.name}, so it cannot be enabled this far in "
                    f"{production.environment.name}: roll it out in {pair_env.name} first "
                    f"(`/chatops run feature set {plan.name} true --{pair_env.option}`)." + hint
                )
        if disables_pair and pair is not None:
            for environment in config.environments:
                state = await state_of(environment) if environment.production else FlagState()
                if not state.is_empty:
                    return error_reply(
                        f"{plan.name} is still enabled in {environment.name} ({state.describe()}), so it cannot "
                        f"be disabled in {pair.environment.name}: disable it in {environment.name} first." + hint
                    )
    except StoreUnavailable as error:
        return error_reply(
            f"Could not check consistency: could not reach Redis for {error.environment} ({error.reason}). "
            "Nothing was changed in any environment."
        )
    checks["consistency_check"] = "passed"
    return None


def _staging_short_of(staging: FlagState, production: FlagState) -> str | None:
    """Why ``staging`` is not enabled enough for ``production``, or None."""
    if staging.boolean:
        return None
    if production.boolean:
        return "not fully enabled (true)" if not staging.is_empty else "not enabled"
    for gate in ("percentage_of_actors", "percentage_of_time"):
        if percentage(getattr(production, gate)) > percentage(getattr(staging, gate)):
            return f"at {percentage(getattr(staging, gate)):g}% {gate.removeprefix('percentage_of_')}"
    if staging.is_empty:
        return "not enabled"
    return None


async def _production_check(
    plan: FeaturePlan, context: Context, targets: list[_Target], checks: dict[str, str]
) -> Reply | None:
    productions = [t for t in targets if t.environment.production]
    if not productions:
        return None
    if not any(t.increases for t in productions):
        checks["production_check"] = "skipped: the change only reduces exposure"
        PRODUCTION_CHECKS.labels("skipped").inc()
        return None
    if plan.invocation.flag("ignore-production-check"):
        checks["production_check"] = (
            f"ignored (--ignore-production-check) by {context.caller.user_name or context.caller.user_id}"
        )
        PRODUCTION_CHECKS.labels("ignored").inc()
        return None
    services = context.services
    if services is None or not services.production_check_configured:
        checks["production_check"] = "not configured"
        return None
    notice = asyncio.create_task(_notice_if_slow(context))
    try:
        results = await services.production_check()
    finally:
        notice.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await notice
    failed = [r for r in results if not r.ok]
    PRODUCTION_CHECKS.labels("failed" if failed else "passed").inc()
    if not failed:
        checks["production_check"] = "passed"
        return None
    lines = [line(f"The production check failed, so {plan.name} was not changed in any environment:")]
    lines += [line("• ", reason) for r in failed for reason in r.reasons]
    lines.append(line(OVERRIDE_HINT))
    return Reply(
        False,
        "Production check failed",
        (Section(tuple(lines), title=line(Strong("Production check failed"))),),
    )


async def _notice_if_slow(context: Context) -> None:
    await asyncio.sleep(SLOW_CHECK_NOTICE_S)
    if context.notify is not None:
        await context.notify("Production check running… (Alertmanager, HTTP checks, deployments)")


def _percentage_jump(target: _Target, step: float | None) -> list[Line]:
    if step is None or not target.environment.production:
        return []
    warnings = []
    for gate, kind in (("percentage_of_actors", "actors"), ("percentage_of_time", "time")):
        before = percentage(getattr(target.record.state, gate))
        after = percentage(getattr(target.after, gate))
        if after - before > step:
            warnings.append(line(f":warning: {target.environment.name}: percentage of {kind} rose from {before:g}% to "
                                 f"{after:g}%, more than the {step:g}-point step; watch the dashboards."))  # fmt: skip
    return warnings


# -- after the writes ------------------------------------------------------------------------------


def _checks_line(checks: dict[str, str]) -> Line:
    if not checks:
        return ()
    return line("Checks: " + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(checks.items())))


def _enables(change: Change) -> bool:
    if isinstance(change, SetBoolean):
        return change.value
    if isinstance(change, SetScopes):
        return change.enabled
    if isinstance(change, SetPercentageOfActors | SetPercentageOfTime):
        return change.percentage.value > 0
    return False


def _value_text(change: Change) -> str:
    if isinstance(change, SetBoolean):
        return str(change.value).lower()
    if isinstance(change, SetScopes):
        names = [a.value for a in change.actors] + [g.value for g in change.groups]
        return f"{str(change.enabled).lower()} for {', '.join(names)}"
    if isinstance(change, SetPercentageOfActors):
        return f"{change.percentage.text}% of actors"
    if isinstance(change, SetPercentageOfTime):
        return f"{change.percentage.text}% of time"
    return change.describe()


def _log_title(name: str, change: Change, environment: Environment) -> str:
    if change.describe() == "deleted":
        return f"Feature flag '{name}' has been deleted on {environment.name}"
    if isinstance(change, SetPercentageOfActors):
        return f"Feature flag '{name}' has been set to '{change.percentage.text}%' of actors on {environment.name}"
    if isinstance(change, SetPercentageOfTime):
        return f"Feature flag '{name}' has been set to '{change.percentage.text}%' of time on {environment.name}"
    if isinstance(change, RestoreState):
        return f"Feature flag '{name}' has been rolled back to '{change.state.describe()}' on {environment.name}"
    return f"Feature flag '{name}' has been set to '{_value_text(change)}' on {environment.name}"


def _triggers_e2e(environment: Environment, change: Change) -> bool:
    trigger = environment.e2e_trigger
    if trigger is None or not _enables(change):
        return False
    if isinstance(change, SetScopes):  # scoped beyond the QA actors: not a change the QA suite covers
        return not change.groups and all(a.value in trigger.qa_actors for a in change.actors)
    return True


async def _reply(
    plan: FeaturePlan, context: Context, change: Change, done: list[tuple[Environment, ChangeResult]],
    failure: Line | None, checks: dict[str, str], warnings: list[Line],
) -> Reply:  # fmt: skip
    caller = context.caller
    who = Mention(caller.user_id, caller.user_name)
    names = ", ".join(e.name for e, _ in done)
    verb = change.describe()
    lines: list[Line] = [
        line(Strong(environment.name), ": ", Code(_state(result.before, result.before_exists)), " → ",
             Code(_state(result.after, result.after_exists)), f" (version {result.version})")
        for environment, result in done
    ]  # fmt: skip
    if failure is not None:
        lines.append(failure)
        remaining = [t.name for t in plan.targets[len(done) + 1 :]]
        if remaining:
            lines.append(line("Not attempted: " + ", ".join(remaining) + "."))
        lines.append(line("Nothing is reported as done there or after: check with `feature get` and run the command "
                          "again for those environments."))  # fmt: skip
    lines += warnings
    checks_line = _checks_line(checks)
    if checks_line:
        lines.append(checks_line)
    title = (
        line("Feature flag ", Code(plan.name), f" {verb} on {names} by ", who)
        if done else line("Feature flag ", Code(plan.name), " was not changed")
    )  # fmt: skip
    sections = (Section(tuple(lines), title=title), *definition_section(plan.name, context))
    summary = f"Feature flag {plan.name} {verb} on {names}" if done else f"{plan.name} was not changed"
    actions = tuple(
        Action(f"Roll back {environment.name}", "rollback", f"{environment.option}|{plan.name}|{result.entry_id}",
               "danger")
        for environment, result in done
    )  # fmt: skip
    posts, notes = await _cross_posts(plan, context, change, done, checks_line)
    return Reply(failure is None, summary, sections, public=bool(done), cross_posts=posts, notes=tuple(notes),
                 actions=actions)  # fmt: skip


async def _cross_posts(
    plan: FeaturePlan, context: Context, change: Change, done: list[tuple[Environment, ChangeResult]],
    checks_line: Line,
) -> tuple[tuple[CrossPost, ...], list[Line]]:  # fmt: skip
    if not done:
        return (), []
    caller, config = context.caller, context.config
    who = Mention(caller.user_id, caller.user_name)
    names = ", ".join(e.name for e, _ in done)
    verb = change.describe()
    summary = f"Feature flag {plan.name} {verb} on {names}"
    command = plan.invocation.text if plan.subcommand != "rollback" else f"Roll back button ({plan.rollback_of})"
    announce = line("Feature flag ", Code(plan.name), f" {verb} on {names} by ", who, f" in {caller.channel_label}")
    body_lines = [announce, line(Code(f"/chatops {command}" if plan.subcommand != "rollback" else command))]
    if checks_line:
        body_lines.append(checks_line)
    body = (Section(tuple(body_lines)), *definition_section(plan.name, context))
    posts: list[CrossPost] = []
    notes: list[Line] = []
    definition = context.definitions.get(plan.name)
    team_channel = config.teams.get(definition.group) if definition else None
    if team_channel and any(e.production for e, _ in done):
        posts.append(CrossPost(team_channel, "team channel", body, summary))
    if config.slack.log_channel:
        posts.append(CrossPost(config.slack.log_channel, "log channel", body, summary))
    for environment, _result in done:
        if environment.qa_channel and _enables(change):
            posts.append(await _qa_post(plan, context, change, environment))
    if context.services is not None and context.services.logs_issues:
        notes += await _log_issues(plan, context, change, done, checks_line)
    return tuple(posts), notes


async def _qa_post(plan: FeaturePlan, context: Context, change: Change, environment: Environment) -> CrossPost:
    text = f"Feature flag {plan.name} has been set to {_value_text(change)} on {environment.name}"
    lines: list[Line] = [line(text)]
    services = context.services
    if services is not None and _triggers_e2e(environment, change):
        variables = {"FEATURE_FLAG": plan.name, "FEATURE_FLAG_VALUE": _value_text(change),
                     "FEATURE_FLAG_ENVIRONMENT": environment.name}  # fmt: skip
        try:
            url = await services.trigger_e2e(environment, variables)
            lines.append(line("End-to-end tests: ", Link(url, url) if url else "pipeline triggered"))
        except Exception as error:  # any failure of the trigger is reported, never raised
            lines.append(line(f":warning: the end-to-end pipeline could not be triggered: {error}"))
    assert environment.qa_channel is not None
    return CrossPost(environment.qa_channel, "QA channel", (Section(tuple(lines)),), text)


async def _log_issues(
    plan: FeaturePlan, context: Context, change: Change, done: list[tuple[Environment, ChangeResult]],
    checks_line: Line,
) -> list[Line]:  # fmt: skip
    services = context.services
    assert services is not None
    notes: list[Line] = []
    caller = context.caller
    ignored = "production check ignored" in "".join(s for s in checks_line if isinstance(s, str))
    for environment, result in done:
        labels = [environment.host or environment.name, "change"] + (["Production check ignored"] if ignored else [])
        description = "\n".join([
            f"Changed by {caller.user_name or caller.user_id} in {caller.channel_label}.",
            f"Command: `/chatops {plan.invocation.text}`",
            f"Before: `{_state(result.before, result.before_exists)}`; "
            f"after: `{_state(result.after, result.after_exists)}`"
            f" (version {result.version}).",
            "".join(str(s) for s in checks_line),
        ])  # fmt: skip
        try:
            await services.log_issue(_log_title(plan.name, change, environment), labels, description)
        except Exception as error:  # the change stands; say what could not be logged
            notes.append(line(f"Could not record the change-log issue for {environment.name}: {error}."))
    return notes
