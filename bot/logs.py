"""structlog set-up: JSON lines in production, readable lines in a terminal; always on stderr.

Every line passes a redaction step: known secret values (tokens, signing secret, passwords in
Redis URLs) and anything shaped like a Slack or GitLab token are replaced by ``***``. The standard
library's logging (aiohttp, Bolt, asyncio) goes through the same processors, so every line is the
same JSON and redacted; a peer resetting or timing out is one line, not a traceback.
"""

from __future__ import annotations

import asyncio
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


#: Errors a server meets when a client goes away or stalls: expected, so one line each.
_CLIENT_ERRORS = (ConnectionResetError, BrokenPipeError, TimeoutError, asyncio.CancelledError)


class _ClientErrorsInOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, _CLIENT_ERRORS):
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}".rstrip(": ")
            record.args, record.exc_info, record.exc_text = (), None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _route_standard_logging(level: int, renderer: structlog.typing.Processor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ClientErrorsInOneLine())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


def configure_logging(*, json: bool | None = None, level: str = "info") -> None:
    """``json=None`` chooses by whether stderr is a terminal."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    _route_standard_logging(logging.getLevelNamesMapping()[level.upper()], renderer)
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
