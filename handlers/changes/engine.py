"""The change engine: read every target, run the safety rules, write, then say what happened.

Each environment is written in configured order on condition that it did not change since it
was read (environments sharing one Redis server together, atomically); the first failure stops
the rest and the answer says where. The change is journalled in the bot's own Redis before the
first write, so that if this process dies midway another one finishes or undoes it. A roll back restores what
a recorded change found, if the flag's gates are still as that change left them (whoever wrote since: the
bot, or another writer such as Ruby's Flipper, which moves no version).
An environment the change would leave as it is is not written at all (``handlers.changes.noop``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

from redis.exceptions import RedisError

from flags import (
    AuditEntry,
    AuditInfo,
    ChangeConflict,
    ChangeResult,
    DeleteFlag,
    FlagRecord,
    RestoreState,
    StoreUnavailable,
    Write,
    WrongKeyType,
    apply_together,
)
from flags.exposure import simulate
from handlers.changes.announce import Outcome, announce
from handlers.changes.noop import already_reply, split, unchanged_part
from handlers.changes.ports import APPROVAL_GATE
from handlers.changes.request import ChangeRequest, Target
from handlers.changes.rules import SAFETY_RULES, SafetyRule
from handlers.changes.rules.base import NOTHING_CHANGED
from handlers.config import Environment
from handlers.core.cancellation import cancel_requests, stop_if_cancelled
from handlers.core.context import Context
from handlers.core.journal import Holding, JournalEntry, JournalTarget, LeaseLost
from handlers.core.notices import notice_if_slow
from handlers.core.reply import Code, Line, Mention, Reply, Section, Strong, error_reply, line
from handlers.core.seen import Seen
from handlers.core.timefmt import utc

__all__ = ["STILL_TRYING_S", "WRITE_DEADLINE_S", "apply_change", "apply_everywhere", "journal_entry", "roll_back"]

STILL_TRYING_S = 3.0  # a write slower than this is announced ("still trying")
WRITE_DEADLINE_S = 15.0  # a write not confirmed by then is reported as unknown, and the rest not attempted


async def roll_back(flag: str, environment: Environment, entry_id: str, context: Context) -> Reply:
    """Restore the gates a recorded change found, if the flag's gates are still as that change left them."""
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
        command=f"Roll back button on change {entry_id}{context.origin}",
        headline="Rolled back",
        expected=Seen(entry.version, entry.after),
        rollback_of=entry_id,
    )
    return await apply_change(request, context)


async def apply_change(request: ChangeRequest, context: Context, rules: tuple[SafetyRule, ...] | None = None) -> Reply:
    """Read every target, run the safety rules (the registered ones unless ``rules`` are given),
    ask for approval where it is needed, write, and say what happened. Environments the change
    would leave as they are are not written, and no rule or approval is asked for them."""
    cancels = cancel_requests()  # more later: a cancellation lost on the way (stop_if_cancelled)
    read = await _read(request, context)
    if isinstance(read, Reply):
        return read
    targets, absent = _without_absent(request, read)
    if not targets:
        where = ", ".join(e.name for e in absent)
        return error_reply(f"There is no flag {request.flag} on {where}: nothing was deleted.")
    targets, same = split(request.flag, targets, context.definitions)
    if not targets:
        return already_reply(request.flag, same)
    if request.expected is not None and request.expected.changed(targets[0].record):
        return await _changed_since(request, context, targets[0])

    outcome = Outcome(warnings=(unchanged_part(same),) if same else ())
    if absent:
        where = ", ".join(e.name for e in absent)
        outcome.warnings += (line(f"There is no flag {request.flag} on {where}: nothing to delete there."),)
    refused = await _checked(request, targets, context, rules, outcome)
    if refused is not None:
        return refused

    approvals = context.app.ports.get(APPROVAL_GATE)
    asked = await approvals.gate(request, targets, context, outcome) if approvals is not None else None
    if asked is not None:  # asked last: a refused change asks no one
        return asked

    who = request.who
    audit = AuditInfo(
        who.who, who.channel_label, request.command, outcome.checks, who.user_id, approved_by=context.approved_by
    )
    entry = journal_entry(request, targets)
    journal = context.app.journal
    if journal is None:
        return await _write(request, targets, audit, context, outcome, entry, None, cancels) or await announce(
            request, context, outcome
        )
    try:
        holding = await journal.open(entry)
    except (RedisError, OSError) as error:
        reason = str(error) or type(error).__name__
        return error_reply(
            f"Could not record the change in the bot's own Redis ({reason}), so it was not written: a change "
            f"the bot could neither finish nor undo after a crash is not started. {NOTHING_CHANGED}"
        )
    async with holding.renewed():  # closed once answered; left open only if this process dies
        return await _write(request, targets, audit, context, outcome, entry, holding, cancels) or await announce(
            request, context, outcome
        )


