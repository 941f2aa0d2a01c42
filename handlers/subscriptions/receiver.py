"""Subscriptions as one receiver of the outbox: each event is posted to every subscription that wants
it, through the chat (so a Slack outage delays the news rather than dropping it: the event is tried
again); a subscription told already is not told again when the event is retried for another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.core.chat import PostFailed
from handlers.core.context import Application
from handlers.core.outbox_delivery import Receiver, Retries
from handlers.subscriptions.post import subscription_post
from handlers.subscriptions.store import SUBSCRIPTION_STORE

__all__ = ["SubscriptionPosts", "subscription_receivers"]


class SubscriptionPosts:
    name = "subscriptions"
    retries = Retries(concurrency=4, max_attempts=20, backoff_seconds=2.0, max_backoff_seconds=300.0)

    def __init__(self, app: Application) -> None:
        self._app = app

    def wants(self, event: dict[str, Any]) -> bool:
        return True  # which subscription wants it is asked as it is sent (subscriptions come and go)

    async def send(self, event: dict[str, Any]) -> str:
        store, chat = self._app.ports.get(SUBSCRIPTION_STORE), self._app.chat
        if store is None:
            return ""
        wanting = [s for s in await store.all() if s.wants(event)]
        if not wanting:
            return ""
        if chat is None:
            return "no chat to post through yet"
        told, event_id, failures = await store.told(str(event["id"])), str(event["id"]), []
        for subscription in wanting:
            if subscription.id in told:
                continue
            try:
                await chat.post(subscription_post(event, subscription, self._app.config))
            except PostFailed as error:
                failures.append(f"{subscription.id} ({subscription.label}): {error}")
                continue
            await store.mark_told(event_id, subscription.id)
        return "; ".join(failures)[:500]

    async def close(self) -> None:
        return None


def subscription_receivers(app: Application) -> Sequence[Receiver]:
    return [SubscriptionPosts(app)]
