"""The ``flags_api`` section: ``chatops flags-api`` (OpenFeature's remote evaluation protocol), its
read-only keys, the pages that may call it, and its bounds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, StrictBool, model_validator

from handlers.config.base import ConfigModel
from handlers.config.types import LocalPath, Text, fail, in_range, nonempty

__all__ = ["FlagsApi", "FlagsApiKey"]

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _matching(pattern: re.Pattern[str], message: str, clean: Any = lambda text: text) -> BeforeValidator:
    """Text that, cleaned, matches ``pattern``; else ``message`` (with ``{value!r}``)."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(text := clean(value)):
            raise fail(message.format(value=value))
        return str(text)

    return BeforeValidator(check)


class FlagsApiKey(ConfigModel):
    """One read-only API key of the flags API: for one environment, for back ends or (``frontend: true``)
    for browsers. The key itself is never in the configuration: an environment variable or a file
    holds it, or the configuration holds only its SHA-256."""

    # Names the key in logs, e.g. gitlab-rails-gprd.
    name: Annotated[str, _matching(_KEY_NAME, "{value!r} must be letters, digits, '.', '_' and '-' (64 at most)")]
    environment: Text  # the environment's name or option
    frontend: StrictBool = False  # a browser key: sees only flags whose definition says frontend: true
    env: Annotated[str, _matching(_VARIABLE, "{value!r} is not an environment variable's name")] | None = None
    file: LocalPath | None = None  # a file holding the key (a mounted secret), relative to this file
    sha256: (
        Annotated[
            str,
            _matching(
                _SHA256,
                "must be the key's SHA-256 in hex (printf %s KEY | sha256sum)",
                lambda v: v.lower().removeprefix("sha256:"),
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _one_source(self) -> FlagsApiKey:
        sources = [s for s in ("env", "file", "sha256") if getattr(self, s) is not None]
        if len(sources) != 1:
            found = f" (found {', '.join(sources)})" if sources else ""
            raise fail(f"say where the key is: exactly one of env, file or sha256{found}")
        return self


class FlagsApi(ConfigModel):
    """``chatops flags-api`` (and, with ``mount_in_serve``, ``chatops serve``): OpenFeature's remote
    evaluation protocol for the environments its keys are for."""

    keys: Annotated[tuple[FlagsApiKey, ...], nonempty("list at least one key (name, environment, env or file)")] = ()
    cors_origins: tuple[
        Annotated[
            str,
            _matching(_ORIGIN, "{value!r} is not an origin like https://gitlab.example.com", lambda v: v.rstrip("/")),
        ],
        ...,
    ] = ()  # the pages whose browsers may call it (front-end keys)
    poll_seconds: Annotated[float, in_range("seconds, 1-3600", lambda s: 1 <= s <= 3600)] = 30.0  # a hint to clients
    max_body_bytes: Annotated[int, in_range("bytes, 1024-1048576", lambda n: 1024 <= n <= 1_048_576, int)] = 65_536
    mount_in_serve: StrictBool = False  # `chatops serve` answers the same routes too (small installs)

    @model_validator(mode="after")
    def _unique_names(self) -> FlagsApi:
        names = [key.name for key in self.keys]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise fail(f"key name {duplicates[0]!r} is used twice; give each key its own name", "keys")
        return self
