"""Approvals against `chatops serve` (not a timed test): from a signed Approve click to the change
written, with the production check on (a local HTTP check), --rounds times.

Prints readable lines, then one JSON object.
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
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import pct, serve_environment, start  # noqa: E402
from bench.rollouts import Announcements  # noqa: E402
from flags import resolve_redis_url  # noqa: E402
from tests.bot.conftest import CHANNELS, SRE, BotUnderTest, signed_headers, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import SlackStub  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["sre"]}},
    {"environments": ["*"], "anyone": True},
]


async def check_server() -> tuple[web.AppRunner, str]:
    async def safe(request: web.Request) -> web.Response:
        return web.json_response({"safe": True, "reasons": []})

    app = web.Application()
    app.router.add_get("/check", safe)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/check"


async def click(bot: BotUnderTest, request_id: str) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ONCALL", "username": "oncall"},
        "channel": {"id": "C0PROD", "name": "production"},
        "response_url": f"{bot.slack.url}/respond/{uuid.uuid4().hex}",
        "trigger_id": uuid.uuid4().hex,
        "actions": [{"action_id": "approve", "block_id": "b1", "value": request_id, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=signed_headers(body)) as response:
        await response.read()


async def main(rounds: int) -> None:
    stub = SlackStub(channels=dict(CHANNELS), usergroups={"sre": SRE})
    await stub.start()
    checks, check_url = await check_server()
    work = Path(tempfile.mkdtemp(prefix="chatops-approvals-"))
    redis_url = os.environ.get("REDIS_URL", "") or resolve_redis_url(None, work / ".chatops")
    prefix = f"bench-approvals:{uuid.uuid4().hex[:8]}:"
    safety = {"production_check": {"timeout": 5, "http": [check_url]}}
    config = write_config(work, redis_url, prefix, definitions=[], access=ACCESS, safety=safety)
    port = free_port()
    server = start(serve_command(config, port, log_level="warning"), serve_environment(stub.url), work)
    client = aioredis.from_url(redis_url, decode_responses=True)
    writes = Announcements(client, f"{prefix}gprd:chatops:changes")
    await writes.start()
    print(f"redis: {redis_url}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(session, url)
            bot = BotUnderTest(url, stub, prefix, client, session)
            for i in range(rounds):
                flag = f"bench_approval_{i}"
                _, text = await bot.text(
                    f"run feature set {flag} true --production --ignore-feature-flag-consistency-check"
                )
                request_id = text.split("*")[1]  # "… (expires in 30 min): *A3*. …"
                sent = time.perf_counter()
                await click(bot, request_id)
                latencies.append((await writes.nth(flag, 1) - sent) * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)
        await checks.cleanup()
        await stub.stop()
        await client.aclose()
        delete_prefixed(redis_url, prefix)
    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    print(f"approve:   click → change written (production check on): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    met = p99 <= 100
    print(f"targets:   approve_to_applied_p99_ms {'met' if met else 'MISSED'}")
    print(
        json.dumps(
            {
                "approve_to_applied_p50_ms": round(p50, 1),
                "approve_to_applied_p99_ms": round(p99, 1),
                "rounds": rounds,
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50, help="approvals (default 50)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds))
