"""Benchmark of the bot over HTTP (not a timed test).

Starts `chatops serve` against a local Slack stub and, in the same run, a bare
Bolt AsyncApp whose /chatops handler only acks. Drives signed `feature get` and
`feature set --staging` requests (each a change: 50% and 51% of actors in turn) at 16
concurrent connections for 10 s each,
and the bare app the same way. Prints readable lines, then one JSON object.

  ack:  request sent -> HTTP answer (Slack needs it within 3 s)
  e2e:  request sent -> the stub received the command's last Slack call
        (its response_url answer, sent after every cross-post)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.conftest import (  # noqa: E402
    FLAG,
    SIGNING_SECRET,
    BotUnderTest,
    signed_headers,
    wait_healthy,
    write_config,
)
from tests.bot.slack_stub import SlackStub  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

CONCURRENCY = 16  # --connections


class TimedStub(SlackStub):
    """The test stub, also resolving a future when a command's response_url answer arrives."""

    def __init__(self) -> None:
        super().__init__(channels={"feature-flag-log": "C0LOG", "e2e-run-staging": "C0QA"})
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, response_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[response_id] = future
        return future

    async def _respond(self, request: web.Request) -> web.Response:
        await request.read()
        future = self.waiting.pop(request.match_info["id"], None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        await request.read()  # answer like Slack, without recording (keeps the stub cheap)
        method = request.match_info["method"]
        return web.json_response(self._answer(method, {}))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(
    session: aiohttp.ClientSession,
    url: str,
    stub: TimedStub,
    text: str | Callable[[int], str],
    seconds: float,
    e2e: bool,
    process: psutil.Process | None,
) -> dict[str, Any]:
    """Send ``text`` (or the n-th command it makes) from 16 workers for ``seconds``."""
    acks: list[float] = []
    ends: list[float] = []
    errors = 0
    rss_peak = 0
    deadline = time.perf_counter() + seconds
    helper = BotUnderTest(url, stub, "", None, session)  # type: ignore[arg-type]
    sent = itertools.count()

    async def worker(n: int) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            line = text(next(sent)) if callable(text) else text
            body, response_id = helper.form(line, "U0SRE", "#development")
            done = stub.expect(response_id) if e2e else None
            start = time.perf_counter()
            async with session.post(f"{url}/slack/events", data=body, headers=signed_headers(body)) as response:
                await response.read()
                status = response.status
            acks.append((time.perf_counter() - start) * 1000)
            if status != 200:
                errors += 1
                continue
            if done is not None:
                try:
                    finished = await asyncio.wait_for(done, 10)
                except TimeoutError:
                    errors += 1
                    continue
                ends.append((finished - start) * 1000)

    async def sample_rss() -> None:
        nonlocal rss_peak
        while time.perf_counter() < deadline and process is not None:
            family = [process, *process.children(recursive=True)]  # the workers, with --workers
            rss_peak = max(rss_peak, sum(p.memory_info().rss for p in family))
            await asyncio.sleep(0.2)

    started = time.perf_counter()
    await asyncio.gather(sample_rss(), *(worker(n) for n in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    completed = len(ends) if e2e else len(acks) - errors
    return {
        "rps": completed / elapsed,
        "acks": acks,
        "ends": ends,
        "errors": errors,
        "rss": rss_peak,
    }


def serve_environment(slack_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked ``chatops serve``: its secrets, against the stub at ``slack_url``."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
        **extra,
    }


def start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(seconds: float, workers: int, scaling: bool) -> None:
    stub = await TimedStub().start()
    work = Path(tempfile.mkdtemp(prefix="chatops-bench-"))
    redis_url = os.environ.get("REDIS_URL", "")
    prefix = f"bench-bot:{uuid.uuid4().hex[:8]}:"
    config = write_config(work, redis_url or None, prefix)  # None: the embedded Redis server
    env = serve_environment(stub.url)
    bot_port, bare_port = free_port(), free_port()
    bot = start(
        serve_command(config, bot_port, "--workers", str(workers), log_level="warning"),
        env,
        work,
    )
    bare = start([sys.executable, str(ROOT / "bench" / "bare_bolt.py"), str(bare_port)], env, work)
    bot_url, bare_url = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{bare_port}"
    print(
        f"redis: {redis_url or 'embedded'}; {workers} worker(s); {CONCURRENCY} connections; {seconds:.0f} s per phase; "
        f"python {sys.version.split()[0]}; cpus {os.cpu_count()}"
    )
    try:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_healthy(session, bot_url)
            await wait_healthy(session, bare_url)
            process = psutil.Process(bot.pid)
            await drive(session, bot_url, stub, f"run feature set {FLAG} 40 --actors --staging", 1.0, True, None)
            get = await drive(session, bot_url, stub, f"run feature get {FLAG} --staging", seconds, True, process)
            set_ = await drive(
                session,
                bot_url,
                stub,
                lambda n: f"run feature set {FLAG} {50 + n % 2} --actors --staging",  # each a change: 50, 51, 50…
                seconds,
                True,
                process,
            )
            await drive(session, bare_url, stub, "run feature get x", 1.0, False, None)  # warm up
            bare_run = await drive(session, bare_url, stub, f"run feature get {FLAG}", seconds, False, None)
    finally:
        for process_ in (bot, bare):
            process_.terminate()
            process_.wait(timeout=20)
        await stub.stop()
        if redis_url:
            delete_prefixed(redis_url, prefix)

    acks = get["acks"] + set_["acks"]
    ends = get["ends"] + set_["ends"]
    errors = get["errors"] + set_["errors"] + bare_run["errors"]
    print(f"feature get:            {get['rps']:8.0f} commands/s (e2e)")
    print(f"feature set --staging:  {set_['rps']:8.0f} commands/s (e2e)")
    print(f"bare Bolt, ack only:    {bare_run['rps']:8.0f} requests/s")
    print(f"ack latency:   p50 {statistics.median(acks):6.1f} ms   p99 {pct(acks, 99):6.1f} ms")
    print(f"end to end:    p50 {statistics.median(ends):6.1f} ms   p99 {pct(ends, 99):6.1f} ms")
    rss = max(get["rss"], set_["rss"]) / 2**20
    print(f"bot RSS under load: {rss:.0f} MB; errors: {errors}")
    extra: dict[str, Any] = {}
    if scaling:
        from bench.scaling import measure_scaling

        extra = await measure_scaling(int(seconds))
    print(
        json.dumps(
            {
                **extra,
                "get_rps": round(get["rps"], 1),
                "set_rps": round(set_["rps"], 1),
                "bare_bolt_rps": round(bare_run["rps"], 1),
                "ratio_get_vs_bare": round(get["rps"] / bare_run["rps"], 2),
                "ack_p50_ms": round(statistics.median(acks), 1),
                "ack_p99_ms": round(pct(acks, 99), 1),
                "e2e_p50_ms": round(statistics.median(ends), 1),
                "e2e_p99_ms": round(pct(ends, 99), 1),
                "workers": workers,
                "connections": CONCURRENCY,
                "rss_mb": round(rss, 1),
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--workers", type=int, default=1, help="`chatops serve --workers N`")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="also measure 1 vs 2 workers with wrk and a minimal Slack sink (bench/scaling.py; needs wrk)",
    )
    arguments = parser.parse_args()
    CONCURRENCY = arguments.connections
    asyncio.run(main(arguments.seconds, arguments.workers, arguments.scaling))
