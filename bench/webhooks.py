"""Outgoing webhooks against `chatops serve` processes: latency, throughput, and nothing lost or
doubled over kill -9 (not a timed test).

Starts a local Slack stub (bench/bot.py's), the real HTTP receivers of tests/webhook_receivers.py
(a webhook `bench` → /dedupe: it answers 200 and records each idempotency key's first delivery,
counting every delivery) and `chatops serve` (one worker, the driver's lease: it delivers), then:

  latency:     --changes changes, each a distinct signed `feature set NAME true|false --staging`,
               paced at 20/s over 20 flags; from the change written (its audit entry's id: Redis's
               clock at the write) to the receiver's arrival (the same machine's clock).
  outbox:      --events events written straight into the outbox (Outbox.add, 32 at a time), over
               100 flags: delivery alone, without command handling; events/s = events / (first
               write → last arrival). Then --events / 5 events of ONE flag (sent one at a time, in
               order). Every first arrival is checked against the outbox's order per flag.
  commands:    --commands `feature set --staging` commands from 16 connections, as Slack sends
               them, each connection toggling a flag of its own and waiting for the answer (so that
               each is a change): events/s end to end (bounded by the bot's command handling).
  kill -9:     --kills times, while a stream of changes flows (20/s, to every process that answers):
               SIGKILL the process holding the lease at a random moment, by turns as it writes and
               delivers a burst of 10 changes sent to it, and at once after it took the lease over
               (as it sends what was queued while the lease was free); start a new standby (two run
               at once: one waits for the lease, ~4 s); wait for the next holder. At the end (once
               recovery of the last victim's changes is due) every change written (the staging audit
               stream) must have reached the receiver: lost = written - received, split into those
               that reached the outbox (the delivery's) and those never told. Repeats are counted raw
               (at least once: a kill between a send and its record repeats it) and after the dedupe
               receiver (what it let through twice: must be 0).

Prints readable lines, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bot import TimedStub, pct, serve_environment  # noqa: E402
from flags.embedded import EmbeddedRedis  # noqa: E402
from handlers.changes.recovery import RECOVERY_INTERVAL_S  # noqa: E402
from handlers.config import load_config  # noqa: E402
from handlers.core.caller import Caller  # noqa: E402
from handlers.core.events import event  # noqa: E402
from handlers.core.journal import JOURNAL_LEASE_S  # noqa: E402
from handlers.core.outbox import Outbox  # noqa: E402
from tests.bot.conftest import FLAG, BotUnderTest, signed_headers, wait_healthy, write_config  # noqa: E402
from tests.configs import serve_command  # noqa: E402
from tests.helpers import delete_prefixed  # noqa: E402
from tests.redis_process import free_port  # noqa: E402
from tests.webhook_receivers import Receivers  # noqa: E402

FLAGS = 20  # flags the commands change
OUTBOX_FLAGS = 100  # flags of the events written straight into the outbox
PACE_PER_S = 20.0  # changes per second, latency phase and the kill phase's stream
CONNECTIONS = 16  # the commands phase
KILL_BURST = 10  # changes sent to the holder just before it is killed
SETTLE_S = 60.0  # how long the end of a phase waits for its events
CHANNEL = "#development"  # where --staging may be changed (the example configuration)
HOOK = {"name": "bench", "max_attempts": 100, "backoff_seconds": 0.05, "max_backoff_seconds": 0.5}  # concurrency 4


class Arrivals:
    """The receiver's first deliveries, by event id (read incrementally from what it recorded)."""

    def __init__(self, receivers: Receivers) -> None:
        self.receivers = receivers
        self.at: dict[str, float] = {}
        self.order: list[str] = []
        self._read = 0

    def update(self) -> dict[str, float]:
        received = self.receivers.received
        for item in received[self._read :]:
            self.at.setdefault(item.body["id"], item.at)
            self.order.append(item.body["id"])
        self._read = len(received)
        return self.at

    async def wait_all(self, ids: Iterable[str], timeout: float) -> set[str]:
        """Wait until every id arrived (or ``timeout``); those that did not."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while (missing := wanted - self.update().keys()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return missing


class Fleet:
    """`chatops serve` processes on one configuration, each logging to its own file."""

    def __init__(self, config: Path, env: dict[str, str], work: Path, redis: aioredis.Redis, prefix: str) -> None:
        self.config, self.env, self.work, self.redis, self.prefix = config, env, work, redis, prefix
        self.live: dict[int, tuple[subprocess.Popen[bytes], str]] = {}  # pid → process, URL
        self.ready: set[int] = set()  # those that answered /health (commands go to them)
        self.started = 0
        self.killed_at = 0.0
        self.before_kill: Callable[[], None] | None = None  # called just before each kill

    def spawn(self) -> int:
        port = free_port()
        self.started += 1
        log = (self.work / f"serve-{self.started}.log").open("wb")
        command = serve_command(self.config, port, log_level="warning")
        process = subprocess.Popen(command, env=self.env, cwd=self.work, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.live[process.pid] = (process, f"http://127.0.0.1:{port}")
        return process.pid

    async def healthy(self, session: aiohttp.ClientSession) -> None:
        for pid, (_, url) in list(self.live.items()):
            await wait_healthy(session, url)
            self.ready.add(pid)

    async def holder(self, other_than: int | None = None, timeout: float = 20.0) -> int:
        """The pid of the live process holding the driver's lease (not ``other_than``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            held = await self.redis.get(f"{self.prefix}chatops:driver")
            if held:
                pid = int(str(held).split(" ", 1)[1].split(":")[1])
                if pid != other_than and pid in self.live:
                    return pid
            await asyncio.sleep(0.05)
        raise RuntimeError(f"no process took the lease within {timeout:.0f} s (logs: {self.work})")

    def kill(self, pid: int) -> None:
        self.killed_at = time.perf_counter()
        if self.before_kill is not None:
            self.before_kill()
        process, _ = self.live.pop(pid)
        self.ready.discard(pid)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def urls(self) -> list[str]:
        return [url for pid, (_, url) in self.live.items() if pid in self.ready]

    def stop(self) -> None:
        for process, _ in self.live.values():
            process.terminate()
        for process, _ in self.live.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.live.clear()


