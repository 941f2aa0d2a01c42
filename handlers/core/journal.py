"""The change journal: what a change is about to write, kept in the bot's own Redis until it is done.

A change opens its entry before its first write (the flag, each target with the version it
was read at, its change id and the states before and after, who asked, the command), marks each
environment once written, and closes the entry when the person has been answered. An entry left
open is a change whose writer died: once its lease runs out, any worker or replica claims it with
a new fencing token and finishes or undoes it. Only the holder of an entry's current token may
mark, renew or close it, so a writer that was thought dead cannot interfere with its recoverer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from flags import FlagState
from handlers.core.caller import Caller
from handlers.core.cancellation import cancel_requests, stop

__all__ = ["JOURNAL_LEASE_S", "ChangeJournal", "JournalEntry", "JournalTarget", "LeaseLost"]

_SCRIPT = resources.files("handlers.core").joinpath("journal.lua").read_text(encoding="utf-8")
_log = structlog.get_logger("chatops.journal")

#: How long an entry stays its writer's without being renewed (the writer renews it every third
#: of that): a change whose writer died is recovered this long after its last renewal.
JOURNAL_LEASE_S = 10.0


class LeaseLost(Exception):
    """The entry was claimed by someone else (the lease ran out): stop writing."""


@dataclass(frozen=True, slots=True)
class JournalTarget:
    """One environment of a journalled change: how it was found and what the change makes of it."""

    option: str
    expected_version: int
    change_id: str
    before: FlagState
    before_exists: bool
    after: FlagState
    after_exists: bool
    done: int | None = None  # the version the change produced there, once written

    def to_json(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "expected": self.expected_version,
            "change_id": self.change_id,
            "before": self.before.to_hash(),
            "before_exists": self.before_exists,
            "after": self.after.to_hash(),
            "after_exists": self.after_exists,
            "done": self.done,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalTarget:
        done = data.get("done")
        return cls(
            option=str(data["option"]),
            expected_version=int(data["expected"]),
            change_id=str(data["change_id"]),
            before=FlagState.from_hash(_strings(data.get("before"))),
            before_exists=bool(data.get("before_exists")),
            after=FlagState.from_hash(_strings(data.get("after"))),
            after_exists=bool(data.get("after_exists")),
            done=int(done) if isinstance(done, int | float) else None,
        )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: str
    flag: str
    command: str
    who: Caller
    started_at: float
    targets: tuple[JournalTarget, ...]
    reduces_only: bool  # the change lowers exposure (or leaves it) everywhere it goes

    @classmethod
    def new(
        cls, flag: str, command: str, who: Caller, targets: tuple[JournalTarget, ...], *, reduces_only: bool
    ) -> JournalEntry:
        return cls(uuid.uuid4().hex, flag, command, who, time.time(), targets, reduces_only)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "flag": self.flag,
                "command": self.command,
                "who": self.who.to_list(),
                "started_at": f"{self.started_at:.3f}",
                "reduces_only": self.reduces_only,
                "targets": [t.to_json() for t in self.targets],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> JournalEntry:
        data = json.loads(text)
        return cls(
            id=str(data["id"]),
            flag=str(data["flag"]),
            command=str(data["command"]),
            who=Caller.from_list(data["who"]),
            started_at=float(data["started_at"]),
            targets=tuple(JournalTarget.from_json(t) for t in data["targets"]),
            reduces_only=bool(data.get("reduces_only")),
        )


class ChangeJournal:
    """Entries in ``<prefix>chatops:journal`` of the bot's own Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str = "", lease_s: float = JOURNAL_LEASE_S) -> None:
        self._keys = [f"{prefix}chatops:journal", f"{prefix}chatops:journal:token"]
        self._script = client.register_script(_SCRIPT)
        self.lease_s = lease_s

    @property
    def key(self) -> str:
        return self._keys[0]

    async def _call(self, *args: str | int) -> Any:
        return await self._script(keys=self._keys, args=list(args))

    def _lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    async def open(self, entry: JournalEntry) -> Holding:
        """Record ``entry`` before its first write; raises RedisError or OSError when it cannot be
        recorded (then nothing may be written)."""
        token = int(await self._call("open", entry.id, entry.to_json(), self._lease_ms()))
        return Holding(self, entry.id, token, entry)

    async def claim_expired(self) -> list[Holding]:
        """Entries whose writer stopped renewing them, each now held with a new token."""
        reply = await self._call("claim", self._lease_ms())
        claimed: list[Holding] = []
        for i in range(0, len(reply), 2):
            try:
                entry = JournalEntry.from_json(reply[i + 1])
            except (ValueError, KeyError, TypeError) as error:
                _log.error("journal.unreadable_entry", error=str(error)[:200], entry=str(reply[i + 1])[:400])
                continue
            claimed.append(Holding(self, entry.id, int(reply[i]), entry))
        return claimed


@dataclass
class Holding:
    """An entry of the journal held with a fencing token."""

    journal: ChangeJournal
    entry_id: str
    token: int
    entry: JournalEntry

    async def mark_done(self, option: str, version: int) -> None:
        """Record that ``option`` is written (at ``version``). Raises LeaseLost when someone else holds
        the entry; if the journal cannot be reached, the write stands and its change id tells a recoverer."""
        try:
            held = await self.journal._call("mark", self.entry_id, self.token, option, version)
        except (RedisError, OSError) as error:
            _log.warning("journal.mark_failed", entry=self.entry_id, error=str(error)[:200])
            return
        if not held:
            raise LeaseLost(self.entry_id)

    async def check(self) -> None:
        """Call before each write: raises LeaseLost unless this holding still holds its entry (and
        renews it). If the journal cannot be reached the entry stands as opened, and so does its lease."""
        try:
            held = await self.journal._call("renew", self.entry_id, self.token, self.journal._lease_ms())
        except (RedisError, OSError) as error:
            _log.warning("journal.check_failed", entry=self.entry_id, error=str(error)[:200])
            return
        if not held:
            raise LeaseLost(self.entry_id)

    @contextlib.asynccontextmanager
    async def renewed(self) -> AsyncIterator[None]:
        """Keep the lease while the block runs, and close the entry when it completes. A block that
        raises or is cancelled (a shutdown cutting a change short) leaves the entry, unrenewed:
        it is recovered like the change of a process that died."""
        renewal = asyncio.create_task(self._keep_renewed())
        try:
            yield
        finally:
            await stop(renewal)  # a cancellation of the block meanwhile goes on up: the entry stays
        await self.close()

    async def _keep_renewed(self) -> None:
        while not cancel_requests():  # a cancellation lost in a renewal's send still stops it
            await asyncio.sleep(self.journal.lease_s / 3)
            try:
                if not await self.journal._call("renew", self.entry_id, self.token, self.journal._lease_ms()):
                    return
            except (RedisError, OSError) as error:
                _log.warning("journal.renew_failed", entry=self.entry_id, error=str(error)[:200])

    async def close(self) -> None:
        try:
            await self.journal._call("close", self.entry_id, self.token)
        except (RedisError, OSError) as error:
            # The entry stays: it is recovered (found done, or finished) once its lease runs out.
            _log.warning("journal.close_failed", entry=self.entry_id, error=str(error)[:200])


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
