"""Metric guards against `chatops serve` and a real Prometheus (not a timed test): how fast a
rollout whose step raises the error ratio is rolled back, and that a rollout over a flag that
changes nothing is never aborted by its metric's noise.

One Prometheus (Debian's, scraping every SCRAPE_S) scrapes two instances of the metrics application
(tests/metrics_app.py), each reading its own flag through the SDK; each check selects its instance
(`instance="…"`), as a team's check selects its own service. The bot reads its checks every
`metrics.every` (EVERY_S) and aborts after `failure_limit` (FAILURE_LIMIT) failing readings in a row.

  regression: the harmful app fails 2% of requests, 60% of those of actors the flag is on for.
              `rollout --steps 50,100 --every 60s --staging` (the ratio goes 2% → ~31%), the check
              `max_increase: 2x` over a --window rate window. From the step's write to the
              rollback's (both the audit entries' times, as the bot wrote them), --runs times; each
              run starts once the rate window no longer holds the previous run's errors.
              --window 5s is the default, and as fast as any: the first scrape after the step
              already doubles a [5s] ratio at this regression, so shorter windows measured no faster
              (2026-12-03, 6-10 runs each: [5s] median 2.16 s, max 3.02; [3s] 2.40, 2.78; [2s] 2.02,
              2.52), while their baselines are noisier ([2s] read 1.0-2.0% of a 2% rate, so 2x of a
              low one is the base rate itself). What bounds it is the scrape (up to SCRAPE_S), the
              guard's round (the driver's 0.25 s ticks) and failure_limit readings EVERY_S apart.
  steady:     the steady app fails 5% of requests whether the flag is on or not, its base rate
              drawn each second ±30% (`--jitter 0.3`). One rollout whose second step comes long
              after --evaluations readings (`--steps 50,100`), checked as a user would: a [10s]
              window, `max_increase: 2x`. Counted: readings Prometheus logged in its query log
              (the bot's instant queries of the check after the step), aborts (a new rollout starts
              after one, until the readings are done), and failing readings (the rollout's
              consecutive-failure count rising, polled every 0.1 s; the reading that aborts is not
              saved there: the abort is counted). Every logged reading is read again afterwards at
              its time: the highest against the baseline is the margin left.

Both run at once against one bot (its guard job reads every running rollout's checks each round).
Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import serve_environment, start  # noqa: E402
from flags import resolve_redis_url  # noqa: E402
from tests.bot.conftest import CHANNELS, SRE, BotUnderTest, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import SlackStub  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.metrics_app import AppSettings  # noqa: E402
from tests.metrics_app_process import MetricsAppProcess  # noqa: E402
from tests.prometheus_process import Prometheus  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

SCRAPE_S = 1.0  # tests/prometheus_process.py scrapes every second
EVERY_S = 1.0
FAILURE_LIMIT = 2
BOUND = "2x"
STEADY_WINDOW = "10s"
CHANNEL = "#development"  # where --staging may be changed (the example configuration)
ENVIRONMENT = "gstg"
HARMFUL_FLAG, STEADY_FLAG = "bench_guard_harmful", "bench_guard_steady"
HARMFUL_CHECK, STEADY_CHECK = "error_ratio_harmful_app", "error_ratio_steady_app"
HARMFUL_RATES: dict[str, Any] = {"error_rate": 0.6, "base_error_rate": 0.02}
STEADY_RATES: dict[str, Any] = {"error_rate": 0.05, "base_error_rate": 0.05, "jitter": 0.3}


def error_ratio(instance: str, window: str) -> str:
    """The check's query: the share of ``instance``'s requests in ``{env}`` that failed over ``window``."""
    selector = 'env="{env}",instance="' + instance + '"'
    failed = "sum(rate(http_requests_total{" + selector + ',code="500"}[' + window + "]))"
    return failed + " / sum(rate(http_requests_total{" + selector + "}[" + window + "]))"


def seconds_of(window: str) -> float:
    match = re.fullmatch(r"(\d+)s", window)
    if not match:
        raise ValueError(f"{window!r}: give the rate window in whole seconds, e.g. 5s")
    return float(match.group(1))


@dataclass
class World:
    """Prometheus scraping the harmful and the steady app; the checks' queries, filled for gstg."""

    prometheus: Prometheus
    harmful: MetricsAppProcess
    steady: MetricsAppProcess
    window: str

    def query(self, check: str) -> str:
        """``check``'s query as the bot sends it for gstg."""
        if check == HARMFUL_CHECK:
            return error_ratio(self.harmful.target, self.window).replace("{env}", ENVIRONMENT)
        return error_ratio(self.steady.target, STEADY_WINDOW).replace("{env}", ENVIRONMENT)

    def metrics_section(self) -> dict[str, Any]:
        checks = {
            HARMFUL_CHECK: error_ratio(self.harmful.target, self.window),
            STEADY_CHECK: error_ratio(self.steady.target, STEADY_WINDOW),
        }
        return {
            "prometheus": {"url": self.prometheus.url, "timeout": 2},
            "checks": {n: {"query": q, "max_increase": BOUND, "unit": "ratio"} for n, q in checks.items()},
            "every": f"{EVERY_S:g}s",
            "failure_limit": FAILURE_LIMIT,
        }


