"""What a rollout does besides its steps: abort (back to the state before it began) and pause.

An abort is one change per environment, restoring the state each had before the rollout began,
conditional on the version the rollout last wrote (or saw) there; it only reduces exposure, so no
safety rule blocks it. An environment already as it was before the rollout (no step written there,
or undone since) is not written: there is nothing to restore.
Each restore is told like any change (the log channel, the team and QA
channels by the same rules), whoever or whatever aborted the rollout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from flags import FlagsError, FlagStorage, RestoreState
from handlers.changes.engine import apply_change
from handlers.changes.noop import leaves_as_is
from handlers.changes.request import ChangeRequest
from handlers.core.context import Context
from handlers.core.events import event as news
from handlers.core.outbox import OUTBOX
from handlers.core.reply import Reply
from handlers.rollouts.message import event
from handlers.rollouts.store import Rollout, RolloutStore, Stale


async def versions_now(rollout: Rollout, stores: Mapping[str, FlagStorage]) -> dict[str, int]:
    """The flag's version in each of the rollout's environments now (those that can be read)."""
    versions: dict[str, int] = {}
    for option in rollout.options:
        store = stores.get(option)
        if store is None:
            continue
        try:
            versions[option] = (await store.get(rollout.flag)).version
        except FlagsError:
            continue
    return versions


__all__ = ["abort", "pause"]


async def pause(store: RolloutStore, rollout: Rollout, reason: str, *, token: int | None = None) -> Rollout:
    """Pause ``rollout`` saying why (re-read and retried if it changed meanwhile)."""
    while True:
        if rollout.status != "running":
            return rollout
        said = event(rollout.every_s, _because("Paused", reason))
        paused = replace(rollout, status="paused", reason=reason, history=(*rollout.history, said))
        try:
            return await store.save(paused, token=token)
        except Stale:
            fresh = await store.get(rollout.id)
            if fresh is None:
                return rollout
            rollout = fresh


async def abort(
    store: RolloutStore, rollout: Rollout, reason: str, context: Context
) -> tuple[Rollout, list[Reply]] | None:
    """Mark ``rollout`` aborted, then restore each environment to its state before the rollout; the
    aborted rollout and the restoring changes (none where it already is so), or None if it was not
    active (someone aborted it first)."""
    while True:
        if not rollout.active:
            return None
        said = event(rollout.every_s, _because("Aborted", reason))
        aborted = replace(rollout, status="aborted", reason=reason, history=(*rollout.history, said))
        try:
            aborted = await store.save(aborted)
            break
        except Stale:
            fresh = await store.get(rollout.id)
            if fresh is None:
                return None
            rollout = fresh
    await _publish_abort(aborted, reason, context)
    return aborted, await _restore(aborted, reason, context)


async def _publish_abort(aborted: Rollout, reason: str, context: Context) -> None:
    """The abort's events (``rollout.aborted``), one per environment, before its restores' own."""
    outbox = context.app.ports.get(OUTBOX)
    if outbox is None:
        return
    environments = [e for o in aborted.options if (e := context.config.environment(o)) is not None]
    rollout = {"id": aborted.id, "step": aborted.step_label(aborted.done)}
    events = [
        news("rollout.aborted", aborted.id, e, context.caller, flag=aborted.flag, reason=reason, rollout=rollout)
        for e in environments
    ]
    await outbox.add_all(events)


async def _restore(aborted: Rollout, reason: str, context: Context) -> list[Reply]:
    """Each environment back to its state before the rollout, each restore told where every change
    is (its cross-posts delivered here, so they reach the log channel whoever aborted it); their
    answers, for the rollout's thread."""
    replies = []
    for option in aborted.options:
        environment = context.config.environment(option)
        if environment is None or option not in aborted.before or await _as_before(aborted, option, context):
            continue
        state, exists = aborted.before[option]
        request = ChangeRequest(
            flag=aborted.flag,
            targets=(environment,),
            change=RestoreState(state, exists),
            who=context.caller,
            command=f"rollout {aborted.id} aborted: {reason}",
            headline="Restored by rollout abort",
            reason="" if reason.startswith("by ") else reason,  # who is in the headline already
        )
        reply = await apply_change(request, context)
        delivered = await context.app.deliveries.deliver(reply, context.chat, context.notify)
        replies.append(replace(delivered, cross_posts=()))  # told once, here
    return replies


async def _as_before(rollout: Rollout, option: str, context: Context) -> bool:
    """Whether the flag reads in ``option`` as it did before the rollout (it wrote nothing that
    stands there): then there is nothing to restore, and nothing is written."""
    try:
        record = await context.stores[option].get(rollout.flag)
    except FlagsError:
        return False  # the restore itself says what is wrong
    now = (record.state, record.exists)
    return leaves_as_is(rollout.flag, now, rollout.before[option], context.definitions)


def _because(what: str, reason: str) -> str:
    """``Paused by alice.``, ``Aborted: alert X is firing.``: an event and its reason, in plain words."""
    said = reason.rstrip(". ")
    return f"{what} {said}." if said.startswith("by ") else f"{what}: {said}."
