"""The in-process tier: the whole pipeline (parse → plan → authorize → handle → deliver) driven
through the shell backend, with no HTTP in between.

One fixture, ``chatops``, builds a harness from the shipped example configuration (pointed at
this test's Redis prefix) plus any overrides; ``await chatops()`` is the plain example, and
``await chatops(safety=True)`` adds a real Alertmanager, the local check and GitLab stubs, a
deployment registry on a git repository (one for the session, only read) and a staging
end-to-end trigger. Every harness is closed when the test ends.

The bot's own stores (journal, schedules, rollouts, freezes, approvals, the driver's lease) are
on real Redis. The flags of the environments on this test's Redis are in memory stores
(``flags.memory``), sharing one ``MemoryBackend`` as the Redis stores share one client, and
shared by every harness of the test as Redis would be; an environment the test puts on another
Redis (a server it stops, an unreachable port) keeps a Redis store. ``chatops(redis_flags=True)``
keeps every flag on Redis: for what only Redis shows (outages of the test's own server, keys of
the wrong type, Ruby's Flipper reading the layout, the connection pool).

Time, as the application sees it (``time.time`` and ``time.monotonic`` in ``handlers``), is the
harness's ``Clock``: the real time, moved on by tests instead of sleeping (``clock.advance``, and
``Chatops.tick``, which drives the timer drivers through seconds of it at once). Redis keeps its
own time: leases and the journal's expiry still take real waiting.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import time
import types
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

import handlers
from flags import FlagRecord, MemoryBackend, MemoryFlagStore
from handlers.composition import build_application
from handlers.config import Config, Secrets, load_config
from handlers.core.caller import Caller
from handlers.core.context import Application
from handlers.core.driver import Driver
from handlers.core.lease import Lease
from handlers.core.reply import CrossPost, Reply
from handlers.core.text_chat import ShellBackend, run_line
from handlers.deployments.registry import REGISTRY, Deployment
from tests.alertmanager_process import Alertmanager
from tests.configs import FLAG, add_staging_e2e_trigger, deployments_section, safety_section, write_config
from tests.git_repo import GitRepo
from tests.helpers import keyspace, memory_keyspace
from tests.http_stubs import ChecksAndGitLab

__all__ = ["FLAG", "Answer", "Chatops", "Clock", "MakeChatops"]

#: Channel names → IDs, as Slack would resolve them. The shell passes names through unchanged;
#: the harness maps them so the policy's by-ID comparisons are exercised.
#: The merge request of the example flag's definition (introduced_by_url).
FLAG_MERGE_REQUEST = 136543

CHANNELS = {"#production": "C0PROD", "#development": "C0DEV", "#random": "C0RAND"}


@dataclass
class Answer:
    """What one typed line produced: the reply, the cross-posts by channel, the shell's text."""

    reply: Reply
    posts: list[CrossPost]
    text: str

    @property
    def ok(self) -> bool:
        return self.reply.ok

    def posted_to(self, channel: str) -> list[CrossPost]:
        return [p for p in self.posts if p.channel == channel]


class Clock:
    """The time the application sees: the real time (both ``time.time`` and ``time.monotonic``)
    plus however far the test moved it on. It only moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return _REAL_TIME() + self.offset

    def monotonic(self) -> float:
        return _REAL_MONOTONIC() + self.offset

    def advance(self, seconds: float) -> None:
        """What waiting ``seconds`` would do to the application's clock, at once."""
        assert seconds >= 0, "the clock only moves forward"
        self.offset += seconds


_REAL_TIME, _REAL_MONOTONIC = time.time, time.monotonic


