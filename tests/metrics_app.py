"""A small application whose error rate follows a feature flag, for the metric guard tests.

It reads one flag through the flags SDK (``AsyncFlags``, as any application would), serves its own
traffic and exposes what Prometheus scrapes, so a rollout's effect reaches the bot only the real
way: flag in Redis → application → ``/metrics`` → Prometheus → PromQL.

- ``GET /work?actor=N`` answers 500 with probability ``--error-rate`` when the flag is enabled for
  ``User:N``, else with ``--base-error-rate`` (times a factor drawn every second in
  [1 - jitter, 1 + jitter]: noisy, never zero, so the error ratio is always defined). With
  ``--slow-ms`` the flagged requests also take that much longer.
- ``GET /metrics``: ``http_requests_total{env, code}`` and ``http_request_duration_seconds{env}``
  (its own registry, Prometheus' text format).
- A load loop makes ``--rps`` requests a second to ``/work`` over HTTP, cycling over ``--actors``
  actor ids.

The flag snapshot is refreshed every 200 ms (and at once on the bot's change announcements), so
a change shows in the counters well within a second.

    python -m tests.metrics_app --redis-url redis://127.0.0.1:6379/0 --port 9101 --env gstg \\
        --flag my_flag [--prefix gstg:] [--error-rate 0.5] [--base-error-rate 0.01] [--jitter 0.3] \\
        [--rps 200] [--env-label gstg] [--slow-ms 0] [--actors 1000] [--seed N]

``MetricsApp`` runs it in process; ``tests.metrics_app_process.MetricsAppProcess`` as a process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from flags import AsyncFlags

__all__ = ["AppSettings", "MetricsApp", "main"]

#: How often the SDK re-reads every flag (besides the announcements it gets at once).
REFRESH_S = 0.2
#: How often the load loop wakes up to send what is due.
_TICK_S = 0.02


@dataclass(frozen=True)
class AppSettings:
    """The application's command line, as values (``argv()`` turns them back into arguments)."""

    redis_url: str
    port: int
    env: str
    flag: str
    prefix: str | None = None  # the environment's Flipper key prefix; None: "<env>:"
    error_rate: float = 0.5
    base_error_rate: float = 0.01
    jitter: float = 0.0
    rps: float = 200.0
    env_label: str | None = None  # the metrics' env label; None: the environment's name
    slow_ms: float = 0.0
    actors: int = 1000
    seed: int | None = None

    @property
    def key_prefix(self) -> str:
        return f"{self.env}:" if self.prefix is None else self.prefix

    @property
    def label(self) -> str:
        return self.env if self.env_label is None else self.env_label

    def argv(self) -> list[str]:
        arguments: list[str] = []
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                arguments += [f"--{field.name.replace('_', '-')}", str(value)]
        return arguments

    @classmethod
    def parse(cls, argv: Sequence[str] | None = None) -> AppSettings:
        parser = argparse.ArgumentParser(prog="python -m tests.metrics_app", description=__doc__.splitlines()[0])
        add = parser.add_argument
        add("--redis-url", required=True, help="the Redis the flags are in")
        add("--port", type=int, required=True, help="listens on 127.0.0.1:PORT")
        add("--env", required=True, help="the environment's name (gstg)")
        add("--flag", required=True, help="the flag that raises the error rate")
        add("--prefix", help="the environment's Flipper key prefix (default: ENV:)")
        add("--error-rate", type=float, help="share of flagged requests that fail (0.5)")
        add("--base-error-rate", type=float, help="share of other requests that fail (0.01)")
        add("--jitter", type=float, help="the base rate times a factor in [1-J, 1+J], drawn each second (0)")
        add("--rps", type=float, help="requests a second the load loop makes (200)")
        add("--env-label", help="the metrics' env label (default: ENV)")
        add("--slow-ms", type=float, help="extra latency of flagged requests (0)")
        add("--actors", type=int, help="how many actor ids the load cycles over (1000)")
        add("--seed", type=int, help="seed of the random failures")
        values = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
        return cls(**values)