@contextmanager
def start_world(directory: Path, redis_url: str, prefix: str, window: str) -> Iterator[World]:
    """Both apps and Prometheus, started (from the main thread: a child is stopped when we die) and
    waited for until both checks have values and the longest window has a full history."""

    def app(flag: str, rates: dict[str, Any]) -> MetricsAppProcess:
        settings = AppSettings(redis_url, free_port(), ENVIRONMENT, flag, prefix=f"{prefix}{ENVIRONMENT}:", **rates)
        (directory / flag).mkdir()
        return MetricsAppProcess(settings, directory / flag)

    harmful, steady = app(HARMFUL_FLAG, HARMFUL_RATES), app(STEADY_FLAG, STEADY_RATES)
    prometheus = Prometheus(directory, [harmful.target, steady.target], query_log=True)
    world = World(prometheus, harmful, steady, window)
    try:
        harmful.start()
        steady.start()
        prometheus.start()
        for check in (HARMFUL_CHECK, STEADY_CHECK):
            prometheus.wait_for_series(world.query(check))
        prometheus.wait_for_history(max(seconds_of(window), seconds_of(STEADY_WINDOW)))
        yield world
    finally:
        prometheus.stop()
        harmful.stop()
        steady.stop()


async def rollout_record(bot: BotUnderTest, rollout_id: str) -> dict[str, Any]:
    record = await bot.redis.hget(f"{bot.prefix}chatops:schedules", rollout_id)
    if not record:
        raise RuntimeError(f"no rollout {rollout_id}")
    found: dict[str, Any] = json.loads(record)
    return found


async def start_rollout(bot: BotUnderTest, flag: str, check: str, every: str) -> str:
    """The id of a rollout of ``flag`` to 50% of actors on staging, started now (its step written)."""
    text = f"run feature rollout {flag} --steps 50,100 --every {every} --staging --metrics {check}"
    _, answer = await bot.text(text, channel=CHANNEL, timeout=15)
    started = re.search(r"Started (R\d+) on ", answer)
    if not started:
        raise RuntimeError(f"the rollout did not start: {answer}")
    return started.group(1)


