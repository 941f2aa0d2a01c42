"""The change engine: read every target, run the safety rules, write, then say what happened.

Each environment is written in configured order on condition that it did not change since it
was read; the first failure stops the rest and the answer says where. A roll back restores what
a recorded change found, if the flag is still as that change left it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from flags import AuditInfo, ChangeConflict, ChangeResult, DeleteFlag, FlagRecord, RestoreState, StoreUnavailable
from flags.exposure import simulate
from handlers.changes.announce import Outcome, announce
from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules import RULES, SafetyRule
from handlers.changes.rules.base import NOTHING_CHANGED
from handlers.config import Environment
from handlers.core.context import Context
from handlers.core.notices import notice_if_slow
from handlers.core.reply import Code, Line, Mention, Reply, Section, Strong, error_reply, line
from handlers.core.timefmt import utc

__all__ = ["STILL_TRYING_S", "WRITE_DEADLINE_S", "apply_change", "roll_back"]

STILL_TRYING_S = 3.0  # a write slower than this is announced ("still trying")
WRITE_DEADLINE_S = 15.0  # a write not confirmed by then is reported as unknown, and the rest not attempted


async def roll_back(flag: str, environment: Environment, entry_id: str, context: Context) -> Reply:
    """Restore the gates a recorded change found, if the flag is still as that change left it."""
    store = context.stores[environment.option]
    try:
        entry = await store.entry(flag, entry_id)
    except StoreUnavailable as error:
        return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}); nothing was changed.")
    if entry is None:
        return error_reply("This button does not point at a change recorded for this flag; nothing was changed.")
    request = ChangeRequest(
        flag=flag,
        targets=(environment,),
        change=RestoreState(entry.before, entry.before_exists),
        who=context.caller,
        command=f"Roll back button on change {entry_id}",
        expected_version=entry.version,
        rollback_of=entry_id,
    )
    return await apply_change(request, context)


async def apply_change(request: ChangeRequest, context: Context, rules: tuple[SafetyRule, ...] = RULES) -> Reply:
    targets: list[Target] = []
    for environment in request.targets:
        try:
            record = await context.stores[environment.option].get(request.flag)
        except StoreUnavailable as error:
            return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}). {NOTHING_CHANGED}")
        targets.append(_target(environment, record, request))
    targets, absent = _without_absent(request, targets)
    if not targets:
        where = ", ".join(e.name for e in absent)
        return error_reply(f"There is no flag {request.flag} on {where}: nothing was deleted.")
    expected = request.expected_version
    if expected is not None and targets[0].record.version != expected:
        return await _changed_since(request, context, targets[0], expected, targets[0].record.version)

    outcome = Outcome()
    if absent:
        where = ", ".join(e.name for e in absent)
        outcome.warnings += (line(f"There is no flag {request.flag} on {where}: nothing to delete there."),)
    for rule in rules:
        if not rule.applies(request, targets, context):
            continue
        verdict = await rule.check(request, targets, context)
        if verdict.refusal is not None:
            return verdict.refusal
        if verdict.record is not None:
            outcome.checks[rule.name] = verdict.record
        outcome.warnings += verdict.warnings

    who = request.who
    audit = AuditInfo(
        who=who.who, who_id=who.user_id, channel=who.channel_label, command=request.command, checks=outcome.checks
    )
    for index, target in enumerate(targets):
        rest = [t.environment for t in targets[index + 1 :]]
        version = expected if expected is not None else target.record.version
        environment = target.environment
        write = context.stores[environment.option].apply(request.flag, request.change, audit, expected_version=version)
        try:
            result = await _bounded_write(write, environment, context)
        except TimeoutError:
            reason = (
                f": Redis did not confirm the write within {WRITE_DEADLINE_S:g} s. It may still be applied "
                "when Redis accepts writes again: check with `feature get` before running it again."
            )
            outcome.stop(line("No answer from ", Strong(environment.name), reason), rest)
            break
        except StoreUnavailable as error:
            reason = f": could not reach Redis for {environment.name} ({error.reason})."
            outcome.stop(line("Failed on ", Strong(environment.name), reason), rest)
            break
        except ChangeConflict as conflict:
            if request.rollback_of:
                return await _changed_since(request, context, target, version, conflict.actual)
            if await _already_so(target, request.flag, context):
                outcome.warnings += (
                    line(
                        f"{environment.name}: already so — someone made the same change meanwhile; not written again."
                    ),
                )
                continue
            reason = ": the flag changed there while the checks ran."
            outcome.stop(line("Stopped at ", Strong(environment.name), reason), rest)
            break
        outcome.done.append((environment, result))
    return await announce(request, context, outcome)


async def _bounded_write(write: Awaitable[ChangeResult], environment: Environment, context: Context) -> ChangeResult:
    """The write, within WRITE_DEADLINE_S; the person hears "still trying" after STILL_TRYING_S."""
    still_trying = f"Still trying to write to Redis for {environment.name}…"
    async with notice_if_slow(context.notify, STILL_TRYING_S, still_trying), asyncio.timeout(WRITE_DEADLINE_S):
        return await write


async def _already_so(target: Target, flag: str, context: Context) -> bool:
    """Whether the flag, changed meanwhile, is now exactly as this change would leave it (two people
    making the same change at once): then there is nothing left to do there, and no reason to stop."""
    try:
        now = await context.stores[target.environment.option].get(flag)
    except StoreUnavailable:
        return False
    return now.state == target.after and now.exists == target.after_exists


def _without_absent(request: ChangeRequest, targets: list[Target]) -> tuple[list[Target], list[Environment]]:
    """For a delete, the targets where the flag exists, and the environments where it does not
    (deleting a name that is not there would write a version and an audit entry for nothing)."""
    if not isinstance(request.change, DeleteFlag):
        return targets, []
    absent = [t.environment for t in targets if not t.record.exists and t.record.state.is_empty]
    return [t for t in targets if t.environment not in absent], absent


def _target(environment: Environment, record: FlagRecord, request: ChangeRequest) -> Target:
    after, after_exists = simulate(record.state, record.exists, request.change)
    return Target(environment, record, after, after_exists)


async def _changed_since(request: ChangeRequest, context: Context, target: Target, version: int, now: int) -> Reply:
    flag, environment = request.flag, target.environment
    lines = [
        line(
            f"{flag} on {environment.name} changed since that change (version {version}, "
            f"now {now}), so it was not rolled back and nothing was changed."
        )
    ]
    try:
        newer = await context.stores[environment.option].history(flag, limit=1)
    except StoreUnavailable as error:
        lines.append(line(f"(The newer change could not be read: could not reach Redis for {error.environment}.)"))
        newer = []
    if newer:
        entry = newer[0]
        who: Line = (Mention(entry.who_id, entry.who),) if entry.who_id else (entry.who,)
        where = entry.channel or "an unknown channel"
        lines.append(
            line(
                "Newer change: ",
                Code(entry.description),
                " by ",
                *who,
                f" at {utc(entry.at)} in {where}; now ",
                Code(entry.after.describe()),
                ".",
            )
        )
    return Reply(False, f"{flag} changed since; not rolled back", (Section(tuple(lines)),))
