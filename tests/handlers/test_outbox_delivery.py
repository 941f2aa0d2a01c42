"""The deliverer against the real Redis: a backlog left by a process that lost the lease, larger than
what is held in memory at once (read in parts), goes out in order per flag with new events after it,
each once, a failed event holding back only the later ones of its flag."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from handlers.core import outbox_delivery
from handlers.core.outbox import Outbox
from handlers.core.outbox_delivery import Deliverer, Retries
from handlers.core.outbox_state import ReceiverState

FLAGS = ("alpha", "beta", "gamma")


class Recording:
    """A receiver in this process: down (every send fails) or up, failing once each event in ``fail_once``."""

    name = "recording"
    retries = Retries(concurrency=4, max_attempts=1000, backoff_seconds=0.01, max_backoff_seconds=0.05)

    def __init__(self, *, down: bool, fail_once: frozenset[str] = frozenset()) -> None:
        self.down, self.fail_once = down, fail_once
        self.tries: Counter[str] = Counter()
        self.got: list[dict[str, Any]] = []

    def wants(self, event: dict[str, Any]) -> bool:
        return True

    async def send(self, event: dict[str, Any]) -> str:
        self.tries[event["id"]] += 1
        if self.down or (event["id"] in self.fail_once and self.tries[event["id"]] == 1):
            return "HTTP 503: try again later"
        self.got.append(event)
        return ""

    async def close(self) -> None:
        return None


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    found = aioredis.from_url(redis_url, decode_responses=True)
    yield found
    await found.aclose()


async def deliver_until(
    outbox: Outbox, receiver: Recording, prefix: str, token: int, done: Callable[[], Any], timeout: float = 30
) -> None:
    """Run a deliverer holding the lease with ``token`` until ``done()`` is true (awaited when a coroutine)."""
    lease = f"{prefix}chatops:driver"
    await outbox.client.set(lease, f"{token} test-process-{token}")
    stopping = asyncio.Event()
    running = asyncio.create_task(Deliverer(outbox, [receiver], prefix, lease).run(lambda: token, stopping))
    try:
        async with asyncio.timeout(timeout):
            while not (await done() if asyncio.iscoroutinefunction(done) else done()):
                await asyncio.sleep(0.02)
    finally:
        stopping.set()
        await running


def events(start: int, count: int) -> list[dict[str, Any]]:
    return [{"id": f"change:staging:e{n:04d}", "type": "change", "flag": FLAGS[n % 3]} for n in range(start, count)]


async def test_a_backlog_read_in_parts_goes_out_in_order_per_flag_each_once(
    client: aioredis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_delivery, "READ_AT_MOST", 100)  # 600 queued: read in parts, again and again
    outbox = Outbox(client, prefix)
    backlog = events(0, 600)
    for event in backlog:
        await outbox.add(event)
    state = ReceiverState(client, prefix, Recording.name, f"{prefix}chatops:driver")

    async def all_queued() -> bool:
        return (await state.status()).pending == 600

    down = Recording(down=True)
    await deliver_until(outbox, down, prefix, 1, all_queued)  # the first process queued them; none went
    assert down.got == [] and sum(down.tries.values()) > 0
    failing = frozenset(e["id"] for e in backlog[::97])
    up = Recording(down=False, fail_once=failing)
    later, added = events(600, 660), []

    async def everything_delivered() -> bool:
        if up.got and not added:  # new events while the backlog is being sent
            for event in later:
                added.append(await outbox.add(event))
        return len({e["id"] for e in up.got}) == 660

    await deliver_until(outbox, up, prefix, 2, everything_delivered)
    assert Counter(e["id"] for e in up.got).most_common(1)[0][1] == 1  # each once
    for flag in FLAGS:
        expected = [e["id"] for e in backlog + later if e["flag"] == flag]
        assert [e["id"] for e in up.got if e["flag"] == flag] == expected, flag
    assert all(up.tries[i] == 2 for i in failing)
    status = await state.status()
    assert (status.pending, status.dead, status.delivered) == (0, 0, 660)
