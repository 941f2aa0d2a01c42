"""The in-process snapshot that SDK clients evaluate from.

It holds one compiled evaluator per flag. A full reload (polling) replaces
them all; an announcement from the bot replaces one. Announcements that
arrive while a reload is in flight are applied again on top of its result, so
a slow poll can never bring back a state older than one already announced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from flags.definitions import Definition
from flags.evaluation import Evaluator, compile_flag
from flags.state import FlagState

__all__ = ["Snapshot"]

_log = structlog.get_logger("flags")


CHANGE_LOG = 10_000  # flag changes remembered for changed_since()


class Snapshot:
    def __init__(self, defaults: Mapping[str, bool] | None = None) -> None:
        self._evaluators: dict[str, Evaluator] = {}
        self._states: dict[str, FlagState] = {}
        self._groups: dict[str, Callable[[object], bool]] = {}
        self._defaults: dict[str, bool] = dict(defaults or {})
        self._announced_during_reload: dict[str, tuple[bool, FlagState]] | None = None
        self.loaded_at: float | None = None
        self.version = 0  # moves whenever a flag's state changes (a reload that found changes, an announcement)
        self._changes: list[tuple[int, str]] = []  # (version, name changed then), oldest first
        self._complete_after = 0  # the change log holds every change of the versions after this one

    @classmethod
    def with_definitions(cls, definitions: Mapping[str, Definition] | None) -> Snapshot:
        return cls({n: d.default_enabled for n, d in (definitions or {}).items()})

    # -- evaluation (the hot path) ----------------------------------------------------------

    def enabled(self, name: str, actor: object = None) -> bool:
        try:
            evaluator = self._evaluators.get(name)
            if evaluator is None:
                return self._defaults.get(name, False)
            return evaluator(actor)
        except Exception as error:  # evaluation never raises
            _log.warning("flags.evaluation_failed", feature=str(name)[:255], error=repr(error))
            return False

    def register_group(self, name: str, predicate: Callable[[object], bool]) -> None:
        self._groups[name] = predicate

    def state(self, name: str) -> FlagState | None:
        return self._states.get(name)

    def default(self, name: str) -> bool | None:
        """What a defined flag reads while it has no state (its definition's ``default_enabled``);
        None for a flag with no definition."""
        return self._defaults.get(name)

    def names(self) -> list[str]:
        return sorted(self._states)

    def __len__(self) -> int:
        return len(self._states)

    # -- updates ------------------------------------------------------------------------------

    def begin_reload(self) -> None:
        self._announced_during_reload = {}

    def finish_reload(self, states: Mapping[str, FlagState]) -> None:
        """Replace every flag with ``states`` (what a full read of Redis found)."""
        announced = self._announced_during_reload or {}
        self._announced_during_reload = None
        merged = dict(states)
        for name, (exists, state) in announced.items():
            if exists:
                merged[name] = state
            else:
                merged.pop(name, None)
        evaluators: dict[str, Evaluator] = {}
        changed = [name for name in self._states if name not in merged]
        for name, state in merged.items():
            unchanged = self._states.get(name) == state and name in self._evaluators
            evaluators[name] = self._evaluators[name] if unchanged else self._compile(name, state)
            if self._states.get(name) != state or name not in self._states:
                changed.append(name)
        self._note_changes(changed)
        self._states, self._evaluators = merged, evaluators
        self.loaded_at = time.time()

    def abandon_reload(self) -> None:
        self._announced_during_reload = None

    def apply_announcement(self, message: str | bytes) -> str | None:
        """Apply one change announced by the store; returns the flag's name, or None if unusable."""
        try:
            payload: Any = json.loads(message)
            name = payload["flag"]
            exists = bool(payload.get("exists"))
            after = payload.get("after", {})
            if not isinstance(name, str) or not isinstance(after, dict):
                raise ValueError("malformed announcement")
            state = FlagState.from_hash({str(k): str(v) for k, v in after.items()})
        except (ValueError, KeyError, TypeError) as error:
            _log.warning("flags.bad_announcement", error=repr(error))
            return None
        if self._announced_during_reload is not None:
            self._announced_during_reload[name] = (exists, state)
        if exists:
            self._evaluators[name] = self._compile(name, state)
            self._states[name] = state
        else:
            self._evaluators.pop(name, None)
            self._states.pop(name, None)
        self._note_changes([name])
        return name

    def changed_since(self, version: int) -> frozenset[str] | None:
        """The flags whose state changed after ``version``; None when that is no longer known
        (too many changes since, or a version this snapshot never had)."""
        if version == self.version:
            return frozenset()
        if version < self._complete_after or version > self.version:
            return None
        return frozenset(name for at, name in self._changes if at > version)

    def _note_changes(self, names: list[str]) -> None:
        if not names:
            return
        self.version += 1
        self._changes += [(self.version, name) for name in names]
        if len(self._changes) > CHANGE_LOG:  # forget the oldest versions whole
            cut = self._changes[len(self._changes) - CHANGE_LOG][0]
            self._changes = [(at, name) for at, name in self._changes if at > cut]
            self._complete_after = cut

    def _compile(self, name: str, state: FlagState) -> Evaluator:
        return compile_flag(name, state, self._groups)