class Commands:
    """Distinct signed `feature set NAME true|false --staging` commands, each flag toggled in turn."""

    def __init__(self, session: aiohttp.ClientSession, stub: TimedStub, names: list[str]) -> None:
        self.session, self.names = session, names
        self.helper = BotUnderTest("", stub, "", None, session)  # type: ignore[arg-type]
        self.sent = Counter[str]()
        self.acked = self.failed = 0

    async def set(self, url: str, name: str | None = None, answered: TimedStub | None = None) -> bool:
        """Send one change of ``name`` (the next flag in turn when None); whether it was acked (and,
        with ``answered``, the stub, answered within 10 s)."""
        name = name or self.names[sum(self.sent.values()) % len(self.names)]
        self.sent[name] += 1
        value = "true" if self.sent[name] % 2 else "false"
        body, response_id = self.helper.form(f"run feature set {name} {value} --staging", "U0SRE", CHANNEL)
        answer = answered.expect(response_id) if answered is not None else None
        try:
            async with self.session.post(f"{url}/slack/events", data=body, headers=signed_headers(body)) as response:
                await response.read()
                ok = response.status == 200
            if ok and answer is not None:
                await asyncio.wait_for(answer, 10)
        except (aiohttp.ClientError, OSError, TimeoutError):
            ok = False
        self.acked += ok
        self.failed += not ok
        return ok


class Audit:
    """The staging environment's audit stream: every change written there, in order."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis, self.key, self.mark = redis, f"{prefix}gstg:chatops:audit", "0-0"
        self.commands: dict[str, str] = {}  # event id → the command that wrote it

    async def since_mark(self) -> list[str]:
        """Event ids of the changes written since the last ``since_mark`` (the mark moves on)."""
        entries = await self.redis.xrange(self.key, f"({self.mark}", "+")
        if entries:
            self.mark = entries[-1][0]
        ids = [f"change:staging:{fields['entry']}" for _, fields in entries]
        self.commands.update(zip(ids, (fields.get("command", "") for _, fields in entries), strict=True))
        return ids


def written_ms(event_id: str) -> int:
    """The moment a change was written: its audit entry id's milliseconds (``change:staging:MS-SEQ``)."""
    return int(event_id.rsplit(":", 1)[1].split("-")[0])


