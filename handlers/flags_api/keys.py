"""The flags API's read-only keys: read once from the environment, a file or the configuration,
and kept only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from handlers.config import Config, FlagsApiKey

__all__ = ["MIN_KEY_LENGTH", "ApiKey", "KeyRing", "KeysUnavailable", "presented_key"]

MIN_KEY_LENGTH = 16  # characters; `openssl rand -hex 32` gives 64
MAX_KEY_LENGTH = 512  # a longer header is no key of ours (and is not hashed)


class KeysUnavailable(ValueError):
    """A configured key cannot be read (its variable is unset, its file unreadable, it is too short)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str  # as configured, for logs
    environment: str  # the environment's name (gprd)
    option: str  # and its option (production), which the snapshots are kept by
    frontend: bool  # a browser key: only flags whose definition says frontend: true
    digest: bytes  # SHA-256 of the key

    @property
    def kind(self) -> str:
        return "front-end" if self.frontend else "back-end"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _read(key: FlagsApiKey, environ: Mapping[str, str]) -> bytes:
    """The SHA-256 of the configured key; the key itself is not kept."""
    if key.sha256 is not None:
        return bytes.fromhex(key.sha256)
    if key.env is not None:
        value = environ.get(key.env, "").strip()
        if not value:
            raise KeysUnavailable(f"flags_api key {key.name}: the environment variable {key.env} is not set")
    else:
        assert key.file is not None, "the configuration names one source"
        try:
            value = key.file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise KeysUnavailable(f"flags_api key {key.name}: cannot read {key.file}: {error}") from None
    if not MIN_KEY_LENGTH <= len(value) <= MAX_KEY_LENGTH:
        raise KeysUnavailable(
            f"flags_api key {key.name}: a key must be {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} characters, "
            f"not {len(value)}; make one with `openssl rand -hex 32`"
        )
    return _digest(value)


class KeyRing:
    """Every configured key, by digest."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self._keys = keys

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str]) -> KeyRing:
        """Read each key of ``config.flags_api`` (raises KeysUnavailable naming the one that cannot be)."""
        settings = config.flags_api
        keys: list[ApiKey] = []
        for configured in settings.keys if settings else ():
            environment = next(e for e in config.environments if configured.environment in (e.name, e.option))
            digest = _read(configured, environ)
            if same := next((k.name for k in keys if hmac.compare_digest(k.digest, digest)), None):
                raise KeysUnavailable(
                    f"flags_api keys {same} and {configured.name} are the same key; give each its own"
                )
            keys.append(ApiKey(configured.name, environment.name, environment.option, configured.frontend, digest))
        return cls(tuple(keys))

    @property
    def keys(self) -> tuple[ApiKey, ...]:
        return self._keys

    def identify(self, presented: str) -> ApiKey | None:
        """The key ``presented`` is, or None. Every digest is compared, each in constant time."""
        if len(presented) > MAX_KEY_LENGTH:
            return None
        digest = _digest(presented)
        found = None
        for key in self._keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; None without one."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if api_key and api_key.strip():
        return api_key.strip()
    return None
