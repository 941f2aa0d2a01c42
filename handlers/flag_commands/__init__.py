"""``/chatops run feature get|set|list|delete|history`` and the Roll back button."""

from handlers.flag_commands.command import FeatureCommand

__all__ = ["FeatureCommand"]
