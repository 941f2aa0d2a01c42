"""Prometheus metrics of the bot (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "ACK_SECONDS",
    "COMMANDS",
    "COMMAND_SECONDS",
    "PRODUCTION_CHECKS",
    "REDIS_ERRORS",
    "SLACK_API_ERRORS",
    "WEBHOOK_EVENTS",
]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

COMMANDS = Counter(
    "chatops_commands",
    "Commands handled, by command, subcommand, target environment and outcome (ok, refused, error).",
    ["command", "subcommand", "environment", "outcome"],
)
ACK_SECONDS = Histogram(
    "chatops_ack_seconds", "Time from a Slack request arriving to its HTTP answer (the ack).",
    buckets=_LATENCY_BUCKETS,
)  # fmt: skip
COMMAND_SECONDS = Histogram(
    "chatops_command_seconds", "Time from a command starting to its reply being ready (cross-posts included).",
    ["command"], buckets=_LATENCY_BUCKETS,
)  # fmt: skip
SLACK_API_ERRORS = Counter(
    "chatops_slack_api_errors", "Slack Web API calls that failed after retries, by method and error.",
    ["method", "error"],
)  # fmt: skip
REDIS_ERRORS = Counter(
    "chatops_redis_errors", "Commands answered 'could not reach Redis', by environment.", ["environment"]
)
PRODUCTION_CHECKS = Counter(
    "chatops_production_checks", "Production check outcomes (passed, failed, ignored, skipped).", ["outcome"]
)
WEBHOOK_EVENTS = Counter(
    "chatops_webhook_events", "GitLab webhook deliveries, by outcome (recorded, ignored, refused, invalid).",
    ["outcome"],
)  # fmt: skip
