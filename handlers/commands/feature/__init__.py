"""``/chatops run feature get|set|list|delete|history`` and the Roll back button."""

from handlers.commands.feature.command import FeatureCommand

__all__ = ["FeatureCommand"]
