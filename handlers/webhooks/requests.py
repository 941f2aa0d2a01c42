"""What one event looks like on the wire for one receiver: the body (our JSON event, or a Grafana
annotation) and the headers (its idempotency key, a timestamp, an HMAC-SHA256 signature over
``v1:TIMESTAMP:BODY`` when the receiver has a secret, a Bearer token when it has one)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from handlers.config.webhooks import Webhook

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "annotation_text", "request_for", "signature"]

SIGNATURE_HEADER = "X-Chatops-Signature"
TIMESTAMP_HEADER = "X-Chatops-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=HEX``: HMAC-SHA256 with ``secret`` over ``v1:TIMESTAMP:`` followed by the body."""
    digest = hmac.new(secret.encode(), b"v1:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def annotation_text(event: dict[str, Any]) -> str:
    """One line a graph's reader understands: ``gprd: my_flag off → on by alice (feature set …)``."""
    where, who = event["environment"], event["by"]["name"]
    kind = event["type"]
    if kind.startswith("freeze."):
        said = f"{where}: freeze {'on' if kind == 'freeze.on' else 'lifted'} by {who}"
        return said + (f": {event['reason']}" if event.get("reason") else "")
    if kind == "rollout.aborted":
        return f"{where}: rollout {event['rollout']['id']} of {event['flag']} aborted: {event['reason']}"
    said = f"{where}: {event['flag']} {event['before']} → {event['after']} by {who}"
    label = {"kill": "killed", "rollback": "rolled back"}.get(kind)
    return (f"{label}: " if label else "") + said + (f" ({event['reason']})" if event.get("reason") else "")


def _grafana(event: dict[str, Any]) -> dict[str, Any]:
    tags = ["chatops", event["type"], event["environment"]] + ([event["flag"]] if event.get("flag") else [])
    return {"time": event["time_ms"], "timeEnd": event["time_ms"], "tags": tags, "text": annotation_text(event)}


def request_for(webhook: Webhook, event: dict[str, Any], secret: str, token: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``event``'s request to ``webhook``."""
    document = _grafana(event) if webhook.format == "grafana_annotation" else event
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(event["id"]),
        "X-Chatops-Event": str(event["type"]),
        TIMESTAMP_HEADER: timestamp,
        "User-Agent": "chatops-webhooks/1",
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return body, headers
