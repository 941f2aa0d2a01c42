"""Every command the bot answers, registered once."""

from __future__ import annotations

from handlers.core.registry import CommandRegistry
from handlers.dashboard.command import DashboardCommand
from handlers.deployments.auto_deploy import AutoDeployCommand
from handlers.deployments.release import ReleaseCommand
from handlers.flag_commands.command import FeatureCommand
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
