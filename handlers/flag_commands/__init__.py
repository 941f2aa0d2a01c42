"""``/chatops run feature get|set|list|delete|history`` and the Roll back button."""
