"""``FlagsProvider``: the flags SDK behind OpenFeature's Python API (the ``openfeature-sdk`` package).

    from openfeature import api
    api.set_provider_and_wait(FlagsProvider.connect("redis://127.0.0.1:6379/0", prefix="gprd:"))
    api.get_client().get_boolean_value("my_flag", False, EvaluationContext("User:42", {"groups": ["beta"]}))

Boolean flags, with Flipper's semantics: the context's targeting key is the actor's Flipper id
(``User:42``); its ``groups`` attribute lists the Flipper groups the actor is in (group procs live
in application code, so the caller states membership). The reason is the gate that decided
(``STATIC``, ``TARGETING_MATCH``, ``SPLIT``), ``DISABLED`` or ``DEFAULT`` (see flags.resolution);
the variant is ``on`` or ``off``. Evaluation reads the in-process snapshot, never Redis, and
never raises: an unknown flag, another type, or a malformed context answers the caller's default
with OpenFeature's error code. Events: ``PROVIDER_READY`` once the snapshot is loaded (and again
when Redis is back), ``PROVIDER_STALE`` while it cannot be refreshed, and
``PROVIDER_CONFIGURATION_CHANGED`` naming the changed flags as soon as a change reaches the
snapshot (pushed by the bot, or found by a poll).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar

import structlog
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagMetadata, FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from flags._client_base import DEFAULT_POLL_INTERVAL, SnapshotClient
from flags.client import Flags
from flags.definitions import Definition
from flags.resolution import REASONS, Resolution, Resolver, compile_resolution

__all__ = ["GROUPS_ATTRIBUTE", "FlagsProvider"]

#: The evaluation context attribute that lists the Flipper groups the actor is in.
GROUPS_ATTRIBUTE = "groups"

_log = structlog.get_logger("flags")

_T = TypeVar("_T")
_REASON = {reason: Reason(reason) for reason in ("STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT")}
_NO_GROUPS: tuple[str, ...] = ()
_NO_METADATA: FlagMetadata = MappingProxyType({})
_GATE_METADATA: dict[str, FlagMetadata] = {gate: MappingProxyType({"gate": gate}) for gate in REASONS}


class FlagsProvider(AbstractProvider):
    """An OpenFeature provider over a ``Flags`` (or a started ``AsyncFlags``) snapshot client."""

    def __init__(self, flags: SnapshotClient, *, owned: bool = False) -> None:
        """``flags``: the client to evaluate from; ``initialize`` starts a ``Flags`` that is not
        running (an ``AsyncFlags`` must be started by the application). ``owned``: ``shutdown``
        closes it (``connect`` makes such a provider)."""
        super().__init__()
        self._flags = flags
        self._owned = owned
        self._state = flags.state
        self._resolvers: dict[str, tuple[object, Resolver]] = {}  # flag -> (the state it was made for, resolver)
        self._lock = threading.Lock()
        self._ready = False  # PROVIDER_READY said (by initialize or since)
        self._seen_version = flags.version
        self._stale = False
        self._metadata = Metadata(name="flags")

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        prefix: str = "",
        definitions: Mapping[str, Definition] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> FlagsProvider:
        """A provider with a ``Flags`` client of its own, started by ``initialize`` and closed by
        ``shutdown`` (``api.shutdown()``)."""
        return cls(Flags(url, prefix=prefix, definitions=definitions, poll_interval=poll_interval), owned=True)

    @property
    def flags(self) -> SnapshotClient:
        return self._flags

    def get_metadata(self) -> Metadata:
        return self._metadata

    # -- lifecycle and events -----------------------------------------------------------------

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Start the client (a ``Flags`` not running yet) and follow its snapshot. Raises
        ``ProviderNotReadyError`` (OpenFeature then says PROVIDER_ERROR) when Redis could not be
        read; the client keeps trying, and PROVIDER_READY follows once the snapshot is loaded."""
        with self._lock:
            self._flags.remove_listener(self._on_update)
            self._flags.add_listener(self._on_update)  # before reading, so that no change falls between
            if isinstance(self._flags, Flags):
                self._flags.start()
            self._seen_version = self._flags.version
            self._stale = self._flags.stale
            self._ready = self._flags.loaded_at is not None
        if not self._ready:
            raise ProviderNotReadyError(
                f"the flags could not be read from Redis (prefix {self._flags.keys.prefix!r}): evaluations "
                "answer the caller's default until they can be; PROVIDER_READY follows then"
            )

    def shutdown(self) -> None:
        self._flags.remove_listener(self._on_update)
        if self._owned and isinstance(self._flags, Flags):
            self._flags.close()

    def _on_update(self) -> None:
        """The client's snapshot moved (or its freshness did): say so in OpenFeature's events."""
        with self._lock:
            news = self._news()
        for event, details in news:
            if event == "ready":
                self.emit_provider_ready(details)
            elif event == "stale":
                self.emit_provider_stale(details)
            else:
                self.emit_provider_configuration_changed(details)

    def _news(self) -> list[tuple[str, ProviderEventDetails]]:
        flags = self._flags
        version, stale = flags.version, flags.stale
        news: list[tuple[str, ProviderEventDetails]] = []
        if not self._ready:
            if flags.loaded_at is None:
                return news
            self._ready, self._seen_version, self._stale = True, version, False
            news.append(("ready", ProviderEventDetails(message="the flags are loaded")))
        if version != self._seen_version:
            changed = flags.changed_since(self._seen_version)
            keys = sorted(changed) if changed is not None else sorted({*flags.names(), *self._resolvers})
            self._seen_version = version
            for key in keys:
                self._resolvers.pop(key, None)
            if keys:
                news.append(("changed", ProviderEventDetails(flags_changed=keys)))
        if stale != self._stale:
            self._stale = stale
            message = (
                "Redis cannot be read: serving the last good snapshot of the flags"
                if stale
                else "Redis is back: the flags are fresh again"
            )
            news.append(("stale" if stale else "ready", ProviderEventDetails(message=message)))
        return news

    # -- evaluation ---------------------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        try:
            state = self._state(flag_key)
            if state is None:
                return self._missing(flag_key, default_value)
            kept = self._resolvers.get(flag_key)
            if kept is None or kept[0] is not state:  # a state object is replaced, never changed
                kept = (state, compile_resolution(flag_key, state))
                self._resolvers[flag_key] = kept
            if evaluation_context is None:
                return _details(kept[1](None, _NO_GROUPS))
            actor_id = evaluation_context.targeting_key
            groups = evaluation_context.attributes.get(GROUPS_ATTRIBUTE, _NO_GROUPS)
            if actor_id is not None and type(actor_id) is not str:
                return _invalid_context(default_value, actor_id, groups)
            if groups is not _NO_GROUPS and not _names(groups):
                return _invalid_context(default_value, actor_id, groups)
            return _details(kept[1](actor_id, groups))  # type: ignore[arg-type]  # _names checked it
        except Exception as error:  # evaluation never raises
            return _failed(flag_key, default_value, error)

    def _missing(self, flag_key: str, default_value: bool) -> FlagResolutionDetails[bool]:
        if self._flags.loaded_at is None:
            message = "the flags have not been read from Redis yet (is it reachable?): the caller's default is used"
            return FlagResolutionDetails(default_value, ErrorCode.PROVIDER_NOT_READY, message, Reason.ERROR)
        default = self._flags.default(flag_key)
        if default is not None:  # defined, not set: it reads as its definition says, as enabled() and the API answer
            return FlagResolutionDetails(default, None, None, Reason.DEFAULT, "on" if default else "off")
        message = f"no flag {str(flag_key)[:255]!r} in this environment: check its name (feature set creates it)"
        return FlagResolutionDetails(default_value, ErrorCode.FLAG_NOT_FOUND, message, Reason.ERROR)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._not_boolean(flag_key, default_value, "string")

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._not_boolean(flag_key, default_value, "integer")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._not_boolean(flag_key, default_value, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._not_boolean(flag_key, default_value, "object")

    def _not_boolean(self, flag_key: str, default_value: _T, kind: str) -> FlagResolutionDetails[_T]:
        try:
            if self._state(flag_key) is None:
                missing = self._missing(flag_key, False)
                return FlagResolutionDetails(default_value, missing.error_code, missing.error_message, Reason.ERROR)
        except Exception as error:  # evaluation never raises
            return _failed(flag_key, default_value, error)
        message = f"{str(flag_key)[:255]!r} is a boolean flag (on or off), not {kind}: ask with get_boolean_value"
        return FlagResolutionDetails(default_value, ErrorCode.TYPE_MISMATCH, message, Reason.ERROR)


def _names(groups: object) -> bool:
    """Whether ``groups`` is a list (or tuple) of group names."""
    if type(groups) is not list and type(groups) is not tuple:
        return False
    return all(type(name) is str for name in groups)


def _details(resolution: Resolution) -> FlagResolutionDetails[bool]:
    return FlagResolutionDetails(
        resolution.enabled,
        reason=_REASON[resolution.reason],
        variant="on" if resolution.enabled else "off",
        flag_metadata=_GATE_METADATA[resolution.gate] if resolution.gate else _NO_METADATA,
    )


def _invalid_context(default_value: bool, actor_id: object, groups: object) -> FlagResolutionDetails[bool]:
    if actor_id is not None and type(actor_id) is not str:
        kind = type(actor_id).__name__
        what = f"the targeting key must be the actor's Flipper id, a string such as 'User:42' (got {kind})"
    else:
        what = f"'{GROUPS_ATTRIBUTE}' must be a list of group names, such as ['beta'] (got {groups!r:.80})"
    return FlagResolutionDetails(default_value, ErrorCode.INVALID_CONTEXT, what, Reason.ERROR)


def _failed(flag_key: str, default_value: _T, error: Exception) -> FlagResolutionDetails[_T]:
    _log.warning("flags.openfeature_evaluation_failed", feature=str(flag_key)[:255], error=repr(error))
    return FlagResolutionDetails(default_value, ErrorCode.GENERAL, f"evaluation failed: {error!r}", Reason.ERROR)
