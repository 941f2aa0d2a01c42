"""Each served environment's flags in memory: the SDK's snapshot client, kept fresh by the store's
change announcements (a change written anywhere through the bot's store arrives at once) and a
full read every few seconds; while Redis is away it keeps serving the last good snapshot. Each
flag state's resolver is made once, not on every evaluation."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping

from flags import AsyncFlags, Definition, FlagState
from flags.resolution import Resolver, compile_resolution

__all__ = ["POLL_S", "Snapshots"]

POLL_S = 10.0  # a full read this often: changes written without an announcement (Ruby's Flipper) arrive too


def _state_hash(name: str, state: FlagState) -> int:
    text = json.dumps([name, state.to_hash()], separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


class _Digest:
    """A digest of every flag's state in one snapshot (those ``include`` accepts, when given),
    brought up to date flag by flag (the XOR of each flag's hash): replicas that hold the same
    flags agree on it, whatever their history."""

    def __init__(self, include: Callable[[str], bool] | None = None) -> None:
        self.include = include
        self.version = -1
        self.hashes: dict[str, int] = {}
        self.value = 0

    def of(self, flags: AsyncFlags) -> str:
        if flags.version != self.version:
            changed = flags.changed_since(self.version) if self.version >= 0 else None
            names = flags.names() if changed is None else changed
            if changed is None:
                self.hashes, self.value = {}, 0
            for name in names:
                self.value ^= self.hashes.pop(name, 0)
                state = flags.state(name)
                if state is not None and (self.include is None or self.include(name)):
                    self.hashes[name] = _state_hash(name, state)
                    self.value ^= self.hashes[name]
            self.version = flags.version
        return f"{self.value:032x}"


class _Resolvers:
    """Each flag's resolver, made once per state (a snapshot replaces a flag's state, never changes
    it); those of the flags that changed are dropped as the snapshot moves on."""

    def __init__(self) -> None:
        self.version = -1
        self.kept: dict[str, tuple[FlagState, Resolver]] = {}

    def of(self, flags: AsyncFlags, name: str, state: FlagState) -> Resolver:
        if flags.version != self.version:
            changed = flags.changed_since(self.version) if self.version >= 0 else None
            if changed is None:
                self.kept.clear()
            for changed_name in changed or ():
                self.kept.pop(changed_name, None)
            self.version = flags.version
        kept = self.kept.get(name)
        if kept is None or kept[0] is not state:
            kept = (state, compile_resolution(name, state))
            self.kept[name] = kept
        return kept[1]


class Snapshots:
    """The snapshots of the environments served, by option."""

    def __init__(
        self,
        sources: Mapping[str, tuple[str, str]],
        definitions: Mapping[str, Definition],
        poll_interval: float = POLL_S,
    ) -> None:
        self._sources = dict(sources)  # option -> (Redis URL, key prefix)
        self._definitions = definitions
        self._poll_interval = poll_interval
        self._digests = {option: _Digest() for option in sources}
        self._frontend_digests = {option: _Digest(self._for_front_ends) for option in sources}
        self._resolvers = {option: _Resolvers() for option in sources}
        self.live: dict[str, AsyncFlags] = {}

    async def start(self) -> None:
        """Read every environment once and keep them fresh. Never raises: an environment whose
        Redis does not answer is read as soon as it does."""
        for option, (url, prefix) in self._sources.items():
            if option not in self.live:
                flags = AsyncFlags(url, prefix=prefix, definitions=self._definitions, poll_interval=self._poll_interval)
                self.live[option] = flags
        await asyncio.gather(*(flags.start() for flags in self.live.values()))

    async def close(self) -> None:
        for flags in self.live.values():
            await flags.close()
        self.live.clear()

    def flags(self, option: str) -> AsyncFlags | None:
        """The environment's snapshot, once it has been read whole at least once."""
        flags = self.live.get(option)
        return flags if flags is not None and flags.loaded_at is not None else None

    def digest(self, option: str, frontend: bool = False) -> str:
        """What the environment's flags are (``frontend``: only those for front ends), as 32 hex
        digits (the same for the same flags)."""
        digests = self._frontend_digests if frontend else self._digests
        return digests[option].of(self.live[option])

    def _for_front_ends(self, name: str) -> bool:
        definition = self._definitions.get(name)
        return definition is not None and definition.frontend

    def resolver(self, option: str, name: str, state: FlagState) -> Resolver:
        """The resolver of ``name`` in ``state``, the environment's flag state now."""
        return self._resolvers[option].of(self.live[option], name, state)

    def not_loaded(self) -> list[str]:
        """The options of the environments never read yet."""
        return [option for option in self._sources if self.flags(option) is None]