@dataclass
class Chatops:
    app: Application
    redis: aioredis.Redis
    prefix: str
    alerts_label: str = ""
    alertmanager: Alertmanager | None = None
    outside: ChecksAndGitLab | None = None
    channels: dict[str, str] = field(default_factory=lambda: dict(CHANNELS))
    people: dict[str, frozenset[str]] = field(default_factory=dict)  # each user's groups, as last run with
    clock: Clock = field(default_factory=Clock)  # the application's time

    async def run(
        self,
        line: str,
        *,
        user: str = "alice",
        groups: tuple[str, ...] = ("sre",),
        channel: str = "#production",
        channel_id: str | None = None,
    ) -> Answer:
        """Type ``line`` (``/chatops ...``, ``run ...`` or ``:ACTION_ID VALUE``) as ``user``,
        a member of ``groups``, in ``channel`` (whose Slack ID is ``channel_id`` if given)."""
        self.people[user] = frozenset(groups)  # Slack knows everyone's groups, as they are now
        directory = {
            g: frozenset(u for u, gs in self.people.items() if g in gs) for g in set().union(*self.people.values())
        }
        backend = ShellBackend(user, frozenset(groups), channels=self.channels, directory=directory)
        caller = Caller(user, user, channel_id or self.channels.get(channel, channel), channel.lstrip("#"))
        out = io.StringIO()
        reply = await run_line(line, caller, self.app, backend, out)
        return Answer(reply, list(backend.posted), out.getvalue())

    def drivers(self, chat: ShellBackend, count: int = 1, lease_s: float = 6.0) -> list[Driver]:
        """``count`` timer drivers on this harness's application, as that many serving processes
        run them (one lease between them), posting through ``chat``."""
        timers = self.app.timers
        assert timers is not None
        return [Driver(self.app, chat, timers, Lease(timers.client, timers.lease_key, lease_s)) for _ in range(count)]

    async def keyspace(self) -> dict[str, Any]:
        """Every key under this test's prefix and every flag in memory, to prove a refusal changed nothing."""
        return {**await keyspace(self.redis, self.prefix), **await memory_keyspace(self.app.stores.values())}

    async def flag(self, option: str, flag: str = FLAG) -> FlagRecord:
        """The flag in one environment (by option), as its store reads it."""
        return await self.app.stores[option].get(flag)

    async def gates(self, option: str, flag: str = FLAG) -> dict[str, str]:
        """The flag's gates in one environment (by option), as Flipper's hash holds them."""
        return (await self.flag(option, flag)).state.to_hash()

    def fire(self, alertname: str, summary: str = "", **labels: str) -> None:
        """Fire an alert this harness's production check sees (needs ``safety=True``)."""
        assert self.alertmanager is not None, "chatops(safety=True) has an Alertmanager"
        self.alertmanager.fire({"alertname": alertname, "test": self.alerts_label, "env": "gprd", **labels}, summary)

    async def tick(self, drivers: list[Driver], seconds: float) -> None:
        """Every driver runs for ``seconds`` of the application's time as ``Driver.run`` runs it in
        a serving process: it ticks, then waits as long as the tick says (a holder of the lease a
        quarter of a second at most, less when something falls due sooner). The clock skips the
        waits, and the work a tick starts (schedules, rollout steps, guard polls) is done before
        it moves on. Then they stop."""
        next_tick = [0.0] * len(drivers)  # when each driver ticks next, in seconds from now
        passed = 0.0
        while (soonest := min(next_tick)) < seconds:
            self.clock.advance(soonest - passed)
            passed = soonest
            i = next_tick.index(soonest)
            delay = await drivers[i].tick()
            await drivers[i].settle()
            next_tick[i] = passed + delay
        for driver in drivers:
            driver.stop()
            await driver.finish()


MakeChatops = Callable[..., Awaitable[Chatops]]


#: Every module of the application that reads the time (``import time``), imported now.
_TIMED = [
    module
    for module in (importlib.import_module(m.name) for m in pkgutil.walk_packages(handlers.__path__, "handlers."))
    if getattr(module, "time", None) is time
]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The application's clock for this test: every ``handlers`` module that reads ``time`` reads it."""
    made = Clock()
    seen = types.SimpleNamespace(**{**vars(time), "time": made.time, "monotonic": made.monotonic})
    for module in _TIMED:
        monkeypatch.setattr(module, "time", seen)
    return made


