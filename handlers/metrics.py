"""Prometheus metrics of the application (the bot serves them at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["COMMANDS", "COMMAND_SECONDS", "LATENCY_BUCKETS", "PRODUCTION_CHECKS", "REDIS_ERRORS"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

COMMANDS = Counter(
    "chatops_commands",
    "Commands handled, by command, subcommand, target environment and outcome (ok, refused, error).",
    ["command", "subcommand", "environment", "outcome"],
)
COMMAND_SECONDS = Histogram(
    "chatops_command_seconds",
    "Time from a command starting to its reply being ready (cross-posts included).",
    ["command"],
    buckets=LATENCY_BUCKETS,
)
PRODUCTION_CHECKS = Counter(
    "chatops_production_checks", "Production check outcomes (passed, failed, ignored, skipped).", ["outcome"]
)
REDIS_ERRORS = Counter(
    "chatops_redis_errors", "Commands answered 'could not reach Redis', by environment.", ["environment"]
)
