"""Metric checks: a named PromQL query filled in for one environment and flag, read now and before a
change, and judged against its bounds. Reading never raises: a Prometheus error or no data is a
reading that says so (it pauses a rollout; it never aborts one nor lets it advance)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from handlers.checks.prometheus import PrometheusClient, PrometheusError
from handlers.config.metrics import MetricCheck

__all__ = ["Reading", "Verdict", "display_name", "fill", "judge", "limit_of", "read_all", "shown", "unknown_checks"]

Verdict = Literal["passed", "failing", "no data", "error"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One check in one environment at one moment: its value (None: no data), or why it has none."""

    check: str
    environment: str  # the name the query's {env} was filled with
    query: str  # as sent
    value: float | None
    error: str = ""
    at: float = 0.0  # when it was read (unix time)

    @property
    def key(self) -> str:
        return f"{self.check}@{self.environment}"


def fill(query: str, environment: str, flag: str) -> str:
    """``query`` with ``{env}`` and ``{flag}`` replaced by the values, escaped for a quoted PromQL
    string (the configuration only lets them stand inside one)."""

    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return query.replace("{env}", quoted(environment)).replace("{flag}", quoted(flag))


def unknown_checks(names: Iterable[str], checks: Mapping[str, MetricCheck]) -> list[str]:
    return [n for n in names if n not in checks]


async def read_all(
    client: PrometheusClient,
    checks: Mapping[str, MetricCheck],
    names: Sequence[str],
    environments: Sequence[str],
    flag: str,
    at: float | None = None,
) -> list[Reading]:
    """Every named check in every environment at ``at`` (default: now)."""
    moment = time.time() if at is None else at
    readings = []
    for name in names:
        for environment in environments:
            query = fill(checks[name].query, environment, flag)
            try:
                readings.append(Reading(name, environment, query, await client.value(query, moment), at=moment))
            except PrometheusError as error:
                readings.append(Reading(name, environment, query, None, str(error), moment))
    return readings


def limit_of(check: MetricCheck, baseline: float | None) -> float | None:
    """The value past which ``check`` fails, given its baseline (None: no bound applies)."""
    limits: list[float] = []
    if check.worse_when == "higher":
        if check.max is not None:
            limits.append(check.max)
        if check.max_increase is not None and baseline is not None:
            bound = check.max_increase
            limits.append(baseline * bound.factor if bound.factor is not None else baseline + abs(bound.delta or 0))
        return min(limits) if limits else None
    if check.min is not None:
        limits.append(check.min)
    if check.max_decrease is not None and baseline is not None:
        bound = check.max_decrease
        if bound.factor is not None:
            limits.append(baseline * bound.factor if bound.factor < 1 else baseline / bound.factor)
        else:
            limits.append(baseline - abs(bound.delta or 0))
    return max(limits) if limits else None


def judge(check: MetricCheck, baseline: float | None, reading: Reading) -> Verdict:
    """Whether ``reading`` passes the check's bounds."""
    if reading.error:
        return "error"
    if reading.value is None:
        return "no data"
    limit = limit_of(check, baseline)
    if limit is None:
        return "no data"  # only a relative bound, and no baseline to apply it to
    worse = reading.value > limit if check.worse_when == "higher" else reading.value < limit
    return "failing" if worse else "passed"


def display_name(name: str) -> str:
    """``error_ratio`` → ``error ratio``."""
    return name.replace("_", " ")


def shown(check: MetricCheck, value: float | None) -> str:
    """A value as a person reads it: ratios as percentages, seconds as ms or s."""
    if value is None:
        return "no data"
    if check.unit == "ratio":
        return f"{value * 100:.2g}%" if abs(value) < 0.1 else f"{value * 100:.3g}%"
    if check.unit == "seconds":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    return f"{value:.4g}"