class Failures:
    """Which requests fail: the flagged ones at the error rate, the others at the (jittered) base rate."""

    def __init__(self, settings: AppSettings, rng: random.Random) -> None:
        self._settings = settings
        self._rng = rng
        self._second = -1
        self._factor = 1.0

    def fails(self, flagged: bool) -> bool:
        rate = self._settings.error_rate if flagged else self._settings.base_error_rate * self._base_factor()
        return self._rng.random() < rate

    def _base_factor(self) -> float:
        """A new factor in [1 - jitter, 1 + jitter] each second: noise around an unchanged mean."""
        second = int(time.monotonic())
        if second != self._second:
            self._second = second
            jitter = self._settings.jitter
            self._factor = self._rng.uniform(1 - jitter, 1 + jitter)
        return self._factor


class Instruments:
    """The application's metrics, in a registry of its own."""

    def __init__(self, label: str) -> None:
        self.registry = CollectorRegistry()
        self._label = label
        self._requests = Counter(
            "http_requests", "Requests handled, by answer code.", ["env", "code"], registry=self.registry
        )
        self._duration = Histogram(
            "http_request_duration_seconds", "How long requests took.", ["env"], registry=self.registry
        )
        for code in ("200", "500"):  # both series exist from the start: rate() of them is 0, not absent
            self._requests.labels(label, code)

    def observe(self, code: int, seconds: float) -> None:
        self._requests.labels(self._label, str(code)).inc()
        self._duration.labels(self._label).observe(seconds)


class MetricsApp:
    """The application in this process: ``await MetricsApp(settings).start()``, then ``stop()``."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self._flags = AsyncFlags(settings.redis_url, prefix=settings.key_prefix, poll_interval=REFRESH_S)
        self._instruments = Instruments(settings.label)
        self._failures = Failures(settings, random.Random(settings.seed))
        self._runner: web.AppRunner | None = None
        self._load: asyncio.Task[None] | None = None

    async def start(self) -> MetricsApp:
        """Read the flags, listen, then start the load: once ``/metrics`` answers, all three are on."""
        await self._flags.start()
        app = web.Application()
        app.router.add_get("/work", self._work)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "127.0.0.1", self.settings.port).start()
        except OSError:
            await self.stop()
            raise
        self._load = asyncio.create_task(self._send_load(), name="metrics-app-load")
        return self

    async def stop(self) -> None:
        if self._load is not None:
            self._load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._load
            self._load = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._flags.close()

    async def _work(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        flagged = self._flags.enabled(self.settings.flag, f"User:{request.query.get('actor', '0')}")
        if flagged and self.settings.slow_ms > 0:
            await asyncio.sleep(self.settings.slow_ms / 1000)
        code = 500 if self._failures.fails(flagged) else 200
        self._instruments.observe(code, time.perf_counter() - started)
        return web.Response(status=code, text="failed\n" if code == 500 else "ok\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._instruments.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _send_load(self) -> None:
        """``rps`` requests a second, paced against the clock (what falls behind is caught up)."""
        rps, actors = self.settings.rps, max(1, self.settings.actors)
        in_flight: set[asyncio.Task[None]] = set()
        cap = max(100, int(rps * 2))  # beyond this many unanswered requests, skip instead of piling up
        connector = aiohttp.TCPConnector(limit=cap)
        async with aiohttp.ClientSession(connector=connector) as session:
            started, sent = time.monotonic(), 0
            try:
                while True:
                    for _ in range(int((time.monotonic() - started) * rps) - sent):
                        if len(in_flight) < cap:
                            task = asyncio.create_task(self._request(session, sent % actors))
                            in_flight.add(task)
                            task.add_done_callback(in_flight.discard)
                        sent += 1
                    await asyncio.sleep(_TICK_S)
            finally:
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _request(self, session: aiohttp.ClientSession, actor: int) -> None:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(f"{self.url}/work?actor={actor}") as response:
                await response.read()


async def serve(settings: AppSettings) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly."""
    app = await MetricsApp(settings).start()
    print(f"metrics app on {app.url}: flag {settings.flag!r} under {settings.key_prefix!r}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await app.stop()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(serve(AppSettings.parse(argv)))


if __name__ == "__main__":
    main()