class OutboxLog:
    """The outbox's events, read incrementally: their ids, and per flag in the outbox's order (the
    order delivery keeps per flag)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis, self.key, self.mark = redis, f"{prefix}chatops:outbox", "-"
        self.ids: set[str] = set()
        self.order: dict[str, list[str]] = {}

    async def update(self) -> set[str]:
        while entries := await self.redis.xrange(self.key, self.mark, "+", count=5000):
            for _, fields in entries:
                body = json.loads(fields["event"])
                self.ids.add(body["id"])
                self.order.setdefault(str(body.get("flag")), []).append(body["id"])
            self.mark = "(" + entries[-1][0]
        return self.ids


def out_of_order(arrivals: Arrivals, order: dict[str, list[str]]) -> int:
    """First arrivals of a flag's events that came before an earlier event of that flag."""
    position = {event_id: n for ids in order.values() for n, event_id in enumerate(ids)}
    flag_of = {event_id: flag for flag, ids in order.items() for event_id in ids}
    latest: dict[str, int] = {}
    wrong = 0
    arrivals.update()
    seen: set[str] = set()
    for event_id in arrivals.order:
        if event_id in seen or event_id not in position:
            continue
        seen.add(event_id)
        flag = flag_of[event_id]
        if position[event_id] < latest.get(flag, -1):
            wrong += 1
        latest[flag] = max(latest.get(flag, -1), position[event_id])
    return wrong


def flag_definitions(directory: Path) -> list[str]:
    """FLAGS definitions (copies of the example's, renamed): a `set` needs a defined flag."""
    template = (ROOT / "deploy" / "feature_flags" / f"{FLAG}.yml").read_text()
    directory.mkdir()
    names = [f"hook_flag_{n:02d}" for n in range(FLAGS)]
    for name in names:
        (directory / f"{name}.yml").write_text(template.replace(f"name: {FLAG}", f"name: {name}"))
    return names


async def written(audit: Audit, count: int, timeout: float = 10.0) -> list[str]:
    """The changes written since the mark, waiting (up to ``timeout``) until there are ``count``."""
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    while len(ids) < count and time.monotonic() < deadline:
        ids += await audit.since_mark()
        await asyncio.sleep(0.05)
    return ids


def latencies(arrivals: Arrivals, ids: list[str]) -> tuple[list[float], list[float]]:
    """Per delivered change, milliseconds to its first arrival: from the write, and from its telling."""
    from_write = [arrivals.at[i] * 1000 - written_ms(i) for i in ids if i in arrivals.at]
    told = {r.body["id"]: r.body["time_ms"] for r in arrivals.receivers.received}
    from_told = [arrivals.at[i] * 1000 - told[i] for i in ids if i in arrivals.at]
    return from_write, from_told


async def latency(commands: Commands, url: str, audit: Audit, arrivals: Arrivals, count: int) -> dict[str, Any]:
    began = time.perf_counter() + 0.05
    tasks = []
    for n in range(count):
        await asyncio.sleep(max(0.0, began + n / PACE_PER_S - time.perf_counter()))
        tasks.append(asyncio.create_task(commands.set(url)))
    await asyncio.gather(*tasks)
    ids = await written(audit, count)
    missing = await arrivals.wait_all(ids, SETTLE_S)
    from_write, from_told = latencies(arrivals, ids)
    p50, p99 = statistics.median(from_write), pct(from_write, 99)
    print(
        f"latency:   {len(ids)} changes at {PACE_PER_S:.0f}/s over {FLAGS} flags, written → received: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(from_write):.1f} ms (from the event's time_ms: "
        f"p99 {pct(from_told, 99):.1f} ms); not received {len(missing)}"
    )
    return {
        "delivery_p50_ms": round(p50, 1),
        "delivery_p99_ms": round(p99, 1),
        "delivery_from_told_p99_ms": round(pct(from_told, 99), 1),
        "latency_changes": len(ids),
        "latency_missing": len(missing),
    }


