"""Recovery of changes whose writer died midway: found in the journal, finished or undone, told.

A change that only reduces exposure (switching off, narrowing, deleting) is finished on the
environments it had not reached: that is what the person wanted and it can only make things
safer. Any other change that did not reach every environment is undone where it was written,
because nobody is watching it roll out any more: the person is told to run it again. A change
that reached every environment is left as it is: only its answer was lost. Either way recovery
only ever reduces exposure. An environment changed by someone else since is left as it is.
Every write is conditional on the version the journal recorded and carries a change id derived
from the journal's, so a recovery that itself dies and is recovered again never writes twice.
The person hears what was found and done; what stands written is told like any change (the log
channel, the team and QA channels by the same rules, with Roll back buttons).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from flags import (
    AuditInfo,
    ChangeConflict,
    ChangeResult,
    FlagsError,
    RestoreState,
    StoreUnavailable,
    Write,
    apply_together,
)
from handlers.changes.announce import Outcome, shown_state, told
from handlers.changes.request import ChangeRequest
from handlers.config import Environment
from handlers.core.chat import ChatBackend, PostFailed
from handlers.core.context import Application, Context
from handlers.core.journal import ChangeJournal, Holding, JournalEntry, JournalTarget, LeaseLost
from handlers.core.reply import Code, CrossPost, Line, Mention, Section, Strong, line
from handlers.core.timefmt import utc

__all__ = ["RECOVERY_INTERVAL_S", "keep_recovering", "recover_interrupted"]

_log = structlog.get_logger("chatops.recovery")

RECOVERY_INTERVAL_S = 5.0  # how often every serving process looks for changes left by a dead one
_UNDO = "-undo"  # suffix of the change id of an undo (the finish reuses the change's own id)
#: What the changes a recovery tells are called, by what it did.
_HEADLINES = {
    "finished": "Finished after the bot stopped midway",
    "undone": "Undone after the bot stopped midway",
    "none": "Written before the bot stopped",
}


@dataclass
class _Found:
    """One environment of an interrupted change, as recovery found it."""

    environment: Environment
    target: JournalTarget
    state: str  # "written" | "undone" | "not written" | "changed since"
    result: ChangeResult | None = None  # the last write there: the change's own, or recovery's finish or undo


class _Unreachable(Exception):
    pass


async def keep_recovering(app: Application, chat: ChatBackend, journal: ChangeJournal, stop: asyncio.Event) -> None:
    """Look for interrupted changes now and every RECOVERY_INTERVAL_S, until ``stop`` is set
    (between rounds: a round is never cut short)."""
    while not stop.is_set():
        await recover_interrupted(app, chat, journal)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RECOVERY_INTERVAL_S)


async def recover_interrupted(app: Application, chat: ChatBackend, journal: ChangeJournal) -> int:
    """Finish or undo every change whose writer died; how many were settled."""
    try:
        claimed = await journal.claim_expired()
    except (RedisError, OSError) as error:
        _log.warning("recovery.journal_unreachable", error=str(error)[:200])
        return 0
    settled = 0
    for holding in claimed:
        try:
            await _recover(holding, app, chat)
            settled += 1
        except LeaseLost:  # another worker settled it meanwhile
            _log.info("recovery.taken_over", entry=holding.entry_id)
        except _Unreachable as error:  # tried again once the claim's lease runs out
            _log.warning("recovery.postponed", entry=holding.entry_id, flag=holding.entry.flag, reason=str(error))
        except Exception:
            _log.exception("recovery.failed", entry=holding.entry_id, flag=holding.entry.flag)
    return settled


async def _recover(holding: Holding, app: Application, chat: ChatBackend) -> None:
    entry = holding.entry
    found = [await _find(entry, target, app) for target in entry.targets]
    states = {f.state for f in found}
    if "undone" in states or ("not written" in states and not entry.reduces_only):  # (an earlier recovery undid some)
        action, written = "undone", await _settle(entry, found, app, finish=False)
    elif "not written" in states:
        action, written = "finished", await _settle(entry, found, app, finish=True)
    else:  # written everywhere it could be: only the answer was lost
        action, written = "none", []
    await holding.check()  # still ours: nobody else settled it meanwhile
    _log.warning(
        "recovery.settled",
        entry=entry.id,
        flag=entry.flag,
        action=action,
        environments={f.environment.name: f.state for f in found},
        command=entry.command[:200],
    )
    await _tell(entry, found, action, written, app, chat)
    await holding.close()


def _recorded_as(entry: JournalEntry, *, finish: bool) -> str:
    """The command a recovery's writes are audited (and told) with."""
    return f"{'finished' if finish else 'undone'} after the bot stopped midway: {entry.command}"


