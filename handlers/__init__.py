"""The chatops application: commands, the pipeline they run through, their rules and services.

Delivery (Slack, the shell, HTTP) lives in ``bot`` and calls ``handlers.core.pipeline``;
flag state lives in ``flags``. Adding a command: one module in ``handlers/commands`` and one
line below.
"""

from __future__ import annotations

from handlers.commands.auto_deploy import AutoDeployCommand
from handlers.commands.dashboard import DashboardCommand
from handlers.commands.feature import FeatureCommand
from handlers.commands.freeze import FreezeCommand
from handlers.commands.help import HelpCommand
from handlers.commands.release import ReleaseCommand
from handlers.core.registry import CommandRegistry

__all__ = ["COMMANDS"]

COMMANDS = CommandRegistry(
    [
        FeatureCommand(),
        FreezeCommand(),
        AutoDeployCommand(),
        ReleaseCommand(),
        DashboardCommand(),
        HelpCommand(),
    ]
)