@pytest.fixture(scope="session")
def flag_code_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The application's repository for ``chatops(safety=True)``: a first commit, then the flag's
    merge request (its merge commit is deployed to gstg and gprd). Built once: the bot only reads
    it (a mirror of a local repository never fetches or writes), and tests that change theirs make
    their own."""
    repo = GitRepo(tmp_path_factory.mktemp("app"))
    repo.commit("Initial")
    return repo.path, repo.merge_request("gitlab-org/gitlab", FLAG_MERGE_REQUEST, "The flag's code")


@pytest.fixture
async def chatops(
    tmp_path: Path,
    redis_url: str,
    prefix: str,
    clock: Clock,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[MakeChatops]:
    made: list[Chatops] = []
    backends: dict[str, MemoryBackend] = {}  # by Redis URL: the flags every harness of this test shares

    async def make(*, safety: bool | dict[str, Any] = False, redis_flags: bool = False, **overrides: Any) -> Chatops:
        """A harness on the example configuration; ``overrides`` replace top-level keys, and
        ``safety`` adds the production check (a dict adds or replaces keys of its section).
        ``redis_flags`` keeps the flags of this test's Redis on it rather than in memory."""
        folder = tmp_path / f"harness-{len(made)}"
        folder.mkdir()
        alertmanager = outside = None
        deployed = ""
        label = uuid.uuid4().hex[:10]
        if safety is not False:
            alertmanager = request.getfixturevalue("alertmanager")
            outside = await ChecksAndGitLab().start()
            monkeypatch.setenv("TEST_E2E_TOKEN", "e2e-trigger-token")
            monkeypatch.setenv("GITLAB_API_TOKEN", "glpat-test-token")
            extra = safety if isinstance(safety, dict) else {}
            overrides.setdefault("safety", safety_section(alertmanager.url, outside.url, label, 1.5, **extra))
            if "deployments" not in overrides:  # the deployments check needs a registry (and so a repository)
                repository, deployed = request.getfixturevalue("flag_code_repository")
                overrides["deployments"] = deployments_section(repository)
        own_redis = overrides.pop("redis_url", redis_url)  # the bot's own Redis, unless the test moves it
        path = write_config(folder, own_redis, prefix, redis_prefix=prefix, **overrides)
        if safety is not False:
            add_staging_e2e_trigger(path)
        config = load_config(path)
        flag_stores = {} if redis_flags else _memory_flag_stores(config, redis_url, backends, clock)
        app = build_application(
            config, Secrets.from_environment(), embedded_directory=folder / ".chatops", flag_stores=flag_stores
        )
        await app.start()  # the mirror and snapshots; the tests drive the timers themselves
        if deployed and app.ports.get(REGISTRY) is not None:  # the flag's code runs in gstg and gprd
            for environment in ("gstg", "gprd"):
                await app.ports.need(REGISTRY).record(
                    Deployment(environment, deployed, "master", "success", time.time())
                )
        client = aioredis.from_url(redis_url, decode_responses=True)
        harness = Chatops(app, client, prefix, label, alertmanager, outside, clock=clock)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.app.close()
        await harness.redis.aclose()
        if harness.outside is not None:
            await harness.outside.stop()


def _memory_flag_stores(
    config: Config, redis_url: str, backends: dict[str, MemoryBackend], clock: Clock
) -> dict[str, MemoryFlagStore]:
    """Memory stores for the environments whose flags would be on the test's Redis, one backend
    per URL as the Redis stores share one client per URL, dating changes by the application's clock."""
    stores = {}
    for environment in config.environments:
        url = environment.redis_url or config.redis_url
        if url == redis_url:
            backend = backends.setdefault(url, MemoryBackend(clock.time))
            stores[environment.option] = MemoryFlagStore(
                backend, prefix=environment.prefix, environment=environment.name
            )
    return stores
