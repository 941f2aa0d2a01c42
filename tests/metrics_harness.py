"""The metrics application and a Prometheus scraping it, together: what the metric guard tests
watch. Flags are written to the app's environment as the bot writes them (``FlagStore``); the
bot's own view of the world is only what it can query from ``prometheus.url``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flags import AuditInfo, FlagStore, build_change
from tests.configs import FLAG
from tests.helpers import delete_prefixed
from tests.metrics_app import AppSettings
from tests.metrics_app_process import MetricsAppProcess
from tests.prometheus_process import Prometheus
from tests.redis_process import free_port

__all__ = ["PrometheusWithApp", "error_ratio", "start_prometheus_with_app"]

_WHO = AuditInfo(who="metrics harness")


def error_ratio(env: str, window: str = "10s") -> str:
    """The share of the app's requests in ``env`` that failed over ``window`` (at least 5s: a rate
    needs two samples and Prometheus scrapes every second)."""
    failed = f'sum(rate(http_requests_total{{env="{env}",code="500"}}[{window}]))'
    return f'{failed} / sum(rate(http_requests_total{{env="{env}"}}[{window}]))'


@dataclass
class PrometheusWithApp:
    """``prometheus`` scrapes ``app``, which reads ``flag`` from ``redis_url`` under ``prefix``'s
    ``environment`` (``prefix + "gstg:"``: the example configuration's layout, as
    ``tests.configs.write_config(directory, redis_url, prefix)`` points the bot at it)."""

    prometheus: Prometheus
    app: MetricsAppProcess
    redis_url: str
    prefix: str
    flag: str
    environment: str
    started_in: float  # seconds from nothing to ready: the error ratio defined, warm_up seconds of samples

    @property
    def flag_prefix(self) -> str:
        """The key prefix of the app's environment (where its flag is)."""
        return self.app.settings.key_prefix

    async def set_flag(self, value: str, **scopes: Any) -> None:
        """Change the flag as the bot would: ``set_flag("100", percentage_of="actors")``, ``set_flag("false")``."""
        store = FlagStore.from_url(self.redis_url, prefix=self.flag_prefix, environment=self.environment)
        try:
            await store.apply(self.flag, build_change(value, **scopes), _WHO)
        finally:
            await store.close()


@contextmanager
def start_prometheus_with_app(
    directory: Path,
    redis_url: str,
    prefix: str,
    *,
    flag: str = FLAG,
    environment: str = "gstg",
    warm_up: float = 6.0,
    **settings: Any,
) -> Iterator[PrometheusWithApp]:
    """The app (``settings`` as in ``AppSettings``) and Prometheus scraping it, started and waited
    for until the error ratio has a value and ``warm_up`` seconds of samples (a baseline over a
    window up to that long is then read from a full window; 0 for the quickest start, ~6 s after
    the app's: Prometheus' first scrape); both stopped and ``prefix``'s keys deleted after."""
    started = time.monotonic()
    app = MetricsAppProcess(
        AppSettings(redis_url, free_port(), environment, flag, prefix=f"{prefix}{environment}:", **settings),
        directory,
    )
    prometheus = Prometheus(directory, [app.target])
    try:
        app.start()
        prometheus.start()
        prometheus.wait_for_series(error_ratio(app.settings.label, "5s"))
        prometheus.wait_for_history(warm_up)
        yield PrometheusWithApp(
            prometheus, app, redis_url, prefix, flag, environment, started_in=time.monotonic() - started
        )
    finally:
        prometheus.stop()
        app.stop()
        delete_prefixed(redis_url, prefix)
