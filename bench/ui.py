"""The dashboard's pages against `chatops serve` (not a timed test).

Writes --flags flags on each of the example's six environments (a mix of off, actors, percentages
and on, through FlagStore.apply, audited like the bot's own changes) and one flag with --changes
changes, signs in with a one-time link, then times the flags page and that flag's page over HTTP,
compressed as a browser asks for them. Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import pct, serve_environment, start  # noqa: E402
from flags import AuditInfo, Change, FlagStore, Percentage, SetBoolean, SetPercentageOfActors  # noqa: E402
from handlers.config import Secrets, load_config  # noqa: E402
from handlers.dashboard.signin import SignIn, Visitor  # noqa: E402
from tests.bot.conftest import SIGNING_SECRET, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import SlackStub  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

BUSY = "bench_busy_flag"


def _state(i: int, environment: int) -> Change | None:
    """Flag ``i`` on the ``environment``-th environment: a spread of states, more exposed in staging."""
    kind = (i + environment) % 5
    if kind == 0:
        return None  # not set
    if kind == 1:
        return SetBoolean(False)
    if kind in (2, 3):
        return SetPercentageOfActors(Percentage(str((i * 7 + environment) % 100 or 1)))
    return SetBoolean(True)


async def populate(stores: list[FlagStore], flags: int, changes: int) -> None:
    audit = AuditInfo(who="bench", who_id="U0BENCH", channel="#bench", command="/chatops run feature set (bench)")
    jobs = [
        (store, f"bench_flag_{i:05d}", change)
        for index, store in enumerate(stores)
        for i in range(flags)
        if (change := _state(i, index)) is not None
    ]
    for start_at in range(0, len(jobs), 100):
        await asyncio.gather(
            *(store.apply(name, change, audit) for store, name, change in jobs[start_at : start_at + 100])
        )
    staging = stores[2]
    for i in range(changes):  # sequential: a history, in order
        await staging.apply(BUSY, SetPercentageOfActors(Percentage(str(i % 100 + 1))), audit)


async def timed(session: aiohttp.ClientSession, url: str, rounds: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        async with session.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as response:
            body = await response.read()
            assert response.status == 200, (url, response.status)
            assert response.headers.get("Content-Encoding") == "gzip", response.headers
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    return times, size


async def after_changes(session: aiohttp.ClientSession, url: str, store: FlagStore, rounds: int) -> list[float]:
    """The flags page right after a change (announced to the server's snapshot): nothing kept applies."""
    audit = AuditInfo(who="bench", who_id="U0BENCH", channel="#bench", command="/chatops run feature set (bench)")
    times = []
    for i in range(rounds):
        await store.apply("bench_flag_00001", SetPercentageOfActors(Percentage(str(i % 100 + 1))), audit)
        await asyncio.sleep(0.05)  # the announcement reaches the server
        started = time.perf_counter()
        async with session.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as response:
            await response.read()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def main(flags: int, changes: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="chatops-ui-"))
    redis_url = os.environ.get("REDIS_URL", "")
    prefix = f"bench-ui:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    ui = {"base_url": f"http://127.0.0.1:{port}"}
    config_path = write_config(work, redis_url or None, prefix, redis_prefix=prefix, ui=ui)
    config = load_config(config_path)
    client = aioredis.from_url(redis_url or "redis://127.0.0.1:6379/0", decode_responses=True, max_connections=200)
    stores = [FlagStore(client, prefix=e.prefix, environment=e.name) for e in config.environments]
    started = time.perf_counter()
    await populate(stores, flags, changes)
    print(
        f"{flags:,} flags on {len(stores)} environments and {changes:,} changes of {BUSY} written in "
        f"{time.perf_counter() - started:.1f} s"
    )
    stub = SlackStub()
    await stub.start()
    server = start(serve_command(config_path, port, log_level="warning"), serve_environment(stub.url), work)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # 127.0.0.1
            await wait_healthy(session, url)
            key = Secrets(signing_secret=SIGNING_SECRET).dashboard_key
            assert key is not None
            sign_in = SignIn(client, prefix, key, link_seconds=300, session_hours=12)
            token = sign_in.token(Visitor("U0BENCH", "bench"))
            async with session.post(f"{url}/ui/signin", data={"token": token}) as signed:
                assert signed.status == 200, signed.status  # followed to the flags page
            loading = time.perf_counter()
            while True:  # until the live snapshots are loaded (before that, each page reads Redis)
                async with session.get(f"{url}/ui/") as first:
                    if "States from the live snapshot" in await first.text():
                        break
                await asyncio.sleep(0.2)
            print(f"live snapshots ready {time.perf_counter() - loading:.1f} s after the server answered")
            flags_times, flags_bytes = await timed(session, f"{url}/ui/", rounds)
            flag_times, flag_bytes = await timed(session, f"{url}/ui/flags/{BUSY}", rounds)
            changed_times = await after_changes(session, f"{url}/ui/", stores[2], rounds)
    finally:
        server.terminate()
        server.wait(timeout=20)
        await stub.stop()
        if redis_url:
            delete_prefixed(redis_url, prefix)
        await client.aclose()
    print(
        f"flags page ({flags:,} rows x {len(stores)} environments) x{rounds}: p50 {statistics.median(flags_times):.0f} ms, "
        f"p99 {pct(flags_times, 99):.0f} ms, {flags_bytes / 1024:.0f} KB compressed"
    )
    print(
        f"flag page ({changes:,} changes) x{rounds}: p50 {statistics.median(flag_times):.1f} ms, "
        f"p99 {pct(flag_times, 99):.1f} ms, {flag_bytes / 1024:.0f} KB compressed"
    )
    print(
        f"flags page right after a change x{rounds}: p50 {statistics.median(changed_times):.0f} ms, "
        f"p99 {pct(changed_times, 99):.0f} ms"
    )
    targets = (
        pct(changed_times, 99) <= 300
        and pct(flags_times, 99) <= 300
        and pct(flag_times, 99) <= 100
        and flags_bytes / 1024 <= 500
    )
    print(
        json.dumps(
            {
                "flags_page_p50_ms": round(statistics.median(flags_times), 1),
                "flags_page_p99_ms": round(pct(flags_times, 99), 1),
                "flags_page_after_change_p50_ms": round(statistics.median(changed_times), 1),
                "flags_page_after_change_p99_ms": round(pct(changed_times, 99), 1),
                "flags_page_kb": round(flags_bytes / 1024, 1),
                "flag_page_p50_ms": round(statistics.median(flag_times), 1),
                "flag_page_p99_ms": round(pct(flag_times, 99), 1),
                "flag_page_kb": round(flag_bytes / 1024, 1),
                "flags": flags,
                "environments": len(stores),
                "changes": changes,
                "rounds": rounds,
                "targets_met": targets,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flags", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=1_000, help="changes of the one busy flag")
    parser.add_argument("--rounds", type=int, default=30)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.flags, arguments.changes, arguments.rounds))
