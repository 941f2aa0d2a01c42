"""One module per chatops command. A handler plans (validates) and handles (acts); it
returns a Reply as plain data and never imports slack_bolt."""

from __future__ import annotations

from typing import cast

from handlers import auto_deploy, feature, help, release
from handlers.context import Handler

__all__ = ["HANDLERS"]

# Each module's plan() returns its own plan type and its handle() takes it: a module is a
# Handler for its own plans, which the Protocol cannot say, hence the cast.
HANDLERS = cast(
    dict[str, Handler],
    {"feature": feature, "auto_deploy": auto_deploy, "release": release, "help": help},
)
