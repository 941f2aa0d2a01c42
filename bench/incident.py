"""Incident mode against `chatops serve` (not a timed test).

  kill:     a flag true on every environment; a signed `feature kill`; until a `flags.Flags`
            client in another process (one per environment, kept fresh by announcements) sees it
            false on every environment (--rounds times).
  alert:    Alertmanager's webhook call with a firing alert on gstg, as Alertmanager sends it, until
            the recent-changes message reaches the Slack API.
  changes:  `feature changes --since 24h` on an environment whose audit stream holds 100,000
            entries, until its answer reaches the response_url.

Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import pct, serve_environment, start  # noqa: E402
from flags import resolve_redis_url  # noqa: E402
from tests.bot.conftest import CHANNELS, SRE, BotUnderTest, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import SlackStub, message_text  # noqa: E402
from tests.configs import example_environments, serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

TOKEN = "bench-alertmanager-token"
FLAG = "bench_kill"
OPTIONS = ("dev", "pre", "staging", "staging-ref", "ops", "production")
WATCHER = """
import sys, time
from flags import Flags
url, prefixes, flag = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
clients = [Flags(url, prefix=p).start() for p in prefixes]
print("ready", flush=True)
for command in sys.stdin:
    want = command.strip() == "true"
    while not all(c.enabled(flag) == want for c in clients):
        time.sleep(0.0002)
    print(f"{time.time():.6f}", flush=True)
"""


def fill_audit(url: str, key: str, count: int) -> None:
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    now = time.time()
    for i in range(count):
        fields = {
            "flag": f"bench_flag_{i % 500}",
            "environment": "gstg",
            "who": "bench",
            "who_id": "U0BENCH",
            "at": f"{now - (count - i) * 0.5:.6f}",
            "channel": "#bench",
            "command": "bench",
            "description": "set",
            "checks": "{}",
            "version": str(i),
            "before": "{}",
            "after": '{"boolean":"true"}',
            "existed": "0",
            "exists": "1",
            "entry": f"{int(now * 1000) - count + i}-0",
        }
        pipe.xadd(key, fields, maxlen=count, approximate=False)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    client.close()


async def kill_rounds(bot: BotUnderTest, watcher: subprocess.Popen[str], rounds: int) -> list[float]:
    assert watcher.stdin is not None and watcher.stdout is not None
    everywhere = " ".join(f"--{o}" for o in OPTIONS)
    latencies = []
    for _ in range(rounds):
        await bot.text(f"run feature set {FLAG} true {everywhere} --ignore-feature-flag-consistency-check", timeout=15)
        watcher.stdin.write("true\n")
        watcher.stdin.flush()
        await asyncio.to_thread(watcher.stdout.readline)
        sent = time.time()
        answer = await bot.send(f"run feature kill {FLAG}")
        assert answer.status == 200
        watcher.stdin.write("false\n")
        watcher.stdin.flush()
        seen = float(await asyncio.to_thread(watcher.stdout.readline))
        latencies.append((seen - sent) * 1000)
    return latencies


async def alert_rounds(bot: BotUnderTest, stub: SlackStub, session: aiohttp.ClientSession, rounds: int) -> list[float]:
    latencies = []
    for i in range(rounds):
        name = f"BenchAlert{i}"
        payload = {
            "alerts": [{"status": "firing", "labels": {"alertname": name, "env": "gstg"}, "fingerprint": f"f{i}"}]
        }
        sent = time.perf_counter()
        async with session.post(
            f"{bot.url}/webhooks/alertmanager", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            await response.read()
        while not any(name in message_text(c.params) for c in stub.calls[-5:] if c.method == "chat.postMessage"):
            await asyncio.sleep(0.0005)
        latencies.append((time.perf_counter() - sent) * 1000)
    return latencies


async def changes_rounds(bot: BotUnderTest, rounds: int) -> list[float]:
    latencies = []
    for _ in range(rounds):
        started = time.perf_counter()
        _, text = await bot.text("run feature changes --since 24h --staging", channel="#development", timeout=15)
        latencies.append((time.perf_counter() - started) * 1000)
        assert "flag changes in the last" in text, text
    return latencies


async def main(rounds: int) -> None:
    stub = SlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE})
    await stub.start()
    work = Path(tempfile.mkdtemp(prefix="chatops-incident-"))
    redis_url = os.environ.get("REDIS_URL", "") or resolve_redis_url(None, work / ".chatops")
    prefix = f"bench-incident:{uuid.uuid4().hex[:8]}:"
    environments = example_environments(prefix)
    config = write_config(work, redis_url, prefix, environments=environments, definitions=[])
    env = serve_environment(stub.url, ALERTMANAGER_WEBHOOK_TOKEN=TOKEN)
    port = free_port()
    server = start(serve_command(config, port, log_level="warning"), env, work)
    prefixes = ",".join(e["prefix"] for e in environments if e["option"] in OPTIONS)
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, redis_url, prefixes, FLAG],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert watcher.stdout is not None
    watcher.stdout.readline()
    print(f"redis: {redis_url}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(session, url)
            client = redis.Redis.from_url(redis_url, decode_responses=True)
            bot = BotUnderTest(url, stub, prefix, client, session)  # type: ignore[arg-type]
            killed = await kill_rounds(bot, watcher, rounds)
            print(
                f"kill:      request → SDK sees false everywhere: p50 {statistics.median(killed):.1f} ms, p99 {pct(killed, 99):.1f} ms"
            )
            alerted = await alert_rounds(bot, stub, session, rounds)
            print(
                f"alert:     webhook → message at Slack: p50 {statistics.median(alerted):.1f} ms, p99 {pct(alerted, 99):.1f} ms"
            )
            await asyncio.to_thread(fill_audit, redis_url, f"{prefix}gstg:chatops:audit", 100_000)
            queried = await changes_rounds(bot, rounds)
            print(
                f"changes:   --since 24h over 100,000 entries: p50 {statistics.median(queried):.1f} ms, p99 {pct(queried, 99):.1f} ms"
            )
            client.close()
    finally:
        watcher.kill()
        server.terminate()
        server.wait(timeout=30)
        await stub.stop()
        delete_prefixed(redis_url, prefix)
    results: dict[str, Any] = {
        "kill_to_sdk_p50_ms": round(statistics.median(killed), 1),
        "kill_to_sdk_p99_ms": round(pct(killed, 99), 1),
        "alert_webhook_to_post_p50_ms": round(statistics.median(alerted), 1),
        "alert_webhook_to_post_p99_ms": round(pct(alerted, 99), 1),
        "changes_query_p50_ms": round(statistics.median(queried), 1),
        "changes_query_p99_ms": round(pct(queried, 99), 1),
        "environments": len(OPTIONS),
        "rounds": rounds,
    }
    targets = {
        "kill_to_sdk_p99_ms": results["kill_to_sdk_p99_ms"] <= 50,
        "alert_webhook_to_post_p99_ms": results["alert_webhook_to_post_p99_ms"] <= 500,
        "changes_query_p99_ms": results["changes_query_p99_ms"] <= 200,
    }
    print("targets:   " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets.items()))
    print(json.dumps({**results, "targets_met": all(targets.values())}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="rounds of each measure (default 30)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds))