async def outbox_burst(outbox: Outbox, config: Path, arrivals: Arrivals, count: int, flags: int) -> dict[str, Any]:
    """``count`` events over ``flags`` flags written straight into the outbox; how fast they arrive."""
    staging = next(e for e in load_config(config).environments if e.option == "staging")
    caller = Caller("U0BENCH", "bench", "C0DEV", "development")
    run = uuid.uuid4().hex[:6]
    events = [
        event(
            "change",
            f"bench-{run}-{n:06d}",
            staging,
            caller,
            flag=f"outbox_flag_{run}_{n % flags:03d}",
            before="off" if n // flags % 2 == 0 else "on",
            after="on" if n // flags % 2 == 0 else "off",
            command="(written straight into the outbox by bench/webhooks.py)",
        )
        for n in range(count)
    ]
    began = time.time()
    for start in range(0, count, 32):
        await asyncio.gather(*(outbox.add(e) for e in events[start : start + 32]))
    writing = time.time() - began
    ids = [e["id"] for e in events]
    missing = await arrivals.wait_all(ids, SETTLE_S + count / 100)
    last = max(arrivals.at[i] for i in ids if i in arrivals.at)
    rate = (count - len(missing)) / (last - began)
    print(
        f"outbox:    {count} events over {flags} flag(s) written in {writing:.2f} s, all received after "
        f"{last - began:.2f} s: {rate:.0f} events/s; not received {len(missing)}"
    )
    return {"rate": round(rate, 1), "missing": len(missing)}


async def command_burst(
    commands: Commands, stub: TimedStub, url: str, audit: Audit, arrivals: Arrivals, count: int
) -> dict[str, Any]:
    """``count`` changes from CONNECTIONS connections, each toggling a flag of its own and waiting for
    the answer before the next (so that each is a change); how fast their events arrive."""
    began = time.time()
    left = iter(range(count))

    async def worker(name: str) -> None:
        for _ in left:
            await commands.set(url, name, stub)

    await asyncio.gather(*(worker(name) for name in commands.names[:CONNECTIONS]))
    answered = time.time() - began
    ids = await written(audit, count, timeout=30)
    missing = await arrivals.wait_all(ids, SETTLE_S)
    last = max(arrivals.at[i] for i in ids if i in arrivals.at)
    rate = (len(ids) - len(missing)) / (last - began)
    print(
        f"commands:  {count} `feature set --staging` from {CONNECTIONS} connections (answered in {answered:.2f} s), "
        f"{len(ids)} changes written, all received after {last - began:.2f} s: {rate:.0f} events/s end to end; "
        f"not received {len(missing)}"
    )
    return {"events_per_s_via_commands": round(rate, 1), "commands_missing": len(missing)}


class Stream:
    """Changes at PACE_PER_S, each to the next live process in turn, until stopped."""

    def __init__(self, commands: Commands, fleet: Fleet) -> None:
        self.commands, self.fleet = commands, fleet
        self.tasks: set[asyncio.Task[bool]] = set()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        began, n = time.perf_counter(), 0
        while not self._stop.is_set():
            urls = self.fleet.urls()
            if urls:  # (none for a moment when the holder was killed before the new standby answered)
                self.send(urls[n % len(urls)])
            n += 1
            await asyncio.sleep(max(0.0, began + n / PACE_PER_S - time.perf_counter()))

    def send(self, url: str) -> None:
        task = asyncio.create_task(self.commands.set(url))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        self._stop.set()
        await self._task
        await asyncio.gather(*self.tasks)


async def kill_once(
    fleet: Fleet, stream: Stream, session: aiohttp.ClientSession, rng: random.Random, backlog: bool
) -> None:
    """Kill the holder at a random moment: with ``backlog``, soon after it took over (as it sends what
    was queued while the lease was free); else as it writes and delivers a burst of changes sent to
    it. Start a standby; wait for the next holder."""
    if backlog:
        await asyncio.sleep(rng.uniform(0.0, 0.6))  # it looks for the lease's token every 0.5 s
    else:
        await fleet.healthy(session)  # the standby is up, waiting for the lease
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        for _ in range(KILL_BURST):
            stream.send(fleet.live[await fleet.holder()][1])
        await asyncio.sleep(rng.uniform(0.0, 0.05))
    victim = await fleet.holder()
    fleet.kill(victim)
    fleet.spawn()
    await fleet.holder(other_than=victim)


