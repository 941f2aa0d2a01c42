"""Every log line is structlog's JSON, redacted, including the standard library's (aiohttp, Bolt,
asyncio); a client going away is one line, not a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from bot.logs import add_secrets, configure_logging


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Logging as `chatops serve` sets it up (configured in the test itself, where capsys has
    its stream in place), undone afterwards."""
    yield capsys
    logging.getLogger().handlers = []
    structlog.reset_defaults()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_standard_library_lines_are_json_and_redacted(json_logs: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="info")
    add_secrets(["s3cret-signing-value"])
    logging.getLogger("slack_bolt.App").warning("verification failed with s3cret-signing-value and xoxb-1-abc")
    try:
        raise ValueError("boom with glpat-abcdefgh")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    structlog.get_logger("bot").info("bot.command", ok=True)
    warning, error, ours = _lines(json_logs)
    assert warning["logger"] == "slack_bolt.App" and warning["level"] == "warning"
    assert warning["event"] == "verification failed with *** and xox*-***"
    assert error["level"] == "error" and "ValueError: boom with glpat-***" in str(error["exception"])
    assert ours == {**ours, "event": "bot.command", "ok": True, "level": "info"}


@pytest.mark.parametrize("error", [ConnectionResetError("Connection lost"), TimeoutError()])
def test_a_client_going_away_is_one_line(json_logs: pytest.CaptureFixture[str], error: Exception) -> None:
    configure_logging(json=True, level="info")
    try:
        raise error
    except Exception:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    [line] = _lines(json_logs)
    assert line["level"] == "info" and "exception" not in line
    assert str(line["event"]).startswith(f"Error handling request: {type(error).__name__}")
