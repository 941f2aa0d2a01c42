"""The chatops application: commands, the pipeline they run through, their rules and services.

Delivery (Slack, the shell, HTTP) lives in ``bot`` and calls ``handlers.core.pipeline``;
flag state lives in ``flags``. Adding a command: one module in ``handlers/commands`` and one
line below.
"""

from __future__ import annotations

from handlers.core.registry import CommandRegistry
from handlers.dashboard.command import DashboardCommand
from handlers.deployments.auto_deploy import AutoDeployCommand
from handlers.deployments.release import ReleaseCommand
from handlers.flag_commands import FeatureCommand
from handlers.freezes.command import FreezeCommand
from handlers.help.command import HelpCommand

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
