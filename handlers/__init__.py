"""One module per chatops command. A handler plans (validates) and handles (acts); it
returns a Reply as plain data and never imports slack_bolt."""

from __future__ import annotations

from handlers import feature, help
from handlers.context import Handler

__all__ = ["HANDLERS"]

HANDLERS: dict[str, Handler] = {"feature": feature, "help": help}  # type: ignore[dict-item]
