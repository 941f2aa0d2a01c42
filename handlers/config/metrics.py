"""The ``metrics`` section: the team's Prometheus, named PromQL checks with their bounds, how rollouts
are guarded by them, and the watch after each change in the watched environments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from handlers.config.base import ConfigModel
from handlers.config.types import HttpUrl, Text, fail, in_range

__all__ = ["Bound", "MetricCheck", "Metrics", "PrometheusSettings", "Watch", "parse_seconds", "placeholders_quoted"]

_CHECK_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_FACTOR = re.compile(r"(\d+(?:\.\d+)?)\s*[x\u00d7]")
_ABSOLUTE = re.compile(r"([+-])\s*(\d+(?:\.\d+)?(?:e-?\d+)?)")
PLACEHOLDERS = ("{env}", "{flag}")


def parse_seconds(value: Any) -> float:
    """Seconds from a number or a duration such as ``30s``, ``1m``, ``1m30s`` or ``500ms``."""
    if isinstance(value, bool):
        raise fail(f"{value!r} is not a duration: use e.g. 30s, 1m or 500ms")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    if not _DURATION.fullmatch(text):
        raise fail(f"{value!r} is not a duration: use e.g. 30s, 1m or 500ms")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def _seconds(low: float, high: float) -> BeforeValidator:
    def check(value: Any) -> float:
        seconds = parse_seconds(value)
        if not low <= seconds <= high:
            raise fail(f"{value!r} is out of range: between {low:g} s and {high:g} s")
        return seconds

    return BeforeValidator(check)


def placeholders_quoted(query: str) -> str:
    """'' when every ``{env}`` and ``{flag}`` in ``query`` sits inside a double-quoted PromQL string
    (where the filled-in value is escaped, so it cannot change the query); else what is wrong."""
    quoted, escaped = False, False
    for i, char in enumerate(query):
        if escaped:
            escaped = False
            continue
        if char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and any(query.startswith(p, i) for p in PLACEHOLDERS):
            return f'{query[i : query.index("}", i) + 1]} must be inside a quoted label value, e.g. env="{{env}}"'
    return "a double quote is never closed" if quoted else ""


class Bound(ConfigModel):
    """How far a check may move from its baseline: ``1.5x`` (a factor) or ``+0.005`` / ``-20`` (absolute)."""

    factor: float | None = None
    delta: float | None = None

    @classmethod
    def parse(cls, value: Any) -> Bound:
        text = str(value).strip().lower()
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = f"+{value}"
        if match := _FACTOR.fullmatch(text):
            factor = float(match.group(1))
            if factor <= 0:
                raise fail(f"{value!r}: a factor must be above 0")
            return cls(factor=factor)
        if match := _ABSOLUTE.fullmatch(text):
            return cls(delta=float(match.group(2)))
        raise fail(f"{value!r} is not a bound: use a factor such as 1.5x, or an absolute change such as +0.005")

    def describe(self) -> str:
        return f"{self.factor:g}x baseline" if self.factor is not None else f"baseline ± {self.delta:g}"


class MetricCheck(ConfigModel):
    """One named PromQL check: its query (``{env}`` and ``{flag}`` filled in), which way is worse,
    and its bounds (an absolute limit, a change from the baseline, or both)."""

    query: Text
    worse_when: Literal["higher", "lower"] = "higher"
    max: float | None = None  # worse_when: higher — failing above this
    min: float | None = None  # worse_when: lower — failing below this
    max_increase: Annotated[Bound, BeforeValidator(Bound.parse)] | None = None  # worse_when: higher
    max_decrease: Annotated[Bound, BeforeValidator(Bound.parse)] | None = None  # worse_when: lower
    unit: Literal["ratio", "seconds", "number"] = "number"  # how values read: 0.02 is 2% as a ratio

    @model_validator(mode="after")
    def _bounded(self) -> MetricCheck:
        if problem := placeholders_quoted(self.query):
            raise fail(problem, "query")
        higher = self.worse_when == "higher"
        wrong = ("min", "max_decrease") if higher else ("max", "max_increase")
        for key in wrong:
            if getattr(self, key) is not None:
                right = {"min": "max", "max_decrease": "max_increase", "max": "min", "max_increase": "max_decrease"}
                raise fail(
                    f"{key} bounds a check that is worse when lower; with worse_when: {self.worse_when} "
                    f"use {right[key]}",
                    key,
                )
        if higher and self.max is None and self.max_increase is None:
            raise fail("give max and/or max_increase (e.g. max_increase: 1.5x): a check needs a bound")
        if not higher and self.min is None and self.max_decrease is None:
            raise fail("give min and/or max_decrease (e.g. max_decrease: 0.8x): a check needs a bound")
        return self


class PrometheusSettings(ConfigModel):
    url: HttpUrl
    # Each request's bound (seconds): Prometheus is asked to stop after it, and the bot stops waiting.
    timeout: Annotated[float, in_range("seconds, 0.1-60", lambda s: 0.1 <= s <= 60)] = 5.0
    # A query answering more series than this is refused before its answer is read.
    max_series: Annotated[int, in_range("1-1000", lambda n: 1 <= n <= 1000, int)] = 20
    bearer_token_env: Text | None = None  # an environment variable holding a bearer token, if Prometheus wants one


class Watch(ConfigModel):
    """After a change in a watched environment, compare the checks before it with the next ``minutes``."""

    checks: tuple[Text, ...]
    minutes: Annotated[float, in_range("minutes, 0.05-1440", lambda m: 0.05 <= m <= 1440)] = 15.0
    every: Annotated[float, _seconds(0.2, 3600)] = 30.0
    environments: tuple[Text, ...] | None = None  # names or options; default: the production environments


class Metrics(ConfigModel):
    prometheus: PrometheusSettings
    checks: Mapping[str, MetricCheck] = Field(default_factory=dict)
    # How often a running rollout's checks are evaluated between its steps.
    every: Annotated[float, _seconds(0.2, 3600)] = 30.0
    # Consecutive failing evaluations of a check that abort a rollout (and roll it back).
    failure_limit: Annotated[int, in_range("1-100", lambda n: 1 <= n <= 100, int)] = 2
    watch: Watch | None = None

    @model_validator(mode="after")
    def _names(self) -> Metrics:
        for name in self.checks:
            if not _CHECK_NAME.fullmatch(name):
                raise fail(f"{name!r} is not a check name: lowercase letters, digits and _", f"checks.{name}")
        for name in self.watch.checks if self.watch else ():
            if name not in self.checks:
                raise fail(f"unknown check {name!r}; known: {', '.join(sorted(self.checks)) or 'none'}", "watch.checks")
        return self
