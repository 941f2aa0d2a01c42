"""Bursts, steady load and slow peers against `chatops serve` (1 worker; not a timed test).

Starts `chatops serve` against a local Slack stub (bench/bot.py's TimedStub, also checking that
each answer is a success), then:

  burst:     400 distinct signed `feature get` requests sent at once, each on a fresh connection;
             errors = non-200 acks + answers missing or not a success after 30 s; the last
             answer's time is counted from the first send.
  steady:    200 commands/s for --seconds, paced by a schedule (not a closed loop): half
             `feature get`, half `feature set NAME true|false --staging` (each a change), over 20 flags; latency from
             the scheduled send to the stub receiving the answer on response_url.
  slowloris: 500 idle TCP connections; seconds until the server's open file descriptors are back
             near their baseline (capped at 90 s).

Every request is distinct and signed. Prints readable lines, then one JSON object.
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
import psutil  # type: ignore[import-untyped]
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import TimedStub, pct, serve_environment, start  # noqa: E402
from tests.bot.conftest import FLAG, BotUnderTest, signed_headers, wait_healthy, write_config  # noqa: E402
from tests.bot.slack_stub import message_text  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402

BURST = 400
BURST_WAIT_S = 30.0
RATE = 200  # commands per second in the steady phase
STEADY_WAIT_S = 10.0  # an answer later than this counts as missing
FLAGS = 20
SLOWLORIS = 500
SLOWLORIS_CAP_S = 90.0
NEAR_BASELINE = 10  # file descriptors above the baseline still counted as "back"
CHANNEL = "#development"  # where --staging may be changed (the example configuration)


class CheckingStub(TimedStub):
    """TimedStub that also records whether each answer was a success (shown in the channel)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, tuple[bool, str]] = {}

    async def _respond(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        response_id = request.match_info["id"]
        try:
            message = json.loads(await request.read())
            ok = message.get("response_type") == "in_channel"
            text = message_text(message)[:600]
        except ValueError:
            ok, text = False, "not JSON"
        self.outcomes.setdefault(response_id, (ok, text))
        future = self.waiting.pop(response_id, None)
        if future is not None and not future.done():
            future.set_result(arrived)
        return web.Response(text="ok")


def flag_definitions(directory: Path) -> list[str]:
    """FLAGS definitions (copies of the example's, renamed): a `set` needs a defined flag."""
    template = (ROOT / "deploy" / "feature_flags" / f"{FLAG}.yml").read_text()
    directory.mkdir()
    names = [f"burst_flag_{n:02d}" for n in range(FLAGS)]
    for name in names:
        (directory / f"{name}.yml").write_text(template.replace(f"name: {FLAG}", f"name: {name}"))
    return names


async def send(
    session: aiohttp.ClientSession, url: str, helper: BotUnderTest, stub: CheckingStub, text: str
) -> tuple[int, str, asyncio.Future[float]]:
    body, response_id = helper.form(text, "U0SRE", CHANNEL)
    answered = stub.expect(response_id)
    try:
        async with session.post(f"{url}/slack/events", data=body, headers=signed_headers(body)) as response:
            await response.read()
            return response.status, response_id, answered
    except (aiohttp.ClientError, OSError):
        return 0, response_id, answered


async def burst(url: str, stub: CheckingStub, helper: BotUnderTest) -> dict[str, Any]:
    # A fresh connection for each request, all at once.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        first_send = time.perf_counter()

        async def timed() -> tuple[int, str, asyncio.Future[float], float]:
            sent = await send(session, url, helper, stub, f"run feature get {FLAG} --staging")
            return (*sent, time.perf_counter() - first_send)

        results = await asyncio.gather(*(timed() for _ in range(BURST)))
        acks = [ack for *_, ack in results]
        sent = [(status, response_id, answered) for status, response_id, answered, _ in results]
        acked = max(acks)
        errors, last = 0, 0.0
        for status, response_id, answered in sent:
            if status != 200:
                errors += 1
                answered.cancel()
                continue
            try:
                arrived = await asyncio.wait_for(answered, max(0.0, first_send + BURST_WAIT_S - time.perf_counter()))
            except TimeoutError:
                errors += 1
                continue
            last = max(last, arrived - first_send)
            if not stub.outcomes[response_id][0]:
                errors += 1
    print(
        f"burst:     {BURST} at once: acks p50 {statistics.median(acks):.2f} s, all acked in {acked:.2f} s, "
        f"last answer {last:.2f} s; errors {errors}"
    )
    return {"burst_400_errors": errors, "burst_400_last_answer_s": round(last, 2)}


async def steady(
    url: str, stub: CheckingStub, helper: BotUnderTest, names: list[str], seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    failures: list[str] = []
    total = int(RATE * seconds)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(n: int, scheduled: float) -> None:
            nonlocal errors
            name = names[(n // 2) % FLAGS]
            value = "false" if (n // 2 // FLAGS) % 2 == 0 else "true"  # each set a change: warmed up true
            text = f"run feature get {name} --staging" if n % 2 else f"run feature set {name} {value} --staging"
            status, response_id, answered = await send(session, url, helper, stub, text)
            if status != 200:
                errors += 1
                failures.append(f"ack {status}")
                answered.cancel()
                return
            try:
                arrived = await asyncio.wait_for(answered, STEADY_WAIT_S)
            except TimeoutError:
                errors += 1
                failures.append("no answer")
                return
            ok, said = stub.outcomes[response_id]
            if not ok:
                errors += 1
                failures.append(said)
                return
            latencies.append((arrived - scheduled) * 1000)

        began = time.perf_counter() + 0.1
        tasks = []
        late = 0.0
        for n in range(total):
            scheduled = began + n / RATE
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            tasks.append(asyncio.create_task(one(n, scheduled)))
        await asyncio.gather(*tasks)
    p50, p99 = statistics.median(latencies), pct(latencies, 99)
    print(
        f"steady:    {RATE}/s for {seconds:.0f} s ({total} commands, half get, half set over {FLAGS} flags): "
        f"answer p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms; errors {errors}; "
        f"scheduler at most {late * 1000:.1f} ms late"
    )
    if failures:
        print(f"           first failures: {failures[:3]}")
    return {
        "steady_200_rps_errors": errors,
        "steady_200_rps_answer_p50_ms": round(p50, 1),
        "steady_200_rps_answer_p99_ms": round(p99, 1),
    }


async def slowloris(port: int, server: psutil.Process) -> dict[str, Any]:
    baseline = server.num_fds()
    writers = []
    for _ in range(SLOWLORIS):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
    opened = time.perf_counter()
    peak, back = server.num_fds(), SLOWLORIS_CAP_S
    while (elapsed := time.perf_counter() - opened) < SLOWLORIS_CAP_S:
        fds = server.num_fds()
        peak = max(peak, fds)
        if fds <= baseline + NEAR_BASELINE:
            back = elapsed
            break
        await asyncio.sleep(0.1)
    for writer in writers:
        writer.close()
    reached = "" if back < SLOWLORIS_CAP_S else " (cap: not back)"
    print(
        f"slowloris: {SLOWLORIS} idle connections: fds {baseline} -> peak {peak}, "
        f"back near baseline after {back:.1f} s{reached}"
    )
    return {"slowloris_500_fds_after_s": round(back, 1), "slowloris_500_fds_peak": peak, "fds_baseline": baseline}


async def main(seconds: float) -> None:
    stub = CheckingStub()
    await stub.start()
    work = Path(tempfile.mkdtemp(prefix="chatops-burst-"))
    names = flag_definitions(work / "feature_flags")
    redis_url = os.environ.get("REDIS_URL", "")
    prefix = f"bench-burst:{uuid.uuid4().hex[:8]}:"
    definitions = [str(work / "feature_flags"), str(ROOT / "deploy" / "feature_flags")]
    config = write_config(work, redis_url or None, prefix, definitions=definitions)  # None: embedded Redis
    env = serve_environment(stub.url)
    port = free_port()
    bot = start(serve_command(config, port, log_level="warning"), env, work)
    url = f"http://127.0.0.1:{port}"
    print(f"redis: {redis_url or 'embedded'}; 1 worker; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            helper = BotUnderTest(url, stub, prefix, None, session)  # type: ignore[arg-type]
            for name in names:  # warm up, and every flag exists
                status, response_id, answered = await send(
                    session, url, helper, stub, f"run feature set {name} true --staging"
                )
                await asyncio.wait_for(answered, 10)
                if status != 200 or not stub.outcomes[response_id][0]:
                    raise RuntimeError(f"warm-up `feature set {name}` failed: {status} {stub.outcomes[response_id]}")
        server = psutil.Process(bot.pid)
        results.update(await burst(url, stub, helper))
        results.update(await steady(url, stub, helper, names, seconds))
        results.update(await slowloris(port, server))
    finally:
        bot.terminate()
        bot.wait(timeout=30)
        await stub.stop()
        if redis_url:
            delete_prefixed(redis_url, prefix)
    targets = {
        "burst_400_errors": results["burst_400_errors"] == 0,
        "burst_400_last_answer_s": results["burst_400_last_answer_s"] <= 3,
        "steady_200_rps_errors": results["steady_200_rps_errors"] == 0,
        "steady_200_rps_answer_p99_ms": results["steady_200_rps_answer_p99_ms"] <= 300,
        "slowloris_500_fds_after_s": results["slowloris_500_fds_after_s"] <= 30,
    }
    print("targets:   " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets.items()))
    print(json.dumps({**results, "seconds": seconds, "workers": 1, "targets_met": all(targets.values())}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the steady phase (default 60)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds))
