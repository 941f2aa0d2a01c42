"""What the bot needs from a chat backend (Slack, or the local shell)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.core.reply import CrossPost

__all__ = ["ChannelUnknown", "ChatBackend", "MembershipUnknown", "Notify", "PostFailed"]

#: Says something to the person who typed the command, only to them, while (or after) it runs.
Notify = Callable[[str], Awaitable[None]]


class PostFailed(Exception):
    """A message could not be delivered; the text says why (e.g. ``channel_not_found``)."""


class ChannelUnknown(Exception):
    """A channel name could not be resolved (not "no such channel"); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MembershipUnknown(Exception):
    """A user group's members could not be read (not "not a member"); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatBackend(Protocol):
    async def channel_id(self, channel: str) -> str | None:
        """The ID of a channel given as ``#name`` or ID, or None when there is no such channel;
        raise ChannelUnknown when the chat service could not be asked."""

    async def usergroup_members(self, usergroup: str) -> frozenset[str]:
        """User IDs (and, for the shell, names) of a user group given by handle or ID; raise
        MembershipUnknown when the chat service could not be asked."""

    async def cannot_post(self, channel_id: str) -> str:
        """Why the bot cannot post in this channel (it is not a member), or '' when it can (or the
        chat service could not be asked: the first post then says what is wrong)."""

    async def post(self, post: CrossPost) -> str:
        """Deliver a cross-post (a new message, a thread reply, or an update of one, as it says);
        a reference to the message, for later updates and replies. Raise PostFailed when it cannot
        be delivered."""
