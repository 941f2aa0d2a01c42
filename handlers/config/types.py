"""Validated configuration values, usable as pydantic field types; each mistake gets a short message."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from flags.redis_url import parse_sentinel_url

__all__ = ["RESERVED_OPTIONS", "Channel", "Folder", "HttpUrl", "LocalPath", "Option", "Pattern", "Project"]
__all__ += ["RedisUrl", "Text", "base_folder", "fail", "in_range", "nonempty"]

_OPTION = re.compile(r"[a-z][a-z0-9-]{0,39}")
_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,}")
_REDIS = ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://")
RESERVED_OPTIONS = frozenset(
    {
        "actors",
        "random",
        "user",
        "project",
        "group",
        "namespace",
        "repository",
        "feature-group",
        "match",
        "stale",
        "limit",
        "help",
        "ignore-production-check",
        "ignore-feature-flag-consistency-check",
        "ignore-random-deprecation-check",
        "ignore-deployment-check",
        "at",
        "in",
        "for",
        "steps",
        "every",
        "guard",
        "metrics",
        "flag",
        "events",
        "dm",
        "reason",
        "since",
    }
)


def fail(message: str, at: str = "") -> PydanticCustomError:
    """A validation error saying ``message``; ``at`` extends its key path (e.g. ``access[0].environments``)."""
    return PydanticCustomError("config", "{message}", {"message": message, "at": at})


def in_range(message: str, ok: Callable[[Any], bool], kind: type | tuple[type, ...] = (int, float)) -> BeforeValidator:
    """A number of ``kind`` (not a bool, not text) for which ``ok`` holds, else ``message``."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
            raise fail(message)
        return value

    return BeforeValidator(check)


def nonempty(message: str) -> AfterValidator:
    def check(value: Any) -> Any:
        if not value:
            raise fail(message)
        return value

    return AfterValidator(check)


def base_folder(info: ValidationInfo) -> Path:
    """Where relative paths start: the validation context's ``base`` (the file's folder), else the current folder."""
    return Path((info.context or {}).get("base") or Path.cwd())


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"must be text, not {value!r}")
    return value


def _option(value: Any) -> str:
    if not _OPTION.fullmatch(option := _text(value)):
        raise fail(f"{option!r} must be lower-case letters, digits and dashes")
    if option in RESERVED_OPTIONS:
        raise fail(f"--{option} is already a command option; choose another")
    return option


def _channel(value: Any) -> str:
    if not _CHANNEL.fullmatch(text := _text(value)):
        raise fail(f"{text!r} is not a channel; write '#name' or a channel ID like C012AB3CD")
    return text


def _http_url(value: Any) -> str:
    if not (text := _text(value)).startswith(("http://", "https://")):
        raise fail(f"{text!r} is not an http(s) URL")
    return text.rstrip("/")


def _redis_url(value: Any) -> str:
    if not (text := _text(value)).startswith(_REDIS):
        schemes = "redis://, rediss://, unix:// or redis+sentinel://host:port,host:port/MASTER"
        raise fail(f"{text!r} is not a Redis URL ({schemes})")
    try:
        parse_sentinel_url(text)
    except ValueError as error:
        raise fail(str(error)) from error
    return text


def _pattern(value: Any) -> str:
    pattern = _text(value)
    try:
        pattern.format(major=16, minor=5)
    except (KeyError, IndexError, ValueError) as error:
        raise fail(f"{pattern!r} may only use {{major}} and {{minor}}") from error
    return pattern


def _folder(path: Path, info: ValidationInfo) -> Path:
    if not (folder := (base_folder(info) / path).resolve()).is_dir():
        raise fail(f"folder {folder} does not exist")
    return folder


Text = Annotated[str, BeforeValidator(_text)]  # non-blank text
Project = Annotated[str, BeforeValidator(lambda v: _text(str(v) if type(v) is int else v))]  # GitLab ID or path
Option = Annotated[str, BeforeValidator(_option)]  # an environment's command option: staging for --staging
Channel = Annotated[str, BeforeValidator(_channel)]  # '#name' or a channel ID
HttpUrl = Annotated[str, BeforeValidator(_http_url)]  # http(s)://…, without a trailing slash
RedisUrl = Annotated[str, BeforeValidator(_redis_url)]  # redis://, rediss://, unix:// or a Sentinel URL
Pattern = Annotated[str, BeforeValidator(_pattern)]  # a format string of {major} and {minor}
LocalPath = Annotated[Path, AfterValidator(lambda path, info: (base_folder(info) / path).resolve())]
Folder = Annotated[Path, AfterValidator(_folder)]  # an existing folder
