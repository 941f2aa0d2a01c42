"""Every command the bot answers, registered once: commands of their own, and the ``feature``
group's subcommands from each capability (listed in help in this order)."""

from __future__ import annotations

from handlers.approvals.buttons import ApprovalButtons
from handlers.core.registry import CommandRegistry
from handlers.dashboard.command import DashboardCommand
from handlers.deployments.auto_deploy import AutoDeployCommand
from handlers.deployments.release import ReleaseCommand
from handlers.flag_commands.commands import DeleteCommand, GetCommand, HistoryCommand, ListCommand, SetCommand
from handlers.flag_commands.grammar import FEATURE
from handlers.freezes.command import FREEZE, FreezeOffCommand, FreezeOnCommand, FreezeStatusCommand
from handlers.help.command import HelpCommand
from handlers.incidents.commands import ChangesCommand, KillCommand
from handlers.rollouts.commands import RolloutCommand
from handlers.schedules.commands import ScheduleCommand
from handlers.subscriptions.commands import SubscribeCommand, SubscriptionsCommand, UnsubscribeCommand

__all__ = ["COMMANDS"]

COMMANDS = CommandRegistry(
    [
        GetCommand(),
        SetCommand(),
        ListCommand(),
        DeleteCommand(),
        ChangesCommand(),
        KillCommand(),
        RolloutCommand(),
        ScheduleCommand(),
        HistoryCommand(),
        ApprovalButtons(),
        FreezeOnCommand(),
        FreezeOffCommand(),
        FreezeStatusCommand(),
        AutoDeployCommand(),
        ReleaseCommand(),
        DashboardCommand(),
        SubscribeCommand(),
        UnsubscribeCommand(),
        SubscriptionsCommand(),
        HelpCommand(),
    ],
    groups=[FEATURE, FREEZE],
)
