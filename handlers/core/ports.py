"""Ports: what one capability offers the others (and the framework), found by a typed key.

A capability declares a key for what it offers (``SCHEDULER = PortKey[ChangeScheduler]("…")``),
the composition root registers the object under it, and a user asks ``context.app.ports.need(KEY)``
without importing the capability. Keys of what several capabilities need live here or beside the
change engine; a capability's own keys (its store) live in the capability.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

__all__ = ["PortKey", "Ports"]

T = TypeVar("T")


class PortKey(Generic[T]):
    """The typed name of one port."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"PortKey({self.name!r})"


class Ports:
    """The ports registered by the composition root. A key may name one object or, for ports that
    several capabilities offer together (``all``), many."""

    def __init__(self, entries: Mapping[PortKey[Any], object] | None = None) -> None:
        self._entries: dict[PortKey[Any], object] = dict(entries or {})
        self._many: dict[PortKey[Any], list[object]] = {}

    def add(self, key: PortKey[T], value: T) -> None:
        self._entries[key] = value

    def add_many(self, key: PortKey[T], values: Iterable[T]) -> None:
        self._many.setdefault(key, []).extend(values)

    def get(self, key: PortKey[T]) -> T | None:
        return cast(T | None, self._entries.get(key))

    def need(self, key: PortKey[T]) -> T:
        """The object registered under ``key``; a LookupError names it when none is."""
        found = self._entries.get(key)
        if found is None:
            raise LookupError(f"no {key.name} is registered by the composition root")
        return cast(T, found)

    def all(self, key: PortKey[T]) -> tuple[T, ...]:
        return tuple(cast(T, v) for v in self._many.get(key, ()))
