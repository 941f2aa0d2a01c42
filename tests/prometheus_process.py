"""A real Prometheus (Debian's ``prometheus``) on a loopback port, scraping given targets every second.

Always our own process on a free port, never a system service that may be listening on :9090.
``stop()`` and ``start()`` again keep the port and the data directory, as a Prometheus restarted
in production would (tests stop it in the middle of a rollout).

Ready is not scraping: Prometheus 2.42 hands the first targets to its scrapers about 5 s after it
starts (its service discovery sends updates at most every 5 s, and no setting shortens that), so
every start, and restart, is followed by ~5 s without new samples. ``wait_for_scrape()`` waits for
the first one.

With ``query_log=True`` it logs every query it answers (Prometheus' own ``query_log_file``), so a
benchmark can count what the bot asked, and when, without asking the bot (``logged_queries()``).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.children import spawn, stop, wait_until_answers
from tests.redis_process import free_port

__all__ = ["HOW_TO_INSTALL", "Prometheus", "prometheus_binary"]

HOW_TO_INSTALL = "the metric guard tests need Prometheus: apt-get install -y prometheus (.ci/run does this)"


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise RuntimeError(HOW_TO_INSTALL)
    return found


class Prometheus:
    """``Prometheus(directory, ["127.0.0.1:9101"]).start()``; ``url``, ``query()``, ``stop()``."""

    def __init__(
        self,
        directory: Path,
        targets: Sequence[str],
        *,
        job: str = "app",
        port: int | None = None,
        query_log: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = directory / "data"
        self.log = directory / "prometheus.log"
        self.config = directory / "prometheus.yml"
        self.query_log = directory / "queries.log" if query_log else None
        self.config.write_text(yaml.safe_dump(_config(job, targets, self.query_log), sort_keys=False))
        self.job = job
        self.started_at = 0.0  # epoch seconds of the last start()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Prometheus:
        """Start it (again: same port, same data) and wait until it is ready to answer queries."""
        if self.running:
            raise RuntimeError("Prometheus is already running")
        command = [
            prometheus_binary(),
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.data}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ]
        self.started_at = time.time()
        self._process = spawn(command, self.log)
        wait_until_answers(self._process, f"{self.url}/-/ready", self.log)
        return self

    def stop(self) -> None:
        """SIGTERM and wait: it writes out what it holds, so a restart finds its samples."""
        if self._process is not None:
            stop(self._process)
            self._process = None

    def query(self, promql: str, at: float | None = None) -> float | None:
        """An instant query's value now (or at ``at``, epoch seconds): None when it has no series
        (NaN stays NaN, e.g. 0/0). ValueError for a query Prometheus refuses or one that returns
        several series."""
        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=5) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400 and 422 carry Prometheus' reason
            raise ValueError(f"{promql}: {json.loads(error.read()).get('error', error)}") from error
        result = answer["data"]
        if result["resultType"] == "scalar":
            return float(result["result"][1])
        series = result["result"]
        if len(series) > 1:
            raise ValueError(f"{promql} returned {len(series)} series: aggregate them to one (sum, max)")
        return float(series[0]["value"][1]) if series else None

    def wait_for_series(self, promql: str, timeout: float = 20.0) -> float:
        """Until ``promql`` has a value (not NaN), blocking; the value. AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (value := self.query(promql)) is None or math.isnan(value):
            if time.monotonic() > deadline:
                raise AssertionError(f"no value within {timeout} s for {promql} (got {value})")
            time.sleep(0.2)
        return value

    def wait_for_scrape(self, timeout: float = 20.0) -> None:
        """Until every target has been scraped since the last ``start()`` (blocking; ~5 s after it)."""
        latest = f'min(timestamp(up{{job="{self.job}"}}))'
        deadline = time.monotonic() + timeout
        while (value := self.query(latest)) is None or value < self.started_at:
            if time.monotonic() > deadline:
                raise AssertionError(f"no scrape of {self.job} within {timeout} s of the start (last at {value})")
            time.sleep(0.2)

    def wait_for_history(self, seconds: float, timeout: float = 30.0) -> None:
        """Until every target has ``seconds`` of samples (one a second), blocking: a rate or a baseline
        over a window that long is then read from a full window, not from its first two samples."""
        samples = f'min(count_over_time(up{{job="{self.job}"}}[1h]))'
        deadline = time.monotonic() + timeout
        while (value := self.query(samples)) is None or value < seconds + 1:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.job} has {value} samples after {timeout} s, not {seconds + 1:.0f}")
            time.sleep(0.2)

    async def until(self, promql: str, holds: Callable[[float], bool], timeout: float, what: str = "") -> float:
        """Until ``promql``'s value satisfies ``holds``, without blocking the event loop; the value.
        AssertionError naming ``what`` and the last value after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = await asyncio.to_thread(self.query, promql)
            if value is not None and not math.isnan(value) and holds(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what or promql} (last value {value})")
            await asyncio.sleep(0.2)

    def logged_queries(self) -> list[dict[str, Any]]:
        """Every query answered so far, oldest first, as Prometheus logged it: ``params.query``,
        ``params.start`` (the evaluation time, RFC 3339), ``httpRequest.path``, ``ts``…
        RuntimeError when it was not started with ``query_log=True``."""
        if self.query_log is None:
            raise RuntimeError("Prometheus logs its queries only with query_log=True")
        if not self.query_log.exists():
            return []
        lines = self.query_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(text) for text in lines if text.endswith("}")]  # a line being written is skipped


def _config(job: str, targets: Sequence[str], query_log: Path | None) -> dict[str, object]:
    """Scrape and evaluate every second: a change shows in a query within a couple of seconds."""
    scraping: dict[str, object] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    if query_log is not None:
        scraping["query_log_file"] = str(query_log)
    return {
        "global": scraping,
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