async def _checked(
    request: ChangeRequest,
    targets: list[Target],
    context: Context,
    rules: tuple[SafetyRule, ...] | None,
    outcome: Outcome,
) -> Reply | None:
    """Run the safety rules in order, recording each one's answer in ``outcome``; the first refusal."""
    for rule in rules if rules is not None else context.app.ports.all(SAFETY_RULES):
        if not rule.applies(request, targets, context):
            continue
        verdict = await rule.check(request, targets, context)
        if verdict.refusal is not None:
            return verdict.refusal
        if verdict.record is not None:
            outcome.checks[rule.name] = verdict.record
        if verdict.warnings:
            outcome.warnings += verdict.warnings
            outcome.explained.add(rule.name)
    return None


async def apply_everywhere(request: ChangeRequest, context: Context, checks: dict[str, str]) -> Reply:
    """Write ``request`` (a kill: it only reduces exposure) on every target at once, each on its own
    and unconditionally, within WRITE_DEADLINE_S: one environment that fails or hangs never holds up
    the others, and the answer names it, loudly. No safety rule runs: nothing may block it. An
    environment already as the change would leave it is not written (said with the answer)."""
    who = request.who
    audit = AuditInfo(
        who=who.who, who_id=who.user_id, channel=who.channel_label, command=request.command, checks=checks
    )

    async def one(environment: Environment) -> tuple[Environment, ChangeResult | Target | Line]:
        """What became of one environment: written, already so (not written), or why it failed."""
        store = context.stores[environment.option]
        try:
            async with asyncio.timeout(WRITE_DEADLINE_S):
                target = _target(environment, await store.get(request.flag), request)
                if not split(request.flag, [target], context.definitions)[0]:
                    return environment, target
                return environment, await store.apply(request.flag, request.change, audit)
        except TimeoutError:
            why = f": Redis did not answer within {WRITE_DEADLINE_S:g} s (it may still apply it); check `feature get`."
        except (StoreUnavailable, WrongKeyType) as error:
            why = f": {error}."
        return environment, line(":rotating_light: NOT switched off on ", Strong(environment.name), why)

    outcome = Outcome(checks=dict(checks))
    same: list[Target] = []
    for environment, result in await asyncio.gather(*(one(e) for e in request.targets)):
        if isinstance(result, ChangeResult):
            outcome.done.append((environment, result))
        elif isinstance(result, Target):
            same.append(result)
        else:
            outcome.failed(result)
    if not outcome.done and outcome.failure is None:
        return already_reply(request.flag, same)
    outcome.warnings += (unchanged_part(same),) if same else ()
    return await announce(request, context, outcome)


async def _write(
    request: ChangeRequest,
    targets: list[Target],
    audit: AuditInfo,
    context: Context,
    outcome: Outcome,
    entry: JournalEntry,
    holding: Holding | None,
    cancels: int,
) -> Reply | None:
    """Write every target in configured order, the environments sharing one Redis server together
    in one atomic script; the first failure stops the rest. A reply here replaces the announcement.
    Cancelled (a shutdown), it stops before the next write even if the cancellation was lost on the
    way (``cancels``: the task's pending cancellations when the change started), leaving its entry."""
    change_ids = {t.option: t.change_id for t in entry.targets}
    pending = _groups(targets, context)
    while pending:
        group = pending.pop(0)
        rest = [t.environment for g in pending for t in g]
        names = ", ".join(t.environment.name for t in group)
        writes = _writes(request, group, audit, context, change_ids)
        try:
            if holding is not None:
                await holding.check()
            stop_if_cancelled(cancels)
            results = await _bounded_write(apply_together(writes), names, context)
        except (LeaseLost, TimeoutError, StoreUnavailable) as error:
            outcome.stop(*_stopped_by(error, group, rest))
            return None
        except ChangeConflict as conflict:
            target = next((t for t in group if t.environment.name == conflict.environment), group[0])
            if request.rollback_of:
                return await _changed_since(request, context, target)
            if not await _already_so(target, request.flag, context):
                reason = ": the flag changed there while the checks ran"
                if len(group) > 1:  # written together: nothing of the group is
                    reason += f", so nothing was written on {names} (they share one Redis and are written together)"
                outcome.stop(line("Stopped at ", Strong(target.environment.name), reason + "."), rest)
                return None
            outcome.warnings += (
                line(
                    f"{target.environment.name}: already so — someone made the same change meanwhile; "
                    "not written again."
                ),
            )
            others = [t for t in group if t is not target]
            if others:
                pending.insert(0, others)  # the rest of the group, without the one already so
            continue
        for target, result in zip(group, results, strict=True):
            outcome.done.append((target.environment, result))
            if holding is not None:
                await holding.mark_done(target.environment.option, result.version)
    return None


def _writes(
    request: ChangeRequest, group: list[Target], audit: AuditInfo, context: Context, change_ids: dict[str, str]
) -> list[Write]:
    """One group's writes, each on condition that its environment did not change since it was read."""
    return [
        Write(
            context.stores[t.environment.option],
            request.flag,
            request.change,
            audit,
            expected_version=t.record.version,
            change_id=change_ids[t.environment.option],
        )
        for t in group
    ]


