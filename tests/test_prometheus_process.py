"""The test Prometheus' own knobs: an instant query at a given time, and the query log a benchmark
counts the bot's readings in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.prometheus_process import Prometheus


@pytest.mark.slow
def test_queries_are_answered_at_the_time_asked_and_logged_with_it(tmp_path: Path) -> None:
    prometheus = Prometheus(tmp_path, ["127.0.0.1:1"], query_log=True).start()
    try:
        assert prometheus.query("vector(3)") == 3
        assert prometheus.query("time()", at=1_700_000_000.5) == 1_700_000_000.5
        logged = prometheus.logged_queries()
    finally:
        prometheus.stop()
    assert [entry["params"]["query"] for entry in logged] == ["vector(3)", "time()"]
    assert logged[1]["params"]["start"] == "2023-11-14T22:13:20.500Z"
    assert {entry["httpRequest"]["path"] for entry in logged} == {"/api/v1/query"}


def test_a_prometheus_without_its_query_log_says_so(tmp_path: Path) -> None:
    prometheus = Prometheus(tmp_path, ["127.0.0.1:1"])
    assert "query_log_file" not in prometheus.config.read_text()
    with pytest.raises(RuntimeError, match="query_log=True"):
        prometheus.logged_queries()
