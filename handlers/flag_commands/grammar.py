"""The ``feature`` command group, and the grammar of ``feature get|set|list|delete|history``
(the other subcommands of ``feature`` are declared by their capabilities)."""

from __future__ import annotations

from handlers.core.command import CommandGroup
from handlers.core.grammar import OptionSpec, SubcommandSpec

__all__ = ["DELETE", "FEATURE", "GET", "HISTORY", "LIST", "SCOPE_OPTIONS", "SET"]

#: Scope option → what it names (actor type, or the group gate).
SCOPE_OPTIONS: dict[str, str] = {
    "user": "User",
    "project": "Project",
    "group": "Group",
    "namespace": "Namespace",
    "repository": "Repository",
    "feature-group": "feature group",
}

_SCOPES = tuple(
    OptionSpec(name, "list", f"enable/disable for these {what} (comma-separated)", "NAMES")
    for name, what in (
        ("user", "users (User:…)"),
        ("project", "projects (Project:…, e.g. gitlab-org/gitaly)"),
        ("group", "groups (Group:…)"),
        ("namespace", "namespaces (Namespace:…)"),
        ("repository", "repositories (Repository:…)"),
        ("feature-group", "Flipper feature groups (registered in the application)"),
    )
)

FEATURE = CommandGroup(
    "feature",
    "get, set, list, delete and show the history of feature flags",
    (
        "/chatops run feature get my_flag --staging",
        "/chatops run feature set my_flag 50 --actors --dev --staging",
        "/chatops run feature list --match database",
    ),
)

GET = SubcommandSpec(
    "get",
    ("NAME",),
    "show a flag's state in each environment",
    examples=("/chatops run feature get my_flag --staging --production",),
)

SET = SubcommandSpec(
    "set",
    ("NAME", "VALUE"),
    "set a flag: VALUE is true, false or a percentage 0-100",
    options=(
        OptionSpec("actors", "flag", "the percentage is a percentage of actors (up to 3 decimals)"),
        OptionSpec("random", "flag", "the percentage is a percentage of time (deprecated)"),
        *_SCOPES,
        OptionSpec("ignore-production-check", "flag", "skip the production check (recorded)"),
        OptionSpec(
            "ignore-feature-flag-consistency-check",
            "flag",
            "skip the staging/production consistency check",
        ),
        OptionSpec("ignore-random-deprecation-check", "flag", "allow the deprecated --random"),
        OptionSpec("ignore-deployment-check", "flag", "change even where the flag's code is not deployed (recorded)"),
        OptionSpec("at", "value", 'run it then instead of now (UTC): "2026-12-01 09:00 UTC" or 14:30', "TIME"),
        OptionSpec("in", "value", "run it after this long instead of now: 30m, 2h, 1d", "DURATION"),
        OptionSpec("for", "value", "time-boxed: the previous state comes back after this long", "DURATION"),
    ),
    examples=(
        "/chatops run feature set my_flag true --dev --staging",
        '/chatops run feature set my_flag true --staging --at "2026-12-01 09:00 UTC"',
        "/chatops run feature set my_flag true --staging --for 2h",
        "/chatops run feature set my_flag 25 --actors --staging",
        "/chatops run feature set my_flag true --user=alice,bob --staging",
    ),
)

LIST = SubcommandSpec(
    "list",
    (),
    "list flags with their state",
    options=(
        OptionSpec("match", "value", "only flags whose name contains SUBSTRING", "SUBSTRING"),
        OptionSpec(
            "stale",
            "flag",
            "only flags to clean up: fully on or off everywhere for `cleanup.days`, or whose "
            "milestone is `cleanup.milestones` old (reads every environment)",
        ),
    ),
    examples=("/chatops run feature list --match database --staging", "/chatops run feature list --stale"),
)

DELETE = SubcommandSpec(
    "delete",
    ("NAME",),
    "delete a flag (its state and its name) from each environment",
    examples=("/chatops run feature delete my_flag --dev --staging --production",),
)

HISTORY = SubcommandSpec(
    "history",
    ("NAME",),
    "show a flag's last changes in each environment",
    options=(OptionSpec("limit", "count", "how many changes to show (default 10)", "N"),),
    examples=("/chatops run feature history my_flag --production --limit 5",),
)
