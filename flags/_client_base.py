"""What the synchronous and asyncio SDK clients share: the snapshot and its read side."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog

from flags._freshness import Freshness
from flags.definitions import Definition
from flags.keys import Keys
from flags.snapshot import Snapshot
from flags.state import FlagState

__all__: list[str] = []

DEFAULT_POLL_INTERVAL = 10.0

_log = structlog.get_logger("flags")

#: What a listener is told about: (version, stale, loaded).
_Seen = tuple[int, bool, bool]


class SnapshotClient:
    def __init__(
        self, url: str, prefix: str, definitions: Mapping[str, Definition] | None, poll_interval: float
    ) -> None:
        self.keys = Keys(prefix)
        self.poll_interval = poll_interval
        self._snapshot = Snapshot.with_definitions(definitions)
        self._freshness = Freshness(f"{url.split('@')[-1]} prefix={prefix!r}")  # no password in logs
        self._listeners: list[Callable[[], None]] = []
        self._seen: _Seen = (0, False, False)

    def enabled(self, name: str, actor: object = None) -> bool:
        """Whether ``name`` is enabled for ``actor`` (a Flipper id such as ``"User:alice"``,
        an object with ``flipper_id``, or None). Never raises, never waits on Redis."""
        return self._snapshot.enabled(name, actor)

    def register_group(self, name: str, predicate: Callable[[object], bool]) -> None:
        """Register the predicate behind a Flipper group (``--feature-group``)."""
        self._snapshot.register_group(name, predicate)

    def state(self, name: str) -> FlagState | None:
        """The gates of a flag as last read, or None when the flag is unknown."""
        return self._snapshot.state(name)

    def default(self, name: str) -> bool | None:
        """A defined flag's ``default_enabled`` (what it reads while not set); None when not defined."""
        return self._snapshot.default(name)

    @property
    def loaded_at(self) -> float | None:
        """When every flag was last read from Redis; None while that has never succeeded."""
        return self._snapshot.loaded_at

    @property
    def version(self) -> int:
        """Moves whenever a flag's state changes in the snapshot (to know when to read it again)."""
        return self._snapshot.version

    def changed_since(self, version: int) -> frozenset[str] | None:
        """The flags whose state changed after ``version`` (see ``version``); None when unknown."""
        return self._snapshot.changed_since(version)

    def names(self) -> list[str]:
        """Every flag in the snapshot (as last read), sorted."""
        return self._snapshot.names()

    @property
    def stale(self) -> bool:
        """True while Redis cannot be read and the last good snapshot is being served."""
        return self._freshness.failing_since is not None

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever ``version``, ``stale`` or ``loaded_at`` moves (a change pushed
        by the bot, one found by a poll, Redis lost or back): from the refresh thread (``Flags``) or
        task (``AsyncFlags``), as soon as the change is applied. It must return quickly; what it
        raises is logged and ignored."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify_listeners(self) -> None:
        """Tell the listeners, if anything they are told about moved since they were last told."""
        seen = (self._snapshot.version, self.stale, self._snapshot.loaded_at is not None)
        if seen == self._seen:
            return
        self._seen = seen
        for listener in tuple(self._listeners):
            try:
                listener()
            except Exception as error:  # an application's listener must not stop the refresh
                _log.warning("flags.listener_failed", error=repr(error))
