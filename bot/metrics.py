"""Prometheus metrics of delivery: acks, Slack's Web API, webhooks (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from handlers.metrics import LATENCY_BUCKETS

__all__ = ["ACK_SECONDS", "SLACK_API_ERRORS", "WEBHOOK_EVENTS"]

ACK_SECONDS = Histogram(
    "chatops_ack_seconds", "Time from a Slack request arriving to its HTTP answer (the ack).", buckets=LATENCY_BUCKETS
)
SLACK_API_ERRORS = Counter(
    "chatops_slack_api_errors",
    "Slack Web API calls that failed after retries, by method and error.",
    ["method", "error"],
)
WEBHOOK_EVENTS = Counter(
    "chatops_webhook_events",
    "GitLab webhook deliveries, by outcome (recorded, ignored, refused, invalid).",
    ["outcome"],
)
