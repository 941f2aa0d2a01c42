"""Logging for a client whose Redis comes and goes: warn once, say when it is back."""

from __future__ import annotations

import time

import structlog

__all__: list[str] = []

_log = structlog.get_logger("flags")


class Freshness:
    """Tracks whether the snapshot is fresh; logs the first failure and the recovery only."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.failing_since: float | None = None

    def failed(self, error: BaseException, loaded_at: float | None) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
            _log.warning(
                "flags.redis_unavailable",
                redis=self.where,
                error=str(error) or type(error).__name__,
                serving="last good snapshot" if loaded_at else "definition defaults",
                snapshot_age_s=None if loaded_at is None else round(time.time() - loaded_at, 1),
            )

    def succeeded(self) -> None:
        if self.failing_since is not None:
            _log.info(
                "flags.redis_recovered",
                redis=self.where,
                outage_s=round(time.time() - self.failing_since, 1),
            )
            self.failing_since = None
