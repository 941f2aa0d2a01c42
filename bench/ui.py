"""The dashboard's pages against `chatops serve` (not a timed test).

Writes --flags flags on each of the example's six environments (a mix of off, actors, percentages
and on, through FlagStore.apply, audited like the bot's own changes) and one flag with --changes
changes, signs in with a one-time link, then times over HTTP, compressed as a browser asks for
them: the flags page (its first page of 100 rows), sorted by last change, filtered (a search and a
state), right after a change, and that flag's page; then loads the flags page in headless Chromium
(Debian's chromium and chromedriver), from navigation start to the load event. Prints readable
lines, then one JSON object.
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
from typing import Any

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import pct, serve_environment, start  # noqa: E402
from bench.ui_browser import browser_loads  # noqa: E402
from flags import (  # noqa: E402
    AuditInfo,
    Change,
    FlagStore,
    Percentage,
    SetBoolean,
    SetPercentageOfActors,
    resolve_redis_url,
)
from handlers.config import Secrets, load_config  # noqa: E402
from handlers.dashboard.signin import SignIn, Visitor  # noqa: E402
from tests.bot.conftest import SIGNING_SECRET, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import SlackStub  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

BUSY = "bench_busy_flag"
SORTED = "/ui/?sort=changed"  # every flag has a last change: the whole sort runs
FILTERED = "/ui/?q=bench_flag_01&state=gprd:partly&since=1d"  # a search, a state and a time, over every row


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


async def signed_in(session: aiohttp.ClientSession, url: str, sign_in: SignIn) -> None:
    """Sign the session in, and wait until the flags page reads the live snapshots."""
    token = sign_in.token(Visitor("U0BENCH", "bench"))
    async with session.post(f"{url}/ui/signin", data={"token": token}) as signed:  # the link's button
        assert signed.status == 200, signed.status  # followed to the flags page
    loading = time.perf_counter()
    while True:  # until the live snapshots are loaded (before that, each page reads Redis)
        async with session.get(f"{url}/ui/") as first:
            if "States from the live snapshot" in await first.text():
                break
        await asyncio.sleep(0.2)
    print(f"live snapshots ready {time.perf_counter() - loading:.1f} s after the server answered")


async def measure(url: str, sign_in: SignIn, staging: FlagStore, rounds: int, browser_rounds: int) -> dict[str, Any]:
    """Every timing, in ms, by name (``*_bytes``: the body's size as sent, compressed)."""
    found: dict[str, Any] = {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # 127.0.0.1
        await wait_healthy(session, url)
        await signed_in(session, url, sign_in)
        found["flags"], found["flags_bytes"] = await timed(session, f"{url}/ui/", rounds)
        found["sorted"], found["sorted_bytes"] = await timed(session, f"{url}{SORTED}", rounds)
        found["filtered"], found["filtered_bytes"] = await timed(session, f"{url}{FILTERED}", rounds)
        found["flag"], found["flag_bytes"] = await timed(session, f"{url}/ui/flags/{BUSY}", rounds)
        found["changed"] = await after_changes(session, f"{url}/ui/", staging, rounds)
    signin_url = f"{url}/ui/signin?token={sign_in.token(Visitor('U0BENCH', 'bench'))}"
    found["browser"], found["browser_bytes"] = await asyncio.to_thread(
        browser_loads, signin_url, f"{url}/ui/", browser_rounds
    )
    return found


async def main(flags: int, changes: int, rounds: int, browser_rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="chatops-ui-"))
    shown = os.environ.get("REDIS_URL", "") or "embedded"
    redis_url = os.environ.get("REDIS_URL", "") or resolve_redis_url(None, work / ".chatops")  # shared with the server
    print(f"redis: {shown}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    prefix = f"bench-ui:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    ui = {"base_url": f"http://127.0.0.1:{port}"}
    config_path = write_config(work, redis_url, prefix, redis_prefix=prefix, ui=ui)
    config = load_config(config_path)
    client = aioredis.from_url(redis_url, decode_responses=True, max_connections=200)
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
    key = Secrets(signing_secret=SIGNING_SECRET).dashboard_key
    assert key is not None
    sign_in = SignIn(client, prefix, key, link_seconds=300, session_hours=12)
    try:
        found = await measure(f"http://127.0.0.1:{port}", sign_in, stores[2], rounds, browser_rounds)
    finally:
        server.terminate()
        server.wait(timeout=20)
        await stub.stop()
        delete_prefixed(redis_url, prefix)
        await client.aclose()
    report(found, flags, len(stores), changes, rounds, browser_rounds)


def report(
    found: dict[str, Any], flags: int, environments: int, changes: int, rounds: int, browser_rounds: int
) -> None:
    """Readable lines, then the JSON object (the last line)."""
    shown = {
        "flags": f"flags page (first 100 of {flags:,} rows x {environments} environments)",
        "sorted": f"flags page sorted by last change ({SORTED})",
        "filtered": f"flags page filtered ({FILTERED})",
        "changed": "flags page right after a change",
        "flag": f"flag page ({changes:,} changes)",
        "browser": "flags page in headless Chromium, navigation start to load event",
    }
    figures: dict[str, Any] = {}
    for name, words in shown.items():
        times = found[name]
        size = f", {found[name + '_bytes'] / 1024:.1f} KB compressed" if name + "_bytes" in found else ""
        print(f"{words} x{len(times)}: p50 {statistics.median(times):.1f} ms, p99 {pct(times, 99):.1f} ms{size}")
    names = {
        "flags": "flags_page",
        "sorted": "flags_page_sorted",
        "filtered": "flags_page_filtered",
        "changed": "flags_page_after_change",
        "flag": "flag_page",
        "browser": "flags_page_browser_load",
    }
    for name, key in names.items():
        figures[f"{key}_p50_ms"] = round(statistics.median(found[name]), 1)
        figures[f"{key}_p99_ms"] = round(pct(found[name], 99), 1)
    figures["flags_page_kb"] = round(found["flags_bytes"] / 1024, 1)
    figures["flags_page_browser_kb"] = round(found["browser_bytes"] / 1024, 1)
    figures["flag_page_kb"] = round(found["flag_bytes"] / 1024, 1)
    server_side = ("flags_page", "flags_page_sorted", "flags_page_filtered", "flags_page_after_change")
    targets = (
        all(figures[f"{key}_p99_ms"] <= 300 for key in server_side)
        and figures["flag_page_p99_ms"] <= 100
        and figures["flags_page_browser_load_p99_ms"] <= 1000
        and figures["flags_page_kb"] <= 100
    )
    figures |= {
        "flags": flags,
        "environments": environments,
        "changes": changes,
        "rounds": rounds,
        "browser_rounds": browser_rounds,
        "targets_met": targets,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flags", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=1_000, help="changes of the one busy flag")
    parser.add_argument("--rounds", type=int, default=30, help="requests of each page over HTTP")
    parser.add_argument("--browser-rounds", type=int, default=30, help="loads of the flags page in Chromium")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.flags, arguments.changes, arguments.rounds, arguments.browser_rounds))
