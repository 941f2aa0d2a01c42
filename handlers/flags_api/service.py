"""The flags API's answers, as OFREP defines them, independent of HTTP: who asks (a key, for an
environment, maybe from a browser), single and bulk evaluation with Flipper's answers and
OpenFeature's reasons, the bulk answer's ETag, and the polling hints."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flags import AsyncFlags, Definition, FlagState, load_definitions, resolve_redis_url
from flags.embedded import DEFAULT_DIRECTORY
from handlers.config import Config
from handlers.config import FlagsApi as Settings
from handlers.flags_api.context import BadRequest, EvaluationContext, parse_request
from handlers.flags_api.keys import ApiKey, KeyRing, presented_key
from handlers.flags_api.snapshots import Snapshots

__all__ = ["FLAG_NOT_FOUND", "TARGETING_KEY_MISSING", "Answer", "FlagsApi"]

FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
VARIANTS = {True: "on", False: "off"}
NAME = "chatops flags-api"
_ASK = "ask the flags API's operators for a key"


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send: a status, a JSON body (None: no body) and headers; ``refused`` says why a
    request was refused (logged), empty for an answer."""

    status: int
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    refused: str = ""
    key: str = ""  # the name of the key that asked, when it is known


def refusal(status: int, details: str, reason: str, headers: Mapping[str, str] | None = None, key: str = "") -> Answer:
    """A refusal with OFREP's general error body (``errorDetails``)."""
    return Answer(status, {"errorDetails": details}, headers or {}, reason, key)


def _definitions_digest(definitions: Mapping[str, Definition]) -> str:
    marks = sorted((n, d.default_enabled, d.frontend) for n, d in definitions.items())
    return hashlib.sha256(json.dumps(marks).encode()).hexdigest()[:16]