async def _find(entry: JournalEntry, target: JournalTarget, app: Application) -> _Found:
    environment = app.config.environment(target.option)
    store = app.stores.get(target.option)
    if environment is None or store is None:
        raise _Unreachable(f"environment {target.option} is no longer configured")
    try:
        own = await store.last_change(entry.flag, target.change_id)
        if own is not None:
            return _Found(environment, target, "written", own)
        if await store.last_change(entry.flag, target.change_id + _UNDO) is not None:
            return _Found(environment, target, "undone")
        record = await store.get(entry.flag)
    except FlagsError as error:
        raise _Unreachable(f"{environment.name}: {error}") from error
    if record.version == target.expected_version:
        return _Found(environment, target, "not written")
    return _Found(environment, target, "changed since")


async def _settle(entry: JournalEntry, found: list[_Found], app: Application, *, finish: bool) -> list[_Found]:
    """Finish the change where it was not written, or undo it where it was; what was written now."""
    audit = AuditInfo(
        who=entry.who.who,
        who_id=entry.who.user_id,
        channel=entry.who.channel_label,
        command=_recorded_as(entry, finish=finish),
    )
    chosen = [f for f in found if f.state == ("not written" if finish else "written")]
    groups: list[list[_Found]] = []
    for f in chosen:  # runs on one backend (Redis server), in configured order, as the change was written
        if groups and app.stores[groups[-1][0].target.option].backend is app.stores[f.target.option].backend:
            groups[-1].append(f)
        else:
            groups.append([f])
    written: list[_Found] = []
    for group in groups:
        writes = [_write(entry, f, app, audit, finish=finish) for f in group]
        try:
            results = await apply_together(writes)
        except ChangeConflict as conflict:  # someone changed it since we looked: leave it
            for f in group:
                if f.environment.name == conflict.environment:
                    f.state = "changed since"
            continue
        except StoreUnavailable as error:
            raise _Unreachable(f"{error.environment}: {error.reason}") from error
        for f, result in zip(group, results, strict=True):
            f.state, f.result = ("written" if finish else "undone"), result
            written.append(f)
    return written


def _write(entry: JournalEntry, found: _Found, app: Application, audit: AuditInfo, *, finish: bool) -> Write:
    target = found.target
    store = app.stores[target.option]
    if finish:  # the state the change makes, from the version it was read at: the change itself
        change = RestoreState(target.after, target.after_exists)
        return Write(store, entry.flag, change, audit, target.expected_version, target.change_id)
    assert found.result is not None, "an undo restores what this change found"
    change = RestoreState(target.before, target.before_exists)
    return Write(store, entry.flag, change, audit, found.result.version, target.change_id + _UNDO)


