"""Rollouts against `chatops serve` (not a timed test): how fast an alert rolls a rollout back,
how punctual the steps are, how fast another process takes over the timers, and what 1,000
waiting rollouts cost the driver.

  push:      a rollout on staging (step 1 written), then Alertmanager's webhook call with a
             matching firing alert, as Alertmanager sends it; from the request to the rollback
             written (the store's change announcement), --rounds times.
  poll:      the same with the alert fired in a real Alertmanager and no webhook: only the
             driver's poll (every POLL_S) can find it.
  steps:     a 30-step rollout, one step a second: how late each step is written after it was due.
  takeover:  a second `chatops serve`; `kill -9` of the one holding the driver lease mid-rollout;
             from the kill to the next step written by the other (3 rounds).
  idle:      1,000 rollouts waiting between steps: the driver's CPU over 20 s.

Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import pct, serve_environment, start  # noqa: E402
from flags import resolve_redis_url  # noqa: E402
from handlers.core.caller import Caller  # noqa: E402
from handlers.core.timers import Timers  # noqa: E402
from handlers.rollouts.store import Rollout, RolloutStore  # noqa: E402
from tests.alertmanager_process import Alertmanager  # noqa: E402
from tests.bot.conftest import CHANNELS, SRE, BotUnderTest, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import SlackStub  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

POLL_S = 2.0
TOKEN = "bench-alertmanager-token"
CHANNEL = "#development"  # where --staging may be changed (the example configuration)


class Announcements:
    """Times at which each flag was written on staging, from the store's change announcements."""

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self.client, self.channel = client, channel
        self.seen: dict[str, list[float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self.client.pubsub()
        await pubsub.subscribe(self.channel)

        async def listen() -> None:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    flag = json.loads(message["data"]).get("flag", "")
                    self.seen.setdefault(flag, []).append(time.perf_counter())

        self._task = asyncio.create_task(listen())

    async def nth(self, flag: str, n: int, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        while len(self.seen.get(flag, [])) < n:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{flag}: write {n} never came")
            await asyncio.sleep(0.001)
        return self.seen[flag][n - 1]


async def command(bot: BotUnderTest, text: str) -> str:
    _, answer = await bot.text(text, channel=CHANNEL, timeout=15)
    return answer


async def push(bot: BotUnderTest, writes: Announcements, session: aiohttp.ClientSession, rounds: int) -> list[float]:
    latencies = []
    for i in range(rounds):
        flag = f"bench_push_{i}"
        await command(
            bot, f"run feature rollout {flag} --steps 10,50 --every 1h --staging --guard='alertname=\"Push{i}\"'"
        )
        await writes.nth(flag, 1)
        payload = {
            "version": "4",
            "status": "firing",
            "alerts": [{"status": "firing", "labels": {"alertname": f"Push{i}"}}],
        }
        sent = time.perf_counter()
        async with session.post(
            f"{bot.url}/webhooks/alertmanager", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            await response.read()
        latencies.append((await writes.nth(flag, 2) - sent) * 1000)
    return latencies


async def poll(bot: BotUnderTest, writes: Announcements, alertmanager: Alertmanager, rounds: int) -> list[float]:
    latencies = []
    for i in range(rounds):
        flag = f"bench_poll_{i}"
        await command(
            bot, f"run feature rollout {flag} --steps 10,50 --every 1h --staging --guard='alertname=\"Poll{i}\"'"
        )
        await writes.nth(flag, 1)
        sent = time.perf_counter()
        await asyncio.to_thread(alertmanager.fire, {"alertname": f"Poll{i}"}, "bench")
        latencies.append(await writes.nth(flag, 2, timeout=POLL_S * 5) - sent)
    return latencies


async def steps(bot: BotUnderTest, writes: Announcements, count: int = 30) -> list[float]:
    flag = "bench_steps"
    await command(
        bot, f"run feature rollout {flag} --steps {','.join(str(n) for n in range(1, count + 1))} --every 1s --staging"
    )
    times = [await writes.nth(flag, n, timeout=count * 3) for n in range(1, count + 1)]
    return [max(0.0, (later - earlier - 1.0) * 1000) for earlier, later in itertools.pairwise(times)]


async def idle_cpu(client: aioredis.Redis, prefix: str, server: psutil.Process, count: int = 1000) -> float:
    store = RolloutStore(Timers(client, prefix))
    now = time.time()
    who = Caller("U0BENCH", "bench", "C0DEV", "development")
    for i in range(count):
        rollout = Rollout(
            id=await store.new_id(),
            flag=f"bench_idle_{i}",
            options=("staging",),
            steps=(10.0, 50.0),
            every_s=3600,
            who=who,
            created_at=now,
            guard=('alertname="Never"',),
            due=now + 3600,
        )
        await store.save(rollout)
    await asyncio.sleep(POLL_S * 2)  # the driver has seen them
    before, started = server.cpu_times(), time.perf_counter()
    await asyncio.sleep(20)
    after, elapsed = server.cpu_times(), time.perf_counter() - started
    used = (after.user - before.user) + (after.system - before.system)
    return used / elapsed * 100


async def takeover(
    config: Path,
    env: dict[str, str],
    work: Path,
    client: aioredis.Redis,
    prefix: str,
    writes: Announcements,
    servers: dict[int, Any],
    bot: BotUnderTest,
    rounds: int = 3,
) -> list[float]:
    seconds = []
    for i in range(rounds):
        port = free_port()
        extra = start(serve_command(config, port, log_level="warning"), env, work)
        servers[extra.pid] = (extra, f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, f"http://127.0.0.1:{port}")
        held = str(await client.get(f"{prefix}chatops:driver"))
        holder = int(held.split(" ", 1)[1].split(":")[1])
        survivor = next(pid for pid in servers if pid != holder and servers[pid][0].poll() is None)
        bot.url = servers[survivor][1]
        flag = f"bench_takeover_{i}"
        await command(
            bot, f"run feature rollout {flag} --steps {','.join(str(n) for n in range(1, 31))} --every 1s --staging"
        )
        await writes.nth(flag, 3)
        os.kill(holder, signal.SIGKILL)
        killed = time.perf_counter()
        servers[holder][0].wait(10)
        already = len(writes.seen.get(flag, []))
        seconds.append(await writes.nth(flag, already + 1, timeout=30) - killed)
        await command(bot, f"run feature rollout abort {flag}")
        del servers[holder]
    return seconds


async def main(rounds: int) -> None:
    stub = SlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE})
    await stub.start()
    work = Path(tempfile.mkdtemp(prefix="chatops-rollouts-"))
    redis_url = os.environ.get("REDIS_URL", "") or resolve_redis_url(None, work / ".chatops")
    prefix = f"bench-rollouts:{uuid.uuid4().hex[:8]}:"
    alertmanager = Alertmanager(work)  # no webhook receiver: the poll phase has only the poll
    safety = {
        "production_check": {"alertmanager": {"url": alertmanager.url, "matchers": ['bench="yes"']}},
        "rollout_min_every_seconds": 1,
        "rollout_guard_poll_seconds": POLL_S,
    }
    config = write_config(work, redis_url, prefix, definitions=[], safety=safety)
    env = serve_environment(stub.url, ALERTMANAGER_WEBHOOK_TOKEN=TOKEN)
    port = free_port()
    first = start(serve_command(config, port, log_level="warning"), env, work)
    servers: dict[int, Any] = {first.pid: (first, f"http://127.0.0.1:{port}")}
    client = aioredis.from_url(redis_url, decode_responses=True)
    writes = Announcements(client, f"{prefix}gstg:chatops:changes")
    await writes.start()
    print(f"redis: {redis_url}; python {sys.version.split()[0]}; cpus {os.cpu_count()}; guard poll {POLL_S:g} s")
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as session:
            url = servers[first.pid][1]
            await wait_healthy(session, url)
            bot = BotUnderTest(url, stub, prefix, client, session)
            pushed = await push(bot, writes, session, rounds)
            print(
                f"push:      alert → rollback written: p50 {statistics.median(pushed):.1f} ms, p99 {pct(pushed, 99):.1f} ms ({rounds} rounds)"
            )
            polled = await poll(bot, writes, alertmanager, max(3, rounds // 4))
            print(
                f"poll:      alert → rollback written: p50 {statistics.median(polled):.2f} s, max {max(polled):.2f} s (poll every {POLL_S:g} s)"
            )
            late = await steps(bot, writes)
            print(
                f"steps:     lateness p50 {statistics.median(late):.1f} ms, p99 {pct(late, 99):.1f} ms ({len(late)} steps)"
            )
            idle = await idle_cpu(client, prefix, psutil.Process(first.pid))
            print(f"idle:      1,000 waiting rollouts: driver CPU {idle:.2f}%")
            await client.delete(
                *[k async for k in client.scan_iter(f"{prefix}chatops:schedules*")], f"{prefix}chatops:timers"
            )
            took = await takeover(config, env, work, client, prefix, writes, servers, bot)
            print(f"takeover:  kill -9 → next step by another process: {', '.join(f'{t:.2f}' for t in took)} s")
        results = {
            "alert_to_rollback_p50_ms": round(statistics.median(pushed), 1),
            "alert_to_rollback_p99_ms": round(pct(pushed, 99), 1),
            "alert_to_rollback_poll_p99_s": round(pct(polled, 99), 2),
            "poll_interval_s": POLL_S,
            "step_lateness_p50_ms": round(statistics.median(late), 1),
            "step_lateness_p99_ms": round(pct(late, 99), 1),
            "takeover_s": round(statistics.median(took), 2),
            "takeover_max_s": round(max(took), 2),
            "idle_cpu_pct_1000_rollouts": round(idle, 2),
        }
    finally:
        for process, _ in servers.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        alertmanager.stop()
        await stub.stop()
        await client.aclose()
        delete_prefixed(redis_url, prefix)
    targets = {
        "alert_to_rollback_p99_ms": results["alert_to_rollback_p99_ms"] <= 500,
        "alert_to_rollback_poll_p99_s": results["alert_to_rollback_poll_p99_s"] <= POLL_S + 1,
        "step_lateness_p99_ms": results["step_lateness_p99_ms"] <= 1000,
        "takeover_s": results["takeover_max_s"] <= 10,
        "idle_cpu_pct_1000_rollouts": results["idle_cpu_pct_1000_rollouts"] <= 5,
    }
    print("targets:   " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets.items()))
    print(json.dumps({**results, "targets_met": all(targets.values())}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="alerts pushed (default 20)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds))
