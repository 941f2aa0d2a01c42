"""Metric checks as configured and judged: the ``metrics`` section's validation (each mistake named),
filling ``{env}`` and ``{flag}`` safely, and the bounds a reading is judged by."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.checks.metric_checks import Reading, fill, judge, limit_of, shown
from handlers.config import ConfigError, parse_config
from handlers.config.metrics import MetricCheck, placeholders_quoted
from tests.configs import ROOT, example

ERRORS = 'sum(rate(http_requests_total{env="{env}",code=~"5.."}[2m])) / sum(rate(http_requests_total{env="{env}"}[2m]))'


def _with_metrics(**metrics: Any) -> dict[str, Any]:
    data = example()
    data["definitions"] = [str(ROOT / "deploy" / "feature_flags")]
    data["metrics"] = {"prometheus": {"url": "http://prometheus.monitoring:9090", "timeout": 5}, **metrics}
    return data


def test_the_issue_s_configuration_loads() -> None:
    config = parse_config(
        _with_metrics(
            checks={
                "error_ratio": {"query": ERRORS, "worse_when": "higher", "max": 0.02, "max_increase": "1.5x"},
                "p99_latency": {"query": 'histogram_quantile(0.99, x{env="{env}"})', "max_increase": "1.3x"},
            },
            watch={"checks": ["error_ratio", "p99_latency"], "minutes": 15, "every": "30s", "environments": ["gprd"]},
        )
    )
    assert config.metrics is not None and config.metrics.watch is not None
    assert config.metrics.watch.every == 30.0 and config.metrics.failure_limit == 2
    assert config.metrics.checks["error_ratio"].max_increase is not None
    assert config.metrics.checks["error_ratio"].max_increase.factor == 1.5
    assert config.watched("production") and not config.watched("staging")


@pytest.mark.parametrize(
    ("metrics", "said"),
    [
        ({"checks": {"e": {"query": "up{env={env}}", "max": 1}}}, "must be inside a quoted label value"),
        ({"checks": {"e": {"query": 'up{env="{env}}', "max": 1}}}, "never closed"),
        ({"checks": {"e": {"query": 'up{env="{env}"}'}}}, "a check needs a bound"),
        ({"checks": {"e": {"query": "up", "worse_when": "lower", "max": 1}}}, "use min"),
        ({"checks": {"e": {"query": "up", "max_increase": "lots"}}}, "is not a bound"),
        ({"checks": {"E-1": {"query": "up", "max": 1}}}, "is not a check name"),
        ({"checks": {"e": {"query": "up", "max": 1}}, "watch": {"checks": ["f"]}}, "unknown check 'f'"),
        ({"checks": {"e": {"query": "up", "max": 1}}, "every": "soon"}, "is not a duration"),
        ({"checks": {"e": {"query": "up", "max": 1}}, "watch": {"checks": ["e"], "environments": ["mars"]}}, "mars"),
        ({"checks": {"e": {"query": "up", "max": 1, "maximum": 2}}}, "unknown key 'maximum'"),
    ],
)
def test_each_mistake_is_named(metrics: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        parse_config(_with_metrics(**metrics))


def test_placeholders_must_sit_in_quoted_label_values() -> None:
    assert placeholders_quoted('up{env="{env}", flag="{flag}"}') == ""
    assert placeholders_quoted('up{env="a\\"{env}"}') == ""  # an escaped quote does not end the string
    assert "{flag}" in placeholders_quoted('up{env="{env}"} * {flag}')


def test_filled_values_cannot_leave_their_string() -> None:
    query = fill('up{env="{env}", flag="{flag}"}', 'gprd"} or vector(1) #', "f\\")
    assert query == 'up{env="gprd\\"} or vector(1) #", flag="f\\\\"}'


def _check(**fields: Any) -> MetricCheck:
    return MetricCheck.model_validate({"query": "up", **fields})


def _reading(value: float | None, error: str = "") -> Reading:
    return Reading("error_ratio", "gprd", "up", value, error)


def test_bounds_relative_absolute_and_both() -> None:
    relative = _check(max_increase="1.5x")
    assert limit_of(relative, 0.004) == pytest.approx(0.006)
    assert judge(relative, 0.004, _reading(0.0061)) == "failing"
    assert judge(relative, 0.004, _reading(0.0059)) == "passed"
    both = _check(max=0.02, max_increase="+0.005")
    assert limit_of(both, 0.001) == pytest.approx(0.006)  # the tighter of the two
    assert limit_of(both, 0.03) == 0.02
    assert judge(relative, None, _reading(0.5)) == "no data"  # nothing to compare with
    lower = _check(worse_when="lower", min=0.9, max_decrease="0.8x")
    assert limit_of(lower, 1.0) == pytest.approx(0.9)
    assert judge(lower, 1.0, _reading(0.85)) == "failing"


def test_no_data_and_errors_are_never_a_pass_nor_a_failure() -> None:
    check = _check(max=0.02)
    assert judge(check, 0.01, _reading(None)) == "no data"
    assert judge(check, 0.01, _reading(None, "Prometheus did not answer within 5 s")) == "error"


def test_values_read_as_people_read_them() -> None:
    assert shown(_check(max=1, unit="ratio"), 0.0041) == "0.41%"
    assert shown(_check(max=1, unit="ratio"), 0.031) == "3.1%"
    assert shown(_check(max=1, unit="seconds"), 0.23) == "230 ms"
    assert shown(_check(max=1), None) == "no data"