async def _tell(
    entry: JournalEntry, found: list[_Found], action: str, written: list[_Found], app: Application, chat: ChatBackend
) -> None:
    """The person (a direct message) hears what was found and done; what stands written is told
    like any change. With nothing written, the log channel hears what was found."""
    posts, notes = await _changes_told(entry, found, action, app, chat)
    sections = (Section((*_found_lines(entry, found, action, written), *notes), _title(entry, action)),)
    summary = f"interrupted change of {entry.flag} by {entry.who.who}: {action}"
    posts.insert(0, CrossPost(entry.who.user_id, "person who ran it", sections, summary))
    if len(posts) == 1 and app.config.slack.log_channel:
        posts.append(CrossPost(app.config.slack.log_channel, "log channel", sections, summary))
    for post in posts:
        try:
            await chat.post(post)
        except PostFailed as error:
            _log.error("recovery.tell_failed", entry=entry.id, channel=post.channel, error=str(error)[:200])


def _title(entry: JournalEntry, action: str) -> Line:
    return line(
        "Interrupted change of ",
        Code(entry.flag),
        " by ",
        Mention(entry.who.user_id, entry.who.user_name),
        f": {action}",
    )


async def _changes_told(
    entry: JournalEntry, found: list[_Found], action: str, app: Application, chat: ChatBackend
) -> tuple[list[CrossPost], list[Line]]:
    """What stands written (the change's own writes, and recovery's finish or undo) told as every
    change is, environments left alike together; notes of what could not be told."""
    command = entry.command if action == "none" else _recorded_as(entry, finish=action == "finished")
    headline = _HEADLINES[action]
    alike: dict[tuple[tuple[tuple[str, str], ...], bool], list[tuple[Environment, ChangeResult]]] = {}
    for f in found:
        if f.result is not None and f.state in ("written", "undone"):
            key = (tuple(sorted(f.result.after.to_hash().items())), f.result.after_exists)
            alike.setdefault(key, []).append((f.environment, f.result))
    context = Context(app, entry.who, chat)
    posts: list[CrossPost] = []
    notes: list[Line] = []
    for done in alike.values():
        _, result = done[0]
        change = RestoreState(result.after, result.after_exists)
        request = ChangeRequest(entry.flag, tuple(e for e, _ in done), change, entry.who, command, headline=headline)
        told_posts, told_notes = await told(request, context, Outcome(done=done))
        posts += told_posts
        notes += told_notes
    return posts, notes


def _found_lines(entry: JournalEntry, found: list[_Found], action: str, written: list[_Found]) -> list[Line]:
    """What recovery found and did, in the person's words."""
    names = _names
    lines: list[Line] = [
        line(
            "The bot stopped (a crash or a restart) while writing ",
            Code(entry.command),
            f" (started {utc(entry.started_at)}). ",
        )
    ]
    before = [f for f in found if f.state == "written" and f not in written]
    not_written = [f for f in found if f.state == "not written"]
    undone = [f for f in found if f.state == "undone"]
    if action == "none":
        if before:
            lines.append(line("It had been written to ", Strong(names(before)), "."))
    elif action == "finished":
        if before:
            lines.append(line("It had been written to ", Strong(names(before)), "."))
        lines.append(
            line(
                "It only reduces exposure, so it was finished on ",
                Strong(names(written)),
                f": {entry.flag} is now as you asked there.",
            )
        )
    else:
        lines.append(line("It had been written to ", Strong(names(undone)), "."))
        lines.append(
            line(
                "It raised exposure and nobody was watching it any more, so it was undone there: "
                f"{entry.flag} is back to how it was. Run the command again if you still want it."
            )
        )
        if not_written:
            lines.append(line("Not written: ", Strong(names(not_written)), "."))
    changed = [f for f in found if f.state == "changed since"]
    if changed:
        lines.append(
            line(
                "Changed by someone else since, so left as it is: ", Strong(names(changed)), " (see `feature history`)."
            )
        )
    return lines + [_state_line(f) for f in found if f.state in ("written", "undone")]


def _state_line(found: _Found) -> Line:
    target = found.target
    if found.state == "undone":
        state, exists = target.before, target.before_exists
    else:
        state, exists = target.after, target.after_exists
    return line(Strong(found.environment.name), ": ", Code(shown_state(state, exists)))


def _names(found: Sequence[_Found]) -> str:
    return ", ".join(f.environment.name for f in found)