async def keep_reading(told: OutboxLog, stop: asyncio.Event) -> None:
    """Keep ``told`` up to date (every 20 ms) until ``stop``: what is undelivered at a kill is known at once."""
    while not stop.is_set():
        await told.update()
        await asyncio.sleep(0.02)


async def settle(audit: Audit, arrivals: Arrivals, told: OutboxLog, not_before: float) -> tuple[list[str], set[str]]:
    """Every change written since the mark, once no recovery can tell more (``not_before``, monotonic)
    and every event in the outbox arrived (or SETTLE_S passed); those that did not arrive."""
    ids: list[str] = []
    deadline = not_before + SETTLE_S
    while time.monotonic() < deadline:
        ids += await audit.since_mark()
        if time.monotonic() >= not_before and not await told.update() - arrivals.update().keys():
            break
        await asyncio.sleep(0.2)
    return ids, set(ids) - arrivals.update().keys()


async def explain(redis: aioredis.Redis, prefix: str, audit: Audit, told: OutboxLog, missing: set[str]) -> int:
    """Where each change that never arrived got to (the outbox, the receiver's queue, its dead letters);
    how many of them never reached the outbox (written, then never told)."""
    in_outbox = await told.update()
    state = f"{prefix}chatops:webhook:bench:"
    queued = set(await redis.hkeys(state + "events"))
    dead = " ".join(await redis.lrange(state + "dead", 0, -1))
    for event_id in sorted(missing):
        print(
            f"           not received: {event_id} ({audit.commands.get(event_id, '?')}): in the outbox "
            f"{event_id in in_outbox}, queued {any(event_id in e for e in queued)}, dead {event_id in dead}"
        )
    return len(missing - in_outbox)


async def kills(
    fleet: Fleet,
    session: aiohttp.ClientSession,
    commands: Commands,
    audit: Audit,
    arrivals: Arrivals,
    told: OutboxLog,
    count: int,
) -> dict[str, Any]:
    rng = random.Random(int(os.environ.get("BENCH_SEED", "0")) or None)
    fleet.spawn()  # a standby
    failed_before = commands.failed
    stream = Stream(commands, fleet)
    undelivered: list[int] = []  # events in the outbox not received yet, at each kill
    fleet.before_kill = lambda: undelivered.append(len(told.ids - arrivals.update().keys()))
    reading_stop = asyncio.Event()
    reading = asyncio.create_task(keep_reading(told, reading_stop))
    takeovers: list[float] = []
    for n in range(count):
        await kill_once(fleet, stream, session, rng, backlog=n % 2 == 1)
        takeovers.append(time.perf_counter() - fleet.killed_at)
        print(
            f"kill -9:   {n + 1}/{count}: {undelivered[-1]} event(s) not delivered yet; "
            f"next holder in {takeovers[-1]:.1f} s"
        )
    reading_stop.set()
    await reading
    await stream.stop()
    recovered = time.monotonic() + JOURNAL_LEASE_S + RECOVERY_INTERVAL_S + 1  # the last victim's changes told
    ids, missing = await settle(audit, arrivals, told, recovered)
    never_told = await explain(fleet.redis, fleet.prefix, audit, told, missing)
    raw = sum(arrivals.receivers.seen_keys[i] - 1 for i in ids if arrivals.receivers.seen_keys[i] > 1)
    print(
        f"kill -9:   {count} kills, {len(ids)} changes written ({commands.failed - failed_before} commands not "
        f"acked: sent to a process being killed); lost {len(missing)} ({never_told} never reached the outbox); "
        f"raw repeats {raw}; events not delivered yet at the kills: median {statistics.median(undelivered):.0f}, "
        f"max {max(undelivered)}"
    )
    return {
        "lost_after_kill9": len(missing),
        "lost_after_kill9_from_outbox": len(missing) - never_told,
        "lost_after_kill9_never_told": never_told,
        "kills": count,
        "changes_during_kills": len(ids),
        "repeat_deliveries_raw": raw,
        "undelivered_at_kill_median": statistics.median(undelivered),
        "kills_with_events_undelivered": sum(1 for u in undelivered if u > 0),
        "takeover_p50_s": round(statistics.median(takeovers), 1),
    }


