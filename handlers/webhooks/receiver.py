"""A configured webhook as a receiver of the outbox: the events it asked for (types, environments),
sent as it asked (our JSON or a Grafana annotation, signed or with a token), bounded by its timeout."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import aiohttp

from handlers.config.webhooks import Webhook
from handlers.core.context import Application
from handlers.core.outbox_delivery import Receiver, Retries
from handlers.webhooks.requests import request_for

__all__ = ["HttpReceiver", "webhook_receivers"]


class HttpReceiver:
    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self.name = webhook.name
        self.retries = Retries(
            webhook.concurrency, webhook.max_attempts, webhook.backoff_seconds, webhook.max_backoff_seconds
        )
        self._types = webhook.types()
        self._places = frozenset(webhook.environments) if webhook.environments is not None else None
        self._session: aiohttp.ClientSession | None = None

    def wants(self, event: dict[str, Any]) -> bool:
        if event.get("type") not in self._types:
            return False
        places = {event.get("environment"), event.get("environment_option")}
        return self._places is None or bool(places & self._places)

    async def send(self, event: dict[str, Any]) -> str:
        """'' when the receiver took it (any 2xx); else what went wrong."""
        webhook = self.webhook
        secret = os.environ.get(webhook.secret_env, "") if webhook.secret_env else ""
        bearer = os.environ.get(webhook.token_env, "") if webhook.token_env else ""
        body, headers = request_for(webhook, event, secret, bearer)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            timeout = aiohttp.ClientTimeout(total=webhook.timeout)
            async with self._session.post(webhook.url, data=body, headers=headers, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return ""
                said = (await response.content.read(200)).decode(errors="replace").strip()
                return f"HTTP {response.status}" + (f": {said}" if said else "")
        except TimeoutError:
            return f"no answer within {webhook.timeout:g} s"
        except aiohttp.ClientError as error:
            return f"{type(error).__name__}: {error}"[:300]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def webhook_receivers(app: Application) -> Sequence[Receiver]:
    return [HttpReceiver(w) for w in app.config.webhooks]
