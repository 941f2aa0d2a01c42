"""The composition root: the one place that builds the application (and knows every capability).

``build_application(config, secrets)`` connects every environment's Redis, the bot's own Redis and
its stores, loads the definitions, the deployment registry and git mirror, and registers the
commands; ``await app.start(chat)`` begins the background work and ``await app.close()`` ends it.
"""

from __future__ import annotations

from handlers.composition.build import build_application
from handlers.composition.commands import COMMANDS

__all__ = ["COMMANDS", "build_application"]