def through_dedupe(receivers: Receivers) -> int:
    """Events the dedupe receiver let through more than once (it must let each through once)."""
    return sum(n - 1 for n in Counter(r.body["id"] for r in receivers.received).values() if n > 1)


async def measure(arguments: argparse.Namespace, work: Path, redis_url: str, stub: TimedStub) -> dict[str, Any]:
    receivers = await Receivers().start()
    prefix = f"bench-webhooks:{uuid.uuid4().hex[:8]}:"
    names = flag_definitions(work / "feature_flags")
    definitions = [str(work / "feature_flags"), str(ROOT / "deploy" / "feature_flags")]
    hook = {**HOOK, "url": f"{receivers.url}/dedupe"}
    config = write_config(work, redis_url, prefix, definitions=definitions, webhooks=[hook])
    redis = aioredis.from_url(redis_url, decode_responses=True)
    fleet = Fleet(config, serve_environment(stub.url), work, redis, prefix)
    arrivals, audit = Arrivals(receivers), Audit(redis, prefix)
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            fleet.spawn()
            await fleet.healthy(session)
            url = fleet.urls()[0]
            await fleet.holder()
            commands = Commands(session, stub, names)
            for name in names:  # warm up: every flag exists (and their events are delivered)
                await commands.set(url, name)
            await arrivals.wait_all(await written(audit, len(names)), SETTLE_S)
            results.update(await latency(commands, url, audit, arrivals, arguments.changes))
            outbox = Outbox(redis, prefix)
            many = await outbox_burst(outbox, config, arrivals, arguments.events, OUTBOX_FLAGS)
            one = await outbox_burst(outbox, config, arrivals, max(1, arguments.events // 5), 1)
            results.update(events_per_s=many["rate"], events_per_s_one_flag=one["rate"])
            results["outbox_missing"] = many["missing"] + one["missing"]
            results.update(await command_burst(commands, stub, url, audit, arrivals, arguments.commands))
            told = OutboxLog(redis, prefix)
            results.update(await kills(fleet, session, commands, audit, arrivals, told, arguments.kills))
            await told.update()
            results["out_of_order_per_flag"] = out_of_order(arrivals, told.order)
            results["duplicates_seen_by_dedup_receiver"] = through_dedupe(receivers)
    finally:
        fleet.stop()
        await receivers.stop()
        await redis.aclose()
        delete_prefixed(redis_url, prefix)
    return results


async def main(arguments: argparse.Namespace) -> None:
    began = time.perf_counter()
    stub = await TimedStub().start()
    work = Path(tempfile.mkdtemp(prefix="chatops-bench-webhooks-"))
    embedded = None if os.environ.get("REDIS_URL") else EmbeddedRedis(work / "redis")
    redis_url = os.environ.get("REDIS_URL") or embedded.url  # type: ignore[union-attr]
    print(f"redis: {os.environ.get('REDIS_URL') or 'embedded'}; python {sys.version.split()[0]}; cpus {os.cpu_count()}")
    try:
        results = await measure(arguments, work, redis_url, stub)
    except BaseException:
        print(f"the run failed; the processes' logs are kept in {work}", file=sys.stderr)
        raise
    finally:
        await stub.stop()
        if embedded is not None:
            embedded.stop()
    if results["lost_after_kill9"]:
        print(f"the processes' logs are kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    targets = {
        "delivery_p99_ms": results["delivery_p99_ms"] <= 200,
        "events_per_s": results["events_per_s"] >= 500,
        "lost_after_kill9": results["lost_after_kill9"] == 0,
        "duplicates_seen_by_dedup_receiver": results["duplicates_seen_by_dedup_receiver"] == 0,
        "out_of_order_per_flag": results["out_of_order_per_flag"] == 0,
    }
    print("targets:   " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets.items()))
    seconds = round(time.perf_counter() - began, 1)
    print(json.dumps({**results, "seconds": seconds, "targets_met": all(targets.values())}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200, help="changes of the latency phase (default 200)")
    parser.add_argument("--events", type=int, default=5000, help="events written into the outbox (default 5000)")
    parser.add_argument("--commands", type=int, default=2000, help="changes of the commands phase (default 2000)")
    parser.add_argument("--kills", type=int, default=20, help="kill -9 of the lease holder (default 20)")
    asyncio.run(main(parser.parse_args()))
