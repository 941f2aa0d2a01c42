"""Worker scaling of `chatops serve --workers N` (not a timed test).

bench/bot.py drives the bot from Python, whose load generator and Slack stub need about half a
core themselves; on a 2-core machine that caps what a second worker can show. Here the load
comes from wrk (C) replaying one signed `feature get` (its timestamp stays valid for 5 minutes),
and Slack is a minimal asyncio HTTP sink that answers every Web API call and response_url post.
Throughput is commands *completed* (answers received by the sink) per second, not acks.
Needs wrk (apt-get install wrk). Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.conftest import FLAG, SIGNING_SECRET, signed_headers, write_config  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

# Bolt answers a request only after its ack poll (every 10 ms), so 16 connections cap a server
# near 1,300 requests/s whatever its CPU: enough connections are needed to measure capacity.
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
AUTH = json.dumps(
    {
        "ok": True,
        "url": "https://t.slack.com/",
        "team": "T",
        "user": "bot",
        "team_id": "T0",
        "user_id": "U0BOT",
        "bot_id": "B0BOT",
    }
).encode()


class Sink:
    """Answers any HTTP request with a Slack-like OK; counts answered response_url posts."""

    def __init__(self) -> None:
        self.answers = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                if head.startswith(b"POST /respond/"):
                    self.answers += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(AUTH), AUTH)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the bot went away, or the benchmark is over


def wrk_script(path: Path, url_base: str) -> Path:
    body = urlencode(
        {
            "token": "x",
            "team_id": "T0",
            "channel_id": "C0DEV",
            "channel_name": "development",
            "user_id": "U0SRE",
            "user_name": "sre",
            "command": "/chatops",
            "text": f"run feature get {FLAG} --staging",
            "response_url": f"{url_base}/respond/1",
            "trigger_id": "t",
            "api_app_id": "A0",
        }
    )
    headers = signed_headers(body)
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script = path / "slash.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


async def run(workers: int, seconds: int, work: Path, sink: Sink, sink_url: str, redis_url: str) -> float:
    prefix = f"bench-scaling:{uuid.uuid4().hex[:8]}:"
    config = write_config(work, redis_url or None, prefix)  # None: the embedded Redis server
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{sink_url}/api/",
    }
    server = subprocess.Popen(
        serve_command(config, port, "--workers", str(workers), log_level="warning"),
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            done = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/healthz"],
                capture_output=True,
                text=True,
            )
            if done.stdout == "200":
                break
            await asyncio.sleep(0.1)
        script = wrk_script(work, sink_url)
        url = f"http://127.0.0.1:{port}/slack/events"
        warm = await asyncio.create_subprocess_exec(
            "wrk", "-t1", "-c8", "-d2s", "-s", str(script), url, stdout=asyncio.subprocess.DEVNULL
        )
        await warm.wait()
        await asyncio.sleep(1)
        start_count, started = sink.answers, time.perf_counter()
        load = await asyncio.create_subprocess_exec(
            "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), url, stdout=asyncio.subprocess.PIPE
        )
        await load.communicate()
        # Commands still being worked on when wrk stops are counted when answered (bounded wait).
        last, quiet_since = sink.answers, time.perf_counter()
        while time.perf_counter() - quiet_since < 0.5 and time.perf_counter() - started < seconds + 10:
            await asyncio.sleep(0.05)
            if sink.answers != last:
                last, quiet_since = sink.answers, time.perf_counter()
        completed = sink.answers - start_count
        return completed / (quiet_since - started)
    finally:
        server.terminate()
        server.wait(timeout=30)


async def measure_scaling(seconds: int = 10) -> dict[str, float]:
    """Commands completed per second with 1 and 2 workers, and their ratio."""
    if not shutil.which("wrk"):
        sys.exit("measuring worker scaling needs wrk: apt-get install wrk")
    sink = Sink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    sink_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    redis_url = os.environ.get("REDIS_URL", "")
    results = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as work:
            results[workers] = await run(workers, seconds, Path(work), sink, sink_url, redis_url)
        print(
            f"{workers} worker(s): {results[workers]:7.0f} commands completed/s (feature get, wrk, {CONNECTIONS} connections)"
        )
    server.close()
    print(f"scaling: {results[2] / results[1]:.2f}x on {os.cpu_count()} cores")
    return {
        "workers_1_rps": round(results[1], 1),
        "workers_2_rps": round(results[2], 1),
        "scaling_2_vs_1": round(results[2] / results[1], 2),
    }


async def main() -> None:
    print(json.dumps(await measure_scaling(int(os.environ.get("SECONDS_PER_RUN", "10")))))


if __name__ == "__main__":
    asyncio.run(main())
