"""Planning ``feature kill`` and ``feature changes``. Nothing here touches Redis."""

from __future__ import annotations

from dataclasses import dataclass

from flags import SetBoolean
from handlers.changes.request import ChangeRequest
from handlers.config import Environment
from handlers.core.arguments import flag_name, no_more
from handlers.core.context import Context
from handlers.core.parsing import Invocation, UsageError
from handlers.core.timing import parse_duration

__all__ = ["ChangesPlan", "KillPlan", "plan_changes", "plan_kill"]

DEFAULT_WINDOW_S = 1800.0  # `feature changes` without --since: the last 30 minutes


@dataclass(frozen=True, slots=True)
class KillPlan:
    """``feature kill NAME [environments] [--reason TEXT]``: the flag off everywhere listed."""

    name: str
    targets: tuple[Environment, ...]
    reason: str
    text: str  # the command as typed, after ``/chatops``

    @property
    def writes(self) -> bool:
        return True

    @property
    def responders_may(self) -> bool:
        """A kill is allowed to incident responders even where the access rules would not allow them."""
        return True

    def change_request(self, context: Context) -> ChangeRequest:
        return ChangeRequest(
            flag=self.name,
            targets=self.targets,
            change=SetBoolean(False),
            who=context.caller,
            command=f"/chatops {self.text}{context.origin}".strip(),
            overrides=frozenset(),
            headline="Killed",
            reason=self.reason,
        )


@dataclass(frozen=True, slots=True)
class ChangesPlan:
    """``feature changes [--since DURATION] [--match SUBSTRING]``."""

    targets: tuple[Environment, ...]
    window_s: float
    match: str

    @property
    def writes(self) -> bool:
        return False


def _all_unless_listed(invocation: Invocation, context: Context) -> tuple[Environment, ...]:
    return tuple(invocation.environments if invocation.explicit_environments else context.config.environments)


def plan_kill(invocation: Invocation, context: Context) -> KillPlan:
    args = invocation.arguments
    if not args:
        raise UsageError("`feature kill` needs a flag name: `/chatops run feature kill NAME`.")
    no_more(args, 1, "`feature kill` takes one flag name: `/chatops run feature kill NAME`.")
    reason = invocation.options.get("reason")
    text = reason if isinstance(reason, str) else ""
    return KillPlan(flag_name(args[0]), _all_unless_listed(invocation, context), text, invocation.text)


def plan_changes(invocation: Invocation, context: Context) -> ChangesPlan:
    no_more(invocation.arguments, 0, "`feature changes` takes no flag name; filter with `--match SUBSTRING`.")
    since = invocation.options.get("since")
    window = parse_duration("since", since) if isinstance(since, str) else DEFAULT_WINDOW_S
    match = invocation.options.get("match")
    return ChangesPlan(_all_unless_listed(invocation, context), window, match if isinstance(match, str) else "")
