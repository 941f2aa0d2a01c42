"""The command grammar as data: commands, subcommands, arguments and options (SPEC §3).

Environment options are not listed here: they come from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["COMMANDS", "SCOPE_OPTIONS", "CommandSpec", "OptionSpec", "SubcommandSpec"]

OptionKind = Literal["flag", "value", "list", "count"]


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    kind: OptionKind
    help: str
    metavar: str = ""


@dataclass(frozen=True, slots=True)
class SubcommandSpec:
    name: str
    arguments: tuple[str, ...]
    summary: str
    options: tuple[OptionSpec, ...] = ()
    environments: bool = True
    examples: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        args = " ".join(self.arguments)
        return f"{self.name} {args}".strip()

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    subcommands: tuple[SubcommandSpec, ...]
    examples: tuple[str, ...] = ()

    def subcommand(self, name: str) -> SubcommandSpec | None:
        return next((s for s in self.subcommands if s.name == name), None)


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
            ),
            examples=(
                "/chatops run feature set my_flag true --dev --staging",
                "/chatops run feature set my_flag 25 --actors --staging",
                "/chatops run feature set my_flag true --user=alice,bob --staging",
            ),
        ),
        SubcommandSpec(
            "list",
            (),
            "list flags with their state",
            options=(OptionSpec("match", "value", "only flags whose name contains SUBSTRING", "SUBSTRING"),),
            examples=("/chatops run feature list --match database --staging",),
        ),
        SubcommandSpec(
            "delete",
            ("NAME",),
            "delete a flag (its state and its name) from each environment",
            examples=("/chatops run feature delete my_flag --dev --staging --production",),
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

AUTO_DEPLOY = CommandSpec(
    name="auto_deploy",
    summary="what is deployed where, and where a commit is deployed",
    examples=("/chatops run auto_deploy status", "/chatops run auto_deploy status 1a2b3c4d"),
    subcommands=(
        SubcommandSpec(
            "status",
            ("[SHA]",),
            "each environment's deployment; with SHA, the environments where that commit is deployed",
            environments=False,
            examples=("/chatops run auto_deploy status", "/chatops run auto_deploy status 1a2b3c4d5e6f"),
        ),
    ),
)

RELEASE = CommandSpec(
    name="release",
    summary="whether a merge request is included in a release",
    examples=("/chatops run release check https://gitlab.com/gitlab-org/gitlab/-/merge_requests/123 16.5",),
    subcommands=(
        SubcommandSpec(
            "check",
            ("MERGE_REQUEST_URL", "MILESTONE"),
            "is the merge request's merge commit in the release of that milestone?",
            environments=False,
            examples=("/chatops run release check https://gitlab.com/gitlab-org/gitlab/-/merge_requests/123 16.5",),
        ),
    ),
)

HELP = CommandSpec(
    name="help",
    summary="list the commands and the channel rules of this channel",
    subcommands=(SubcommandSpec("", (), "list the commands", environments=False),),
    examples=("/chatops help",),
)

COMMANDS: dict[str, CommandSpec] = {c.name: c for c in (FEATURE, AUTO_DEPLOY, RELEASE, HELP)}
