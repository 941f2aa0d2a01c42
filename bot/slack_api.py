"""The Slack Web API side of the bot, with slack_sdk (not Bolt): posts, channel names, user groups.

Every client retries Slack's 429 (honouring Retry-After), 5xx answers and
dropped connections; every call is bounded (SLACK_CALL_TIMEOUT, also on a shared
session) and a timed-out call is not retried. Lookups are cached briefly; a lookup
that fails raises ChannelUnknown or MembershipUnknown with Slack's reason.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
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

from bot.charts import render_png
from bot.metrics import SLACK_API_ERRORS
from bot.slack_blocks import SlackMessage, to_slack
from handlers.core.charts import Chart
from handlers.core.chat import ChannelUnknown, MembershipUnknown, PostFailed
from handlers.core.reply import CrossPost, Reply

__all__ = ["SLACK_CALL_TIMEOUT", "SlackBackend", "respond", "retry_handlers", "web_client"]

_log = structlog.get_logger("bot")
DEFAULT_API_URL = "https://slack.com/api/"
CHANNEL_CACHE_S = 300.0
USERGROUP_CACHE_S = 60.0
# Every attempt of a Slack call (aiohttp's session default would be 300 s total).
SLACK_CALL_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
RESPOND_TIMEOUT_S = 30.0  # one response_url message, retries included
_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError)
MAX_RESPONSES = 5  # Slack accepts up to five messages on one response_url
# A chart's three calls (upload URL, bytes, share), retries included: well within the post's
# DELIVERY_DEADLINE_S (handlers.core.delivery), since the message itself was already delivered.
UPLOAD_DEADLINE_S = 20.0
_UPLOAD_STATUS = re.compile(r"status: (\d{3})")


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


class _ConnectionErrorRetryHandler(AsyncConnectionErrorRetryHandler):
    """Dropped connections are retried; a timeout is not (Slack may have acted, and it bounds the wait)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if isinstance(error, TimeoutError):  # aiohttp's ServerTimeoutError is a connection error too
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


def retry_handlers() -> list[AsyncRetryHandler]:
    """429 (honouring Retry-After), any 5xx, and dropped connections are retried."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        _AnyServerErrorRetryHandler(max_retry_count=3),
        _ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def slack_session() -> aiohttp.ClientSession:
    """The HTTP session every Web API call and response_url answer shares (kept-alive connections).
    slack_sdk applies its own ``timeout`` only to sessions it creates, so the bound is the session's."""
    return aiohttp.ClientSession(timeout=SLACK_CALL_TIMEOUT)


def web_client(token: str | None, api_url: str | None, session: aiohttp.ClientSession) -> AsyncWebClient:
    """A Web API client on the shared ``slack_session()``, with retries; each call is bounded by the session."""
    base = (api_url or DEFAULT_API_URL).rstrip("/") + "/"
    timeout = int(SLACK_CALL_TIMEOUT.total or 10)
    return AsyncWebClient(token=token, base_url=base, timeout=timeout, retry_handlers=retry_handlers(), session=session)


