"""The metric guard between a rollout's steps: the team's own PromQL checks, compared with the
baseline each had before the rollout began.

Every ``metrics.every`` (and again right before each step) each check is read in each of the
rollout's environments. A check breaking its bound ``metrics.failure_limit`` times in a row aborts
the rollout and rolls it back, by the same path as a firing alert. A step is written only when every
check passed at its last reading; a check that fails once holds the step back. A check that cannot
be read (no data, Prometheus down or refusing) pauses the rollout, never aborts it nor lets it
advance, and the rollout goes on by itself once every check can be read again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.checks.metric_checks import Reading, Verdict, display_name, judge, limit_of, read_all, shown
from handlers.checks.prometheus import graph_link
from handlers.config.metrics import Metrics
from handlers.core.context import Application
from handlers.core.reply import Line, Link, line

__all__ = ["Evaluation", "baseline_problems", "evaluate", "failure_text", "graph_url", "held_text", "take_baselines"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One reading of every check of a rollout, judged, with the consecutive failures it makes."""

    readings: tuple[Reading, ...]
    verdicts: dict[str, Verdict]  # by check@environment
    failing: dict[str, int]  # consecutive failures, this reading included
    limit: int  # failures in a row that abort

    @property
    def unreadable(self) -> list[Reading]:
        return [r for r in self.readings if self.verdicts[r.key] in ("no data", "error")]

    @property
    def breached(self) -> list[Reading]:
        return [r for r in self.readings if self.failing.get(r.key, 0) >= self.limit]

    @property
    def all_passed(self) -> bool:
        return all(v == "passed" for v in self.verdicts.values())


def _names(app: Application, options: Sequence[str]) -> list[str]:
    return [app.config.environment_name(o) for o in options]


async def take_baselines(
    app: Application, names: Sequence[str], options: Sequence[str], flag: str
) -> tuple[dict[str, float | None], list[Reading]]:
    """Each check in each environment now, before the rollout begins; and the readings, for
    ``baseline_problems``."""
    client = app.services.prometheus() if app.services is not None else None
    metrics = app.config.metrics
    if client is None or metrics is None:
        return {}, []
    readings = await read_all(client, metrics.checks, names, _names(app, options), flag)
    return {r.key: r.value for r in readings}, readings


def baseline_problems(metrics: Metrics, readings: Sequence[Reading]) -> list[str]:
    """What keeps the rollout from starting: a check Prometheus cannot answer, or one with no data
    and no absolute bound (nothing to compare its readings with)."""
    problems = []
    for reading in readings:
        check = metrics.checks[reading.check]
        name = f"{display_name(reading.check)} on {reading.environment}"
        if reading.error:
            problems.append(f"{name}: {reading.error}")
        elif reading.value is None and limit_of(check, None) is None:
            problems.append(f"{name}: no data now, so no baseline to compare with (the query finds no series)")
    return problems


async def evaluate(
    app: Application,
    names: Sequence[str],
    options: Sequence[str],
    flag: str,
    *,
    baselines: dict[str, float | None],
    failing: dict[str, int],
) -> Evaluation | None:
    """Read and judge every check now; None when no Prometheus is configured any more."""
    client = app.services.prometheus() if app.services is not None else None
    metrics = app.config.metrics
    if client is None or metrics is None:
        return None
    known = [n for n in names if n in metrics.checks]
    readings = await read_all(client, metrics.checks, known, _names(app, options), flag)
    verdicts = {r.key: judge(metrics.checks[r.check], baselines.get(r.key), r) for r in readings}
    counts = {k: (failing.get(k, 0) + 1 if v == "failing" else 0) for k, v in verdicts.items()}
    return Evaluation(tuple(readings), verdicts, counts, metrics.failure_limit)


def failure_text(metrics: Metrics, reading: Reading, baseline: float | None, times: int) -> Line:
    """``error ratio on gstg is 3.1%, past its bound 0.62% (1.5x baseline 0.41%), 2 readings in a
    row (query)``, the query linked to Prometheus' graph page."""
    check = metrics.checks[reading.check]
    limit = limit_of(check, baseline)
    bound = f"max {shown(check, check.max)}" if limit == check.max else _relative(metrics, reading.check)
    said = (
        f"{display_name(reading.check)} on {reading.environment} is {shown(check, reading.value)}, past its bound "
        f"{shown(check, limit)} ({bound}; baseline {shown(check, baseline)}), "
        f"{times} reading{'s' if times != 1 else ''} in a row ("
    )
    return line(said, Link(graph_url(metrics, reading), "the query in Prometheus"), ")")


def _relative(metrics: Metrics, name: str) -> str:
    check = metrics.checks[name]
    bound = check.max_increase if check.worse_when == "higher" else check.max_decrease
    return bound.describe() if bound is not None else "its bound"


def held_text(metrics: Metrics, unreadable: Sequence[Reading]) -> str:
    """Why the rollout waits: which checks cannot be read, and why."""
    first = unreadable[0]
    why = first.error or "no data (the query finds no series)"
    more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
    del metrics
    return (
        f"metric check {display_name(first.check)} on {first.environment} cannot be read: {why}{more}; "
        "it goes on by itself once every check can be read"
    )


def graph_url(metrics: Metrics, reading: Reading) -> str:
    """The reading's query in Prometheus' graph page: the hour up to five minutes after it was read."""
    return graph_link(metrics.prometheus.url, reading.query, end=(reading.at or time.time()) + 300, span_s=3600)