def _stopped_by(
    error: LeaseLost | TimeoutError | StoreUnavailable, group: list[Target], rest: list[Environment]
) -> tuple[Line, list[Environment]]:
    """Why writing stopped at ``group``, and the environments left unwritten: the group's own too
    when the lease was lost before it was sent."""
    names = ", ".join(t.environment.name for t in group)
    if isinstance(error, LeaseLost):
        reason = ": this worker was too slow and another one took the change over; it finishes or undoes it."
        return line("Stopped before ", Strong(names), reason), [t.environment for t in group] + rest
    if isinstance(error, TimeoutError):
        reason = (
            f": Redis did not confirm the write within {WRITE_DEADLINE_S:g} s. It may still be applied "
            "when Redis accepts writes again: check with `feature get` before running it again."
        )
        return line("No answer from ", Strong(names), reason), rest
    return line("Failed on ", Strong(names), f": could not reach Redis for {names} ({error.reason})."), rest


def _groups(targets: list[Target], context: Context) -> list[list[Target]]:
    """The targets in configured order, runs of environments on one Redis server (sharing one
    backend: the client) together: each run is written atomically, and order still says what is
    written first."""
    groups: list[list[Target]] = []
    for target in targets:
        backend = context.stores[target.environment.option].backend
        if groups and context.stores[groups[-1][0].environment.option].backend is backend:
            groups[-1].append(target)
        else:
            groups.append([target])
    return groups


def journal_entry(request: ChangeRequest, targets: list[Target]) -> JournalEntry:
    """What the journal keeps of this change while it is written."""
    journalled = tuple(
        JournalTarget(
            option=t.environment.option,
            expected_version=t.record.version,
            change_id=uuid.uuid4().hex,
            before=t.record.state,
            before_exists=t.record.exists,
            after=t.after,
            after_exists=t.after_exists,
        )
        for t in targets
    )
    reduces_only = not any(t.increases for t in targets)
    return JournalEntry.new(request.flag, request.command, request.who, journalled, reduces_only=reduces_only)


async def _bounded_write(write: Awaitable[list[ChangeResult]], names: str, context: Context) -> list[ChangeResult]:
    """The write, within WRITE_DEADLINE_S; the person hears "still trying" after STILL_TRYING_S."""
    still_trying = f"Still trying to write to Redis for {names}…"
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


async def _read(request: ChangeRequest, context: Context) -> list[Target] | Reply:
    """Every target as it is now, and what the change would make of it; or why it cannot be read."""
    targets: list[Target] = []
    for environment in request.targets:
        try:
            record = await context.stores[environment.option].get(request.flag)
        except StoreUnavailable as error:
            return error_reply(f"Could not reach Redis for {environment.name} ({error.reason}). {NOTHING_CHANGED}")
        targets.append(_target(environment, record, request))
    return targets


def _target(environment: Environment, record: FlagRecord, request: ChangeRequest) -> Target:
    after, after_exists = simulate(record.state, record.exists, request.change)
    return Target(environment, record, after, after_exists)


async def _changed_since(request: ChangeRequest, context: Context, target: Target) -> Reply:
    """The refusal of a roll back whose flag changed since the change it undoes: how, and by whom
    when this bot wrote it."""
    flag, environment = request.flag, target.environment
    said = f"{flag} on {environment.name} changed since that change, so it was not rolled back and nothing was changed."
    lines = [line(said)]
    store = context.stores[environment.option]
    try:
        now = await store.get(flag)
        newer = await store.history(flag, limit=1)
    except StoreUnavailable as error:
        lines.append(line(f"(What it is now could not be read: could not reach Redis for {error.environment}.)"))
    else:
        lines.append(_how_it_changed(request, now, newer[0] if newer else None))
    return Reply(False, f"{flag} changed since; not rolled back", (Section(tuple(lines)),))


def _how_it_changed(request: ChangeRequest, now: FlagRecord, newest: AuditEntry | None) -> Line:
    """The newer change when this bot made it (its newest entry is not the one rolled back, and left
    the flag as it is now); else what that change left and what is there now."""
    if newest is not None and newest.entry_id != request.rollback_of and newest.after == now.state:
        who: Line = (Mention(newest.who_id, newest.who),) if newest.who_id else (newest.who,)
        where = newest.channel or "an unknown channel"
        at = f" at {utc(newest.at)} in {where}; now "
        return line("Newer change: ", Code(newest.description), " by ", *who, at, Code(now.state.describe()), ".")
    left = request.expected.state if request.expected is not None else None
    then = line("that change left it ", Code(left.describe()), "; ") if left is not None else ()
    outside = "It was changed outside this bot (Flipper or a console, which leave no audit entry here): "
    return line(outside, *then, "now ", Code(now.state.describe()), ".")
