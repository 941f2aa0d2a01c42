"""The Slack Web API side of the bot, with slack_sdk (not Bolt): posts, channel names, user groups.

Every client retries Slack's 429 (honouring Retry-After), 5xx answers and
dropped connections. Lookups are cached briefly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.metrics import SLACK_API_ERRORS
from bot.slack_blocks import SlackMessage, to_slack
from handlers.core.chat import PostFailed
from handlers.core.reply import CrossPost, Reply

__all__ = ["SlackBackend", "respond", "retry_handlers", "web_client"]

_log = structlog.get_logger("bot")
DEFAULT_API_URL = "https://slack.com/api/"
CHANNEL_CACHE_S = 300.0
USERGROUP_CACHE_S = 60.0
MAX_RESPONSES = 5  # Slack accepts up to five messages on one response_url


class _AnyServerErrorRetryHandler(AsyncServerErrorRetryHandler):
    """slack_sdk's handler retries 500 and 503 only; a proxy in between also answers 502 and 504."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code <= 599


def retry_handlers() -> list[AsyncRetryHandler]:
    """429 (honouring Retry-After), any 5xx, and dropped connections are retried."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        _AnyServerErrorRetryHandler(max_retry_count=3),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def web_client(token: str | None, api_url: str | None, session: aiohttp.ClientSession) -> AsyncWebClient:
    """A Web API client on a shared HTTP session (kept-alive connections), with retries."""
    base = (api_url or DEFAULT_API_URL).rstrip("/") + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=10, retry_handlers=retry_handlers(), session=session)


def _error(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        data = error.response.data
        code = data.get("error") if isinstance(data, dict) else None
        return str(code or f"HTTP {error.response.status_code}")
    return str(error) or type(error).__name__


def _lookup_failed(method: str, error: Exception) -> None:
    _log.warning("bot.slack_lookup_failed", method=method, error=_error(error))
    SLACK_API_ERRORS.labels(method, _error(error)).inc()


@dataclass
class SlackBackend:
    client: AsyncWebClient
    _channels: dict[str, str] = field(default_factory=dict)
    _channels_at: float = 0.0
    _usergroup_ids: dict[str, str] = field(default_factory=dict)
    _usergroup_ids_at: float = 0.0
    _members: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def channel_id(self, channel: str) -> str | None:
        if not channel.startswith("#"):
            return channel
        name = channel[1:]
        if time.monotonic() - self._channels_at > CHANNEL_CACHE_S or name not in self._channels:
            try:
                await self._load_channels()
            except SlackClientError as error:
                _lookup_failed("conversations.list", error)
                return None
        return self._channels.get(name)

    async def _load_channels(self) -> None:
        channels: dict[str, str] = {}
        cursor = None
        while True:
            page = await self.client.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
            )
            listed: list[dict[str, Any]] = page.get("channels", [])
            for channel in listed:
                channels[channel["name"]] = channel["id"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        self._channels, self._channels_at = channels, time.monotonic()

    async def usergroup_members(self, usergroup: str) -> frozenset[str]:
        group_id = await self._usergroup_id(usergroup.lstrip("@"))
        if group_id is None:
            return frozenset()
        cached = self._members.get(group_id)
        if cached and time.monotonic() - cached[0] < USERGROUP_CACHE_S:
            return cached[1]
        try:
            answer = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackClientError as error:
            _lookup_failed("usergroups.users.list", error)
            return frozenset()
        users: list[str] = answer.get("users", [])
        members = frozenset(users)
        self._members[group_id] = (time.monotonic(), members)
        return members

    async def _usergroup_id(self, handle: str) -> str | None:
        if handle.startswith("S") and handle.isupper():
            return handle
        if time.monotonic() - self._usergroup_ids_at > CHANNEL_CACHE_S or handle not in self._usergroup_ids:
            try:
                answer = await self.client.usergroups_list()
            except SlackClientError as error:
                _lookup_failed("usergroups.list", error)
                return None
            groups: list[dict[str, Any]] = answer.get("usergroups", [])
            self._usergroup_ids = {g["handle"]: g["id"] for g in groups}
            self._usergroup_ids_at = time.monotonic()
        return self._usergroup_ids.get(handle)

    async def post(self, post: CrossPost) -> None:
        for message in to_slack(post):
            try:
                await self.client.chat_postMessage(channel=post.channel, text=message.text, blocks=message.blocks)
            except SlackClientError as error:
                SLACK_API_ERRORS.labels("chat.postMessage", _error(error)).inc()
                raise PostFailed(_error(error)) from error


async def respond(response_url: str, reply: Reply, session: aiohttp.ClientSession) -> None:
    """Answer a slash command on its response_url: in the channel on success, else ephemeral."""
    webhook = AsyncWebhookClient(response_url, timeout=10, retry_handlers=retry_handlers(), session=session)
    messages: list[SlackMessage] = to_slack(reply)
    if len(messages) > MAX_RESPONSES:
        dropped = len(messages) - MAX_RESPONSES + 1
        messages = [
            *messages[: MAX_RESPONSES - 1],
            SlackMessage(text=f"{dropped} more message(s) not shown: narrow the command (e.g. --match)", blocks=[]),
        ]
    for message in messages:
        response = await webhook.send(
            text=message.text,
            blocks=message.blocks or None,
            response_type="in_channel" if reply.public else "ephemeral",
            replace_original=False,  # a button's answer is a new message: the change it undid stays visible
        )
        if response.status_code >= 400:
            _log.warning("bot.respond_failed", status=response.status_code, body=response.body[:200])
            SLACK_API_ERRORS.labels("response_url", f"HTTP {response.status_code}").inc()
