"""The metric guard tests' world, end to end: a flag written as the bot writes it changes the test
application's error rate, and a real Prometheus sees it through its HTTP API within seconds."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.metrics_app import AppSettings
from tests.metrics_harness import PrometheusWithApp, error_ratio

#: With the flag off the app fails 1% of requests; on (for everyone), 50%.
BASE, FLAGGED = 0.01, 0.5


def test_the_command_line_carries_every_setting() -> None:
    settings = AppSettings(
        "redis://127.0.0.1:6379/3", 9101, "gstg", "my_flag", prefix="", error_rate=0.25, base_error_rate=0.02,
        jitter=0.3, rps=50.0, env_label="staging", slow_ms=120.0, actors=10, seed=7,
    )  # fmt: skip
    assert AppSettings.parse(settings.argv()) == settings
    defaults = AppSettings.parse(["--redis-url", "redis://r", "--port", "1", "--env", "gprd", "--flag", "f"])
    assert (defaults.key_prefix, defaults.label, defaults.error_rate) == ("gprd:", "gprd", 0.5)


@pytest.mark.slow
async def test_the_error_ratio_follows_the_flag_within_seconds(prometheus_with_app: PrometheusWithApp) -> None:
    harness = prometheus_with_app
    ratio = error_ratio("gstg", "5s")
    await harness.prometheus.until(ratio, lambda v: BASE / 5 < v < BASE * 3, timeout=5, what="the base error ratio")

    turned_on = time.monotonic()
    await harness.set_flag("100", percentage_of="actors")
    try:
        await harness.prometheus.until(ratio, lambda v: v > BASE * 10, timeout=3, what="the ratio rising")
        await harness.prometheus.until(ratio, lambda v: abs(v - FLAGGED) < 0.05, timeout=9, what="the flagged ratio")
        assert time.monotonic() - turned_on < 10
    finally:
        await harness.set_flag("false")

    turned_off = time.monotonic()
    await harness.prometheus.until(ratio, lambda v: v < BASE * 3, timeout=10, what="the ratio back at base")
    assert time.monotonic() - turned_off < 10


@pytest.mark.slow
async def test_prometheus_restarted_keeps_its_port_and_its_samples(prometheus_with_app: PrometheusWithApp) -> None:
    prometheus = prometheus_with_app.prometheus
    url = prometheus.url
    samples = 'sum(count_over_time(http_requests_total{env="gstg"}[10m]))'
    before = prometheus.wait_for_series(samples)

    prometheus.stop()
    with pytest.raises(OSError):
        prometheus.query("up")
    prometheus.start()

    assert prometheus.url == url
    kept = prometheus.query(samples)  # what it had scraped before it stopped is still there
    assert kept is not None and kept >= before
    await asyncio.to_thread(prometheus.wait_for_scrape)
    assert prometheus.query('up{job="app"}') == 1
    await prometheus.until(samples, lambda v: v > kept, timeout=5, what="new samples after the restart")
