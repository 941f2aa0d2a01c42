"""What the bot needs from a chat backend (Slack, or the local shell)."""

from __future__ import annotations

from typing import Protocol

from handlers.core.reply import CrossPost

__all__ = ["ChatBackend", "PostFailed"]


class PostFailed(Exception):
    """A message could not be delivered; the text says why (e.g. ``channel_not_found``)."""


class ChatBackend(Protocol):
    async def channel_id(self, channel: str) -> str | None:
        """The ID of a channel given as ``#name`` or ID, or None when it cannot be found."""

    async def usergroup_members(self, usergroup: str) -> frozenset[str]:
        """User IDs (and, for the shell, names) of a user group given by handle or ID."""

    async def post(self, post: CrossPost) -> None:
        """Deliver a cross-post; raise PostFailed when it cannot be delivered."""