async def first_step_at(bot: BotUnderTest, rollout_id: str, timeout: float = 15.0) -> float:
    """When the rollout's first step was written (the driver writes it just after the start)."""
    deadline = time.monotonic() + timeout
    while not (stepped := (await rollout_record(bot, rollout_id)).get("stepped_at")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{rollout_id} wrote no step within {timeout:.0f} s")
        await asyncio.sleep(0.05)
    return float(stepped[0])


@dataclass
class Watched:
    """What polling a rollout's record saw."""

    status: str
    first_failing_at: float | None  # epoch seconds a failing reading was first seen
    failing_readings: int  # each reading that raised the consecutive-failure count (the aborting one is never saved)
    record: dict[str, Any]


async def watch(
    bot: BotUnderTest,
    rollout_id: str,
    check: str,
    *,
    poll_s: float,
    timeout: float,
    enough: Callable[[], Awaitable[bool]] | None = None,
) -> Watched:
    """Poll the rollout until it ends, or until ``enough()`` says so."""
    key, last, failing, first_failing = f"{check}@{ENVIRONMENT}", 0, 0, None
    deadline = time.monotonic() + timeout
    while True:
        record = await rollout_record(bot, rollout_id)
        count = int((record.get("failing") or {}).get(key, 0))
        if count > last:
            failing += count - last
            first_failing = first_failing or time.time()
        last = count
        if record["status"] not in ("running", "paused") or (enough is not None and await enough()):
            return Watched(record["status"], first_failing, failing, record)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{rollout_id} still {record['status']} after {timeout:.0f} s")
        await asyncio.sleep(poll_s)


async def until_restored(bot: BotUnderTest, flag: str, timeout: float = 10.0) -> None:
    """Until ``flag`` is gone again on staging (it did not exist before the rollout): an abort is
    saved first, and the environments are restored right after."""
    deadline = time.monotonic() + timeout
    while await bot.redis.exists(f"{bot.prefix}{ENVIRONMENT}:{flag}"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{flag} not restored within {timeout:.0f} s of its rollout's abort")
        await asyncio.sleep(0.02)


@dataclass
class Regression:
    seconds: float  # the step's write → the rollback's, as the audit entries have them
    first_failing_s: float  # the step's write → the first failing reading seen in the record
    rolled_back_at: float
    baseline: float


async def regression_run(bot: BotUnderTest) -> Regression:
    rollout_id = await start_rollout(bot, HARMFUL_FLAG, HARMFUL_CHECK, "60s")
    watched = await watch(bot, rollout_id, HARMFUL_CHECK, poll_s=0.02, timeout=60)
    if watched.status != "aborted":
        raise RuntimeError(f"{rollout_id} of the harmful flag ended {watched.status}, not aborted")
    await until_restored(bot, HARMFUL_FLAG)
    audit = f"{bot.prefix}{ENVIRONMENT}:chatops:audit:{HARMFUL_FLAG}"
    entries = await bot.redis.xrevrange(audit, count=2)
    rollback, step = (dict(fields or {}) for _, fields in entries or [])
    if step.get("exists") != "1" or rollback.get("exists") != "0":
        raise RuntimeError(f"the audit's last two entries are not the step and its rollback: {step}, {rollback}")
    stepped, restored = float(step["at"]), float(rollback["at"])
    baseline = float(watched.record["baselines"][f"{HARMFUL_CHECK}@{ENVIRONMENT}"])
    first = (watched.first_failing_at or restored) - stepped
    return Regression(restored - stepped, first, restored, baseline)


async def regressions(bot: BotUnderTest, runs: int, window_s: float) -> list[Regression]:
    """``runs`` regressions, each once the rate window holds none of the previous one's errors, at a
    random moment within a second: a rollback is written in the guard's round, and a start a fixed
    time after it would always fall at the same point of the guard's and the scrapes' cycles."""
    done: list[Regression] = []
    for _ in range(runs):
        if done:
            await asyncio.sleep(max(0.0, done[-1].rolled_back_at + window_s + 2 * SCRAPE_S - time.time()))
        await asyncio.sleep(random.uniform(0, max(EVERY_S, SCRAPE_S)))
        done.append(await regression_run(bot))
    return done


def evaluation_times(world: World, since: float) -> list[float]:
    """When the bot read the steady check (its instant queries' times, from Prometheus' query log)
    from ``since`` on (epoch seconds)."""
    query = world.query(STEADY_CHECK)
    times = [
        datetime.fromisoformat(entry["params"]["start"]).timestamp()
        for entry in world.prometheus.logged_queries()
        if entry["httpRequest"]["path"] == "/api/v1/query" and entry["params"]["query"] == query
    ]
    return sorted(t for t in times if t >= since)


@dataclass
class Steady:
    evaluations: list[float]  # when each reading was made
    aborts: int
    failing_readings: int
    baselines: list[float]  # of each rollout


async def steady_run(bot: BotUnderTest, world: World, evaluations: int) -> Steady:
    """Rollouts of the harmless flag, a new one after each abort, until ``evaluations`` readings."""
    every = f"{int(evaluations * EVERY_S * 3 + 120)}s"  # its second step never comes while we count
    result = Steady([], 0, 0, [])
    while len(result.evaluations) < evaluations:
        rollout_id = await start_rollout(bot, STEADY_FLAG, STEADY_CHECK, every)
        since, before = await first_step_at(bot, rollout_id), len(result.evaluations)

        async def enough(since: float = since, before: int = before) -> bool:
            if time.time() - since < (evaluations - before - 1) * EVERY_S:
                return False  # not yet: the log is read only near the end (it grows by every query)
            return before + len(evaluation_times(world, since)) >= evaluations

        watched = await watch(
            bot, rollout_id, STEADY_CHECK, poll_s=0.1, timeout=evaluations * EVERY_S * 4 + 60, enough=enough
        )
        result.evaluations += evaluation_times(world, since)
        result.failing_readings += watched.failing_readings
        result.baselines.append(float(watched.record["baselines"][f"{STEADY_CHECK}@{ENVIRONMENT}"]))
        if watched.status == "aborted":
            result.aborts += 1
        elif watched.status == "running":
            await bot.text(f"run feature rollout abort {STEADY_FLAG}", channel=CHANNEL, timeout=15)
        else:
            raise RuntimeError(f"{rollout_id} of the steady flag ended {watched.status}")
    del result.evaluations[evaluations:]
    return result


def highest_reading(world: World, steady: Steady) -> float:
    """The steady check read again at each time the bot read it: the highest value."""
    query = world.query(STEADY_CHECK)
    values = [world.prometheus.query(query, at=t) for t in steady.evaluations]
    return max(v for v in values if v is not None)


def regression_lines(done: list[Regression], window: str, target_s: float) -> list[str]:
    seconds = [r.seconds for r in done]
    first = [r.first_failing_s for r in done]
    return [
        f"regression: error ratio {HARMFUL_RATES['base_error_rate']:.0%} → ~{regressed_ratio():.0%} at step 50%; "
        f"check rate[{window}], max_increase {BOUND} (baselines {', '.join(f'{r.baseline:.2%}' for r in done)})",
        f"regression: step written → rolled back: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
        f"({len(done)} runs: {', '.join(f'{s:.2f}' for s in seconds)})",
        f"regression: first failing reading seen {statistics.median(first):.2f} s after the step (median: the next "
        f"scrape, then the guard's next round), then {FAILURE_LIMIT - 1} more reading(s) to abort (failure_limit {FAILURE_LIMIT})",
        f"regression: target ≤ {target_s:g} s (scrape {SCRAPE_S:g} s + failure_limit {FAILURE_LIMIT} x every "
        f"{EVERY_S:g} s + 1 s) for every run: " + ("met" if max(seconds) <= target_s else "MISSED"),
    ]


def regressed_ratio() -> float:
    """The harmful app's error ratio with the flag on for half of its actors."""
    return (HARMFUL_RATES["error_rate"] + HARMFUL_RATES["base_error_rate"]) / 2


def steady_lines(steady: Steady, peak: float) -> list[str]:
    gaps = [b - a for a, b in zip(steady.evaluations, steady.evaluations[1:], strict=False)]
    baseline = statistics.median(steady.baselines)
    return [
        f"steady:     error ratio {STEADY_RATES['error_rate']:.0%} on and off, base ±{STEADY_RATES['jitter']:.0%} each "
        f"second; check rate[{STEADY_WINDOW}], max_increase {BOUND}, baseline {baseline:.2%}",
        f"steady:     {len(steady.evaluations)} readings (the bot's queries in Prometheus' query log, one every "
        f"{statistics.median(gaps) if gaps else 0:.2f} s median): {steady.aborts} abort(s), "
        f"{steady.failing_readings} failing reading(s) (a reading that fails holds a step; {FAILURE_LIMIT} in a row abort)",
        f"steady:     highest reading {peak:.2%} = {peak / baseline:.2f}x its baseline (the bound is {BOUND}); "
        f"target 0 aborts: {'met' if steady.aborts == 0 else 'MISSED'}",
    ]


async def measure(world: World, work: Path, redis_url: str, prefix: str, runs: int, evaluations: int) -> dict[str, Any]:
    """Serve the bot on ``world``'s Prometheus and run both measurements at once."""
    stub = SlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE})
    await stub.start()
    config = write_config(
        work,
        redis_url,
        prefix,
        definitions=[],
        metrics=world.metrics_section(),
        safety={"rollout_min_every_seconds": 1},
    )
    port = free_port()
    server = start(serve_command(config, port, log_level="warning"), serve_environment(stub.url), work)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(session, url)
            bot = BotUnderTest(url, stub, prefix, client, session)
            done, steady = await asyncio.gather(
                regressions(bot, runs, seconds_of(world.window)), steady_run(bot, world, evaluations)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        await client.aclose()
        await stub.stop()
    return {"regressions": done, "steady": steady, "peak": await asyncio.to_thread(highest_reading, world, steady)}


def report(measured: dict[str, Any], window: str) -> None:
    done: list[Regression] = measured["regressions"]
    steady: Steady = measured["steady"]
    target_s = SCRAPE_S + FAILURE_LIMIT * EVERY_S + 1
    for text in [*regression_lines(done, window, target_s), *steady_lines(steady, measured["peak"])]:
        print(text)
    seconds = [r.seconds for r in done]
    targets = {"regression_to_rollback_s": max(seconds) <= target_s, "false_aborts_steady": steady.aborts == 0}
    print("targets:    " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets.items()))
    results = {
        "regression_to_rollback_s": round(statistics.median(seconds), 2),
        "regression_to_rollback_max_s": round(max(seconds), 2),
        "regression_first_failing_s": round(statistics.median(r.first_failing_s for r in done), 2),
        "regression_runs": len(done),
        "regression_target_s": target_s,
        "regression_window": window,
        "false_aborts_steady": steady.aborts,
        "evaluations": len(steady.evaluations),
        "steady_failing_readings": steady.failing_readings,
        "steady_peak_vs_baseline": round(measured["peak"] / statistics.median(steady.baselines), 2),
        "steady_window": STEADY_WINDOW,
        "max_increase": BOUND,
        "every_s": EVERY_S,
        "failure_limit": FAILURE_LIMIT,
        "scrape_interval_s": SCRAPE_S,
    }
    print(json.dumps({**results, "targets_met": all(targets.values())}))


def main(runs: int, evaluations: int, window: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="chatops-guards-"))
    redis_url = os.environ.get("REDIS_URL", "") or resolve_redis_url(None, work / ".chatops")
    prefix = f"bench-guards:{uuid.uuid4().hex[:8]}:"
    print(
        f"redis: {redis_url}; python {sys.version.split()[0]}; cpus {os.cpu_count()}; Prometheus scraping every "
        f"{SCRAPE_S:g} s; metrics.every {EVERY_S:g} s, failure_limit {FAILURE_LIMIT}; both measured at once"
    )
    try:
        with start_world(work, redis_url, prefix, window) as world:
            measured = asyncio.run(measure(world, work, redis_url, prefix, runs, evaluations))
    except BaseException:
        print(f"Prometheus' and the apps' logs are kept in {work}", file=sys.stderr)
        raise
    finally:
        delete_prefixed(redis_url, prefix)
    shutil.rmtree(work, ignore_errors=True)  # Prometheus' data too
    report(measured, window)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="regressions rolled back (default 5)")
    parser.add_argument("--evaluations", type=int, default=200, help="readings of the steady check (default 200)")
    parser.add_argument("--window", default="5s", help="the regression check's rate window (default 5s)")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.evaluations, arguments.window)
