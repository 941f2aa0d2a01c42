"""The grammar of ``feature rollout``."""

from __future__ import annotations

from handlers.core.grammar import OptionSpec, SubcommandSpec

__all__ = ["ROLLOUT"]

ROLLOUT = SubcommandSpec(
    "rollout",
    ("NAME | status|pause|resume|next|abort NAME | list",),
    "roll a flag out in steps, each an ordinary change, aborted by a firing alert or a failing metric check",
    options=(
        OptionSpec("steps", "value", "percentages, rising, e.g. 1,10,25,50,100 (100 ends at true)", "P,P,..."),
        OptionSpec("every", "value", "time between steps, e.g. 15m", "DURATION"),
        OptionSpec("actors", "flag", "percentages of actors (the default)"),
        OptionSpec("random", "flag", "percentages of time (deprecated)"),
        OptionSpec("guard", "list", "an Alertmanager matcher; a matching firing alert aborts", "MATCHER"),
        OptionSpec(
            "metrics", "list", "metric checks between steps (default: the flag's, else the watch's); none: off", "CHECK"
        ),
        OptionSpec("ignore-feature-flag-consistency-check", "flag", "passed to every step"),
        OptionSpec("ignore-deployment-check", "flag", "passed to every step"),
        OptionSpec("ignore-random-deprecation-check", "flag", "allow --random"),
    ),
    examples=(
        "/chatops run feature rollout my_flag --steps 1,10,25,50,100 --every 15m",
        "/chatops run feature rollout my_flag --steps 5,25,100 --every 10m --metrics error_ratio",
        "/chatops run feature rollout status my_flag",
        "/chatops run feature rollout abort my_flag",
    ),
)