def _positive(percentage: str | None) -> bool:
    try:
        return percentage is not None and float(percentage) > 0
    except ValueError:
        return False


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class FlagsApi:
    def __init__(
        self, settings: Settings, keys: KeyRing, snapshots: Snapshots, definitions: Mapping[str, Definition]
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.snapshots = snapshots
        self._definitions = definitions
        self._definitions_digest = _definitions_digest(definitions)
        self._origins = frozenset(settings.cors_origins)
        self._names: dict[tuple[str, bool], tuple[int, list[str]]] = {}  # (option, frontend) -> (version, names)
        self._configuration = self._configuration_body()

    @classmethod
    def from_config(
        cls, config: Config, environ: Mapping[str, str] | None = None, embedded_directory: Path = DEFAULT_DIRECTORY
    ) -> FlagsApi:
        """Read the keys and definitions (raises KeysUnavailable or DefinitionError saying what is
        wrong); the snapshots start with :meth:`start`."""
        assert config.flags_api is not None, "the configuration has a flags_api section"
        keys = KeyRing.from_config(config, os.environ if environ is None else environ)
        definitions = load_definitions(config.definitions) if config.definitions else {}
        served = {key.option for key in keys.keys}
        sources = {
            e.option: (e.redis_url or config.redis_url or resolve_redis_url(None, embedded_directory), e.prefix)
            for e in config.environments
            if e.option in served
        }
        return cls(config.flags_api, keys, Snapshots(sources, definitions), definitions)

    async def start(self) -> None:
        await self.snapshots.start()

    async def close(self) -> None:
        await self.snapshots.close()

    def problems(self) -> list[str]:
        """Why the API is not ready: the environments whose flags were never read (Redis away since start)."""
        names = {key.option: key.environment for key in self.keys.keys}
        return [f"the flags of {names[o]} have not been read yet" for o in self.snapshots.not_loaded()]

    # -- who asks ------------------------------------------------------------------------------

    def origin_allowed(self, origin: str) -> bool:
        return origin.rstrip("/").lower() in self._origins

    def authorize(
        self, authorization: str | None, api_key: str | None, environment: str | None, origin: str | None
    ) -> ApiKey | Answer:
        """The key the request carries, when it may read ``environment`` (None: the key's own) from
        ``origin`` (a browser's; None: not a browser); else the refusal."""
        presented = presented_key(authorization, api_key)
        challenge = {"WWW-Authenticate": 'Bearer realm="flags-api"'}
        if presented is None:
            details = f"No API key: send Authorization: Bearer KEY or X-API-Key: KEY ({_ASK})"
            return refusal(401, details, "no key", challenge)
        key = self.keys.identify(presented)
        if key is None:
            return refusal(
                401, f"This API key is not known here: mistyped or revoked ({_ASK})", "unknown key", challenge
            )
        if environment is not None and environment not in (key.environment, key.option):
            details = f"The key {key.name} is for {key.environment}; it cannot read {environment[:100]}"
            return refusal(403, details, "key for another environment", key=key.name)
        if origin is not None and not key.frontend:
            details = (
                f"The key {key.name} is a back-end key, and this request comes from a browser ({origin[:100]}): "
                "a page needs a front-end key, which reads only flags whose definition says frontend: true"
            )
            return refusal(403, details, "back-end key from a browser", key=key.name)
        return key

    # -- answers -------------------------------------------------------------------------------

    def evaluate_flag(self, key: ApiKey, name: str, body: bytes) -> Answer:
        """``POST /ofrep/v1/evaluate/flags/{key}``: one flag for one context."""
        flags = self.snapshots.flags(key.option)
        if flags is None:
            return self._not_loaded(key)
        try:
            context = parse_request(body)
        except BadRequest as bad:
            return Answer(400, {"key": name, "errorCode": bad.code, "errorDetails": bad.details}, refused=bad.code)
        result = self._evaluate(key, flags, name, context)
        code = result.get("errorCode")
        if code is None:
            if flags.stale:
                result["metadata"] = {"stale": True}
            return Answer(200, result)
        return Answer(404 if code == FLAG_NOT_FOUND else 400, result, refused=result.pop("_reason", code))

    def evaluate_flags(self, key: ApiKey, body: bytes, if_none_match: str | None) -> Answer:
        """``POST /ofrep/v1/evaluate/flags``: every flag the key may read, for one context; 304 when
        the ETag the client holds is still right."""
        flags = self.snapshots.flags(key.option)
        if flags is None:
            return self._not_loaded(key)
        try:
            context = parse_request(body)
        except BadRequest as bad:
            return Answer(400, {"errorCode": bad.code, "errorDetails": bad.details}, refused=bad.code)
        etag = self._etag(key, context)
        if _matches(if_none_match, etag):
            return Answer(304, None, {"ETag": etag})
        items = [self._evaluate(key, flags, name, context) for name in self._visible(key, flags)]
        for item in items:
            item.pop("_reason", None)
        metadata = {"environment": key.environment, "stale": flags.stale}
        return Answer(200, {"flags": items, "metadata": metadata}, {"ETag": etag})

    def configuration(self, key: ApiKey, if_none_match: str | None) -> Answer:
        """``GET /ofrep/v1/configuration``: what this server supports and how often to poll it."""
        body, etag = self._configuration
        if _matches(if_none_match, etag):
            return Answer(304, None, {"ETag": etag})
        return Answer(200, body, {"ETag": etag})

    def _configuration_body(self) -> tuple[dict[str, Any], str]:
        body = {
            "name": NAME,
            "capabilities": {
                "cacheInvalidation": {
                    "polling": {"enabled": True, "minPollingIntervalMs": int(self.settings.poll_seconds * 1000)}
                },
                "flagEvaluation": {"supportedTypes": ["boolean"]},
            },
        }
        return body, f'"{hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]}"'

    def _not_loaded(self, key: ApiKey) -> Answer:
        details = f"The flags of {key.environment} have not been read from Redis yet; try again in a second"
        return refusal(503, details, "not loaded", {"Retry-After": "1"})

    def _etag(self, key: ApiKey, context: EvaluationContext) -> str:
        digest = self.snapshots.digest(key.option, key.frontend)  # a front-end key's: its flags' only
        parts = (digest, self._definitions_digest, key.option, key.frontend)
        text = json.dumps([*parts, context.canonical])
        return f'"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'

    def _visible(self, key: ApiKey, flags: AsyncFlags) -> list[str]:
        """The flags the key may read, stored or defined, sorted (kept while the snapshot is the same)."""
        kept = self._names.get((key.option, key.frontend))
        if kept is not None and kept[0] == flags.version:
            return kept[1]
        names = sorted(set(flags.names()) | set(self._definitions))
        if key.frontend:
            names = [n for n in names if (d := self._definitions.get(n)) is not None and d.frontend]
        self._names[(key.option, key.frontend)] = (flags.version, names)
        return names

    def _evaluate(self, key: ApiKey, flags: AsyncFlags, name: str, context: EvaluationContext) -> dict[str, Any]:
        """One flag's evaluation (OFREP's evaluationSuccess), or its failure (with ``_reason`` for the log)."""
        definition = self._definitions.get(name)
        if key.frontend and (definition is None or not definition.frontend):
            details = (
                f"No flag named {name[:100]} for front ends in {key.environment}: "
                "front-end keys read only flags whose definition says frontend: true"
            )
            reason = "flag not found" if definition is None and flags.state(name) is None else "back-end flag"
            return {"key": name, "errorCode": FLAG_NOT_FOUND, "errorDetails": details, "_reason": reason}
        state = flags.state(name)
        if state is None:
            if definition is None:
                details = f"No flag named {name[:100]} in {key.environment}: it is neither set nor defined"
                return {"key": name, "errorCode": FLAG_NOT_FOUND, "errorDetails": details, "_reason": "flag not found"}
            return {
                "key": name,
                "value": definition.default_enabled,
                "reason": "DEFAULT",
                "variant": VARIANTS[definition.default_enabled],
            }
        resolution = self.snapshots.resolver(key.option, name, state)(context.targeting_key, context.groups)
        if not resolution.enabled and context.targeting_key is None and _decided_by_actor(state):
            details = (
                f"{name[:100]} is on for some actors in {key.environment}: say which with targetingKey (e.g. User:42)"
            )
            return {"key": name, "errorCode": TARGETING_KEY_MISSING, "errorDetails": details}
        return {
            "key": name,
            "value": resolution.enabled,
            "reason": resolution.reason,
            "variant": VARIANTS[resolution.enabled],
        }


def _decided_by_actor(state: FlagState) -> bool:
    """Whether who the actor is decides the flag (actors named, or a share of actors)."""
    return bool(state.actors) or _positive(state.percentage_of_actors)
