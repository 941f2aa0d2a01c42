"""structlog set-up: JSON lines in production, readable lines in a terminal; always on stderr.

Every line passes a redaction step: known secret values (tokens, signing secret, passwords in
Redis URLs) and anything shaped like a Slack or GitLab token are replaced by ``***``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

__all__ = ["add_secrets", "configure_logging", "redact"]

_SHAPES = (
    (re.compile(r"xox[abpre]-[A-Za-z0-9-]+"), "xox*-***"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-***"),
    (re.compile(r"glpat-[A-Za-z0-9_-]+"), "glpat-***"),
    (re.compile(r"(rediss?://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),
)
_secrets: set[str] = set()


def add_secrets(values: Iterable[str | None]) -> None:
    """Values that must never appear in a log line (at least 6 characters, to avoid noise)."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, "***")
        for pattern, replacement in _SHAPES:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact(logger: object, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: scrub secrets from every value, tracebacks included."""
    for key in list(event):
        event[key] = _scrub(event[key])
    return event


def configure_logging(*, json: bool | None = None, level: str = "info") -> None:
    """``json=None`` chooses by whether stderr is a terminal."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
