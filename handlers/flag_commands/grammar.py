"""The grammar of ``/chatops run feature get|set|list|delete|history``."""

from __future__ import annotations

from handlers.core.grammar import CommandSpec, OptionSpec, SubcommandSpec

__all__ = ["FEATURE", "SCOPE_OPTIONS"]

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

FEATURE = CommandSpec(
    name="feature",
    summary="get, set, list, delete and show the history of feature flags",
    examples=(
        "/chatops run feature get my_flag --staging",
        "/chatops run feature set my_flag 50 --actors --dev --staging",
        "/chatops run feature list --match database",
    ),
    subcommands=(
        SubcommandSpec(
            "get",
            ("NAME",),
            "show a flag's state in each environment",
            examples=("/chatops run feature get my_flag --staging --production",),
        ),
        SubcommandSpec(
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
                OptionSpec(
                    "ignore-deployment-check", "flag", "change even where the flag's code is not deployed (recorded)"
                ),
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
        ),
        SubcommandSpec(
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
        ),
        SubcommandSpec(
            "delete",
            ("NAME",),
            "delete a flag (its state and its name) from each environment",
            examples=("/chatops run feature delete my_flag --dev --staging --production",),
        ),
        SubcommandSpec(
            "changes",
            (),
            "every flag change of a time window, newest first, with Roll back buttons (all environments by default)",
            options=(
                OptionSpec("since", "value", "how far back, e.g. 30m (default), 2h, 1d", "DURATION"),
                OptionSpec("match", "value", "only flags whose name contains SUBSTRING", "SUBSTRING"),
            ),
            examples=("/chatops run feature changes --since 1h --production",),
        ),
        SubcommandSpec(
            "kill",
            ("NAME",),
            "switch a flag off everywhere (or where listed) at once; no check blocks it",
            options=(OptionSpec("reason", "value", "why, recorded and posted", "TEXT"),),
            examples=('/chatops run feature kill my_flag --reason "errors on checkout"',),
        ),
        SubcommandSpec(
            "rollout",
            ("NAME | status|pause|resume|next|abort NAME | list",),
            "roll a flag out in steps, each an ordinary change, aborted by a firing alert",
            options=(
                OptionSpec("steps", "value", "percentages, rising, e.g. 1,10,25,50,100 (100 ends at true)", "P,P,..."),
                OptionSpec("every", "value", "time between steps, e.g. 15m", "DURATION"),
                OptionSpec("actors", "flag", "percentages of actors (the default)"),
                OptionSpec("random", "flag", "percentages of time (deprecated)"),
                OptionSpec("guard", "list", "an Alertmanager matcher; a matching firing alert aborts", "MATCHER"),
                OptionSpec("ignore-feature-flag-consistency-check", "flag", "passed to every step"),
                OptionSpec("ignore-deployment-check", "flag", "passed to every step"),
                OptionSpec("ignore-random-deprecation-check", "flag", "allow --random"),
            ),
            examples=(
                "/chatops run feature rollout my_flag --steps 1,10,25,50,100 --every 15m",
                "/chatops run feature rollout status my_flag",
                "/chatops run feature rollout abort my_flag",
            ),
        ),
        SubcommandSpec(
            "schedule",
            ("list|cancel", "[ID]"),
            "list scheduled changes, or cancel one before it runs",
            environments=False,
            examples=("/chatops run feature schedule list", "/chatops run feature schedule cancel S3"),
        ),
        SubcommandSpec(
            "history",
            ("NAME",),
            "show a flag's last changes in each environment",
            options=(OptionSpec("limit", "count", "how many changes to show (default 10)", "N"),),
            examples=("/chatops run feature history my_flag --production --limit 5",),
        ),
    ),
)
