"""Webhooks. ``POST /webhooks/gitlab``: GitLab deployment events into the deployment registry.
``POST /webhooks/alertmanager``: firing alerts, for rollout guards (at the end of this module).

Answers: 200 recorded; 202 accepted but ignored (another event kind, or an
environment the bot does not track — GitLab disables hooks that keep failing,
so these are not errors); 400 malformed; 401 wrong or missing X-Gitlab-Token;
404 webhooks not configured; 413 body too large; 503 the bot's Redis is down.
A delivery repeated with the same Idempotency-Key (or X-Gitlab-Event-UUID) is
answered 200 "already recorded" and records nothing; when that cannot be checked, 503.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bot.metrics import WEBHOOK_EVENTS
from bot.replays import GITLAB_WINDOW_S, ReplayCheckFailed
from bot.runtime import Runtime
from handlers.config import Secrets
from handlers.core.alerts import Alert, alerts_arrived
from handlers.deployments.gitlab import NotADeploymentEvent, parse_deployment_event
from handlers.deployments.mirror import MIRROR
from handlers.deployments.registry import REGISTRY, InvalidDeployment, RegistryUnavailable, UnknownEnvironment

__all__ = ["MAX_WEBHOOK_BODY", "alertmanager_webhook", "gitlab_webhook"]

MAX_WEBHOOK_BODY = 256 * 1024
_log = structlog.get_logger("bot")


_OUTCOMES = {200: "recorded", 202: "ignored", 401: "refused", 404: "refused", 503: "unavailable"}


def _answer(status: int, message: str, **extra: object) -> web.Response:
    WEBHOOK_EVENTS.labels(_OUTCOMES.get(status, "invalid")).inc()
    return web.json_response({"message": message, **extra}, status=status)


def _token_matches(given: str, secret: str) -> bool:
    # surrogateescape: aiohttp keeps undecodable header bytes that way; they must compare, not crash
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


async def _json_body(request: web.Request) -> Any:
    """The body as JSON, read whole however many TCP segments it came in; or the answer (413
    past MAX_WEBHOOK_BODY bytes, 400 not JSON) as a ``web.Response``."""
    if (request.content_length or 0) > MAX_WEBHOOK_BODY:
        return _answer(413, f"body larger than {MAX_WEBHOOK_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):  # b"" only at the end of the body
        size += len(chunk)
        if size > MAX_WEBHOOK_BODY:
            return _answer(413, f"body larger than {MAX_WEBHOOK_BODY} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        return _answer(400, "the body is not JSON")


def gitlab_webhook(runtime: Runtime, secrets: Secrets) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        registry = runtime.app.ports.get(REGISTRY)
        secret = secrets.gitlab_webhook_token
        if registry is None or not secret:
            return _answer(404, "deployment webhooks are not configured (deployments section, GITLAB_WEBHOOK_TOKEN)")
        if not _token_matches(request.headers.get("X-Gitlab-Token", ""), secret):
            _log.warning("bot.webhook_refused", reason="wrong or missing X-Gitlab-Token", peer=request.remote)
            return _answer(401, "wrong or missing X-Gitlab-Token")
        payload = await _json_body(request)
        if isinstance(payload, web.Response):
            return payload
        delivery = request.headers.get("Idempotency-Key") or request.headers.get("X-Gitlab-Event-UUID") or ""
        guard = runtime.replays if delivery else None
        if guard is not None:
            try:
                first = await guard.first_time("gitlab", delivery, GITLAB_WINDOW_S)
            except ReplayCheckFailed as error:  # fail closed: GitLab retries a 503
                return _answer(503, f"could not check for a repeated delivery: {error}")
            if not first:
                _log.info("bot.replay", reason="webhook delivery seen before", delivery=delivery[:64])
                return _answer(200, "already recorded")
        try:
            deployment = parse_deployment_event(payload)
            became = await registry.record(deployment)
            mirror = runtime.app.ports.get(MIRROR)
            if became == "current" and mirror is not None:
                mirror.learn_soon(deployment.sha)
        except NotADeploymentEvent as error:
            return _answer(202, f"ignored: {error}")
        except UnknownEnvironment as error:
            _log.info("bot.webhook_ignored", reason=str(error))
            return _answer(202, f"ignored: {error}")
        except (InvalidDeployment, RegistryUnavailable) as error:  # after UnknownEnvironment, a kind of it
            if guard is not None:  # not recorded: a redelivery must go through
                await guard.forget("gitlab", delivery)
            return _answer(400 if isinstance(error, InvalidDeployment) else 503, str(error))
        except Exception:  # a bug: not recorded either
            if guard is not None:
                await guard.forget("gitlab", delivery)
            raise
        _log.info(
            "bot.deployment_recorded",
            environment=deployment.environment,
            sha=deployment.sha[:11],
            status=deployment.status,
            became=became or "history",
        )
        return _answer(200, "recorded", became=became or "history")

    return handle


def alertmanager_webhook(runtime: Runtime, secrets: Secrets) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /webhooks/alertmanager``: Alertmanager's webhook receiver (``Authorization: Bearer``,
    token from ALERTMANAGER_WEBHOOK_TOKEN). Firing alerts abort the rollouts whose guard they match.
    200 with the rollouts aborted; 400 malformed; 401 wrong token; 404 not configured."""

    async def handle(request: web.Request) -> web.Response:
        secret = secrets.alertmanager_webhook_token
        if not secret or runtime.app.chat is None:
            return _answer(404, "the Alertmanager webhook is not configured (ALERTMANAGER_WEBHOOK_TOKEN)")
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not _token_matches(given, secret):
            _log.warning("bot.webhook_refused", reason="wrong or missing bearer token", peer=request.remote)
            return _answer(401, "wrong or missing bearer token")
        payload = await _json_body(request)
        if isinstance(payload, web.Response):
            return payload
        alerts = payload.get("alerts") if isinstance(payload, dict) else None
        if not isinstance(alerts, list):
            return _answer(400, "not an Alertmanager notification: no list of alerts")
        external = str(payload.get("externalURL") or "")
        received = [
            _alert(alert, external)
            for alert in alerts
            if isinstance(alert, dict) and isinstance(alert.get("labels"), dict)
        ]
        try:
            done = await alerts_arrived(runtime.app, runtime.app.chat, received)
        except (RedisError, OSError) as error:  # Alertmanager retries a 5xx
            return _answer(503, f"the bot's Redis did not answer: {error}")
        return _answer(200, "received", **done)

    return handle


def _alert(alert: dict[str, Any], external: str) -> Alert:
    """One alert of an Alertmanager notification (its labels are known to be a mapping)."""
    annotations = alert.get("annotations")
    source = str(alert.get("generatorURL") or "")
    return Alert(
        str(alert.get("status", "")),
        {str(k): str(v) for k, v in alert["labels"].items()},
        str(alert.get("fingerprint", "")),
        {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {},
        source if _web_address(source) else "",
        external if _web_address(external) else "",
        _moment(alert.get("startsAt")),
        _moment(alert.get("endsAt")) if alert.get("status") == "resolved" else 0.0,
    )


def _web_address(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 2000


def _moment(text: object) -> float:
    """An RFC 3339 time as Alertmanager writes it (nanoseconds, ``Z``), as seconds; 0 when there is
    none (Go's zero time) or it is not one."""
    if not isinstance(text, str):
        return 0.0
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most microseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None or moment.year < 2000:
        return 0.0
    return moment.timestamp()