def _error(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        data = error.response.data
        code = data.get("error") if isinstance(data, dict) else None
        return str(code or f"HTTP {error.response.status_code}")
    if isinstance(error, TimeoutError):
        return "timeout"
    return str(error) or type(error).__name__


def _reason(error: Exception) -> str:
    """Why a lookup failed, for the person: "Slack answered ratelimited", "Slack did not answer"."""
    if isinstance(error, SlackApiError):
        return f"Slack answered {_error(error)}"
    if isinstance(error, TimeoutError):
        return "Slack did not answer"
    return f"Slack could not be reached ({_error(error)})"


def _lookup_failed(method: str, error: Exception) -> None:
    _log.warning("bot.slack_lookup_failed", method=method, error=_error(error))
    SLACK_API_ERRORS.labels(method, _error(error)).inc()


@dataclass
class SlackBackend:
    """``short_lived`` user groups (handles or IDs: those production access rules name) are re-read
    after ``short_cache_s``; others after USERGROUP_CACHE_S. ``forget_usergroup`` drops one at once."""

    client: AsyncWebClient
    short_lived: Collection[str] = frozenset()
    short_cache_s: float = USERGROUP_CACHE_S
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
            except _FAILURES as error:
                _lookup_failed("conversations.list", error)
                raise ChannelUnknown(_reason(error)) from error
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
        handle = usergroup.lstrip("@")
        group_id = await self._usergroup_id(handle)
        if group_id is None:
            return frozenset()
        short = handle in self.short_lived or group_id in self.short_lived
        cached = self._members.get(group_id)
        if cached and time.monotonic() - cached[0] < (self.short_cache_s if short else USERGROUP_CACHE_S):
            return cached[1]
        try:
            answer = await self.client.usergroups_users_list(usergroup=group_id)
        except _FAILURES as error:
            _lookup_failed("usergroups.users.list", error)
            raise MembershipUnknown(_reason(error)) from error
        users: list[str] = answer.get("users", [])
        members = frozenset(users)
        self._members[group_id] = (time.monotonic(), members)
        return members

    def forget_usergroup(self, group_id: str, *, handles: bool = False) -> None:
        """Slack said the group changed: its members (and, with ``handles``, the handle map) are re-read."""
        self._members.pop(group_id, None)
        if handles:
            self._usergroup_ids_at = 0.0

    async def _usergroup_id(self, handle: str) -> str | None:
        if handle.startswith("S") and handle.isupper():
            return handle
        if time.monotonic() - self._usergroup_ids_at > CHANNEL_CACHE_S or handle not in self._usergroup_ids:
            try:
                answer = await self.client.usergroups_list()
            except _FAILURES as error:
                _lookup_failed("usergroups.list", error)
                raise MembershipUnknown(_reason(error)) from error
            groups: list[dict[str, Any]] = answer.get("usergroups", [])
            self._usergroup_ids = {g["handle"]: g["id"] for g in groups}
            self._usergroup_ids_at = time.monotonic()
        return self._usergroup_ids.get(handle)

    async def cannot_post(self, channel_id: str) -> str:
        """A channel the bot is not a member of cannot be posted in (direct messages always can)."""
        if channel_id[:1] in ("D", "U", "W"):
            return ""
        try:
            answer = await self.client.conversations_info(channel=channel_id)
        except _FAILURES as error:
            _lookup_failed("conversations.info", error)
            return "" if "not_in_channel" not in str(error) else "the bot is not a member of this channel"
        channel: dict[str, Any] = answer.get("channel") or {}
        if channel.get("is_member") or channel.get("is_im"):
            return ""
        return "the bot is not a member of this channel"

    async def post(self, post: CrossPost) -> str:
        """A new message (or several, split to Slack's limits), a thread reply, or an update of
        one (chat.update, its first message only); the reference is ``CHANNEL_ID|TS``. A chart
        follows as an image in the message's thread (see ``_upload_chart``)."""
        reference = await (self._update(post) if post.replaces else self._post_new(post))
        if post.chart is not None:
            await self._upload_chart(post.chart, *_chart_thread(post, reference))
        return reference

    async def _update(self, post: CrossPost) -> str:
        message = to_slack(post)[0]
        channel, _, ts = post.replaces.partition("|")
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
        except _FAILURES as error:
            SLACK_API_ERRORS.labels("chat.update", _error(error)).inc()
            raise PostFailed(_error(error)) from error
        return post.replaces

    async def _post_new(self, post: CrossPost) -> str:
        thread = post.thread.partition("|")[2] or None
        reference = ""
        for message in to_slack(post):
            try:
                sent = await self.client.chat_postMessage(
                    channel=post.channel, text=message.text, blocks=message.blocks, thread_ts=thread
                )
            except _FAILURES as error:
                SLACK_API_ERRORS.labels("chat.postMessage", _error(error)).inc()
                raise PostFailed(_error(error)) from error
            reference = reference or f"{sent.get('channel', post.channel)}|{sent.get('ts', '')}"
        return reference

    async def _upload_chart(self, chart: Chart, channel: str, thread_ts: str) -> None:
        """The chart as a PNG in ``thread_ts`` of ``channel`` (files_upload_v2: an upload URL, the
        bytes, then sharing it). The message it belongs to was delivered, so a chart that cannot be
        drawn or uploaded is logged and counted, never raised; it is bounded by UPLOAD_DEADLINE_S
        so that the post stays within its delivery deadline."""
        try:
            png = await asyncio.to_thread(render_png, chart)
        except Exception:  # a chart the data breaks must not turn a delivered message into a failure
            _log.exception("bot.chart_render_failed", channel=channel, chart=chart.title)
            return
        try:
            async with asyncio.timeout(UPLOAD_DEADLINE_S):
                await self.client.files_upload_v2(
                    channel=channel,
                    thread_ts=thread_ts,
                    file=png,
                    filename=chart.filename,
                    title=chart.title,
                    alt_txt=chart.alt or None,
                )
        except _FAILURES as error:
            method, reason = _upload_failure(error)
            _log.warning("bot.chart_upload_failed", channel=channel, method=method, error=reason)
            SLACK_API_ERRORS.labels(method, reason).inc()


def _chart_thread(post: CrossPost, reference: str) -> tuple[str, str]:
    """Where a post's chart goes (channel ID, thread ts): the thread the post is in (Slack wants
    the parent's ts, never a reply's), else the thread of the message posted or updated."""
    channel, _, ts = reference.partition("|")
    return channel, post.thread.partition("|")[2] or ts


def _upload_failure(error: Exception) -> tuple[str, str]:
    """(method, error) of a failed upload, for the log and the error counter: the Web API method
    that refused, or the upload URL's HTTP status (slack_sdk words that as a long message, which
    must not become a metric label)."""
    if isinstance(error, SlackApiError):
        return str(error.response.api_url).rsplit("/", 1)[-1] or "files.upload", _error(error)
    if isinstance(error, SlackRequestError) and (status := _UPLOAD_STATUS.search(str(error))):
        return "files.upload (upload URL)", f"HTTP {status.group(1)}"
    return "files.upload", _error(error)


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
        async with asyncio.timeout(RESPOND_TIMEOUT_S):  # the webhook client takes no per-request timeout
            response = await webhook.send(
                text=message.text,
                blocks=message.blocks or None,
                response_type="in_channel" if reply.public else "ephemeral",
                replace_original=False,  # a button's answer is a new message: the change it undid stays visible
            )
        if response.status_code >= 400:
            _log.warning("bot.respond_failed", status=response.status_code, body=response.body[:200])
            SLACK_API_ERRORS.labels("response_url", f"HTTP {response.status_code}").inc()
