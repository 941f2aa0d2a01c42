"""flags.openfeature: OpenFeature's own Python API (openfeature-sdk) with our provider set, reading
what the bot's FlagStore writes on a real Redis: Ruby Flipper's answers, reasons, error codes and
provider events."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from flags import (
    ActorId,
    AsyncFlags,
    AuditInfo,
    Change,
    Definition,
    DeleteFlag,
    Flags,
    FlagStore,
    GroupName,
    build_change,
)
from flags.openfeature import FlagsProvider
from tests.flags.flipper_oracle import FlipperOracle
from tests.redis_process import RedisProcess

WHO = AuditInfo(who="openfeature-test")


class Events:
    """Every provider event OpenFeature hands to the application's handlers (from its own threads)."""

    def __init__(self) -> None:
        self.seen: list[tuple[ProviderEvent, EventDetails]] = []
        self._lock = threading.Lock()
        for event in ProviderEvent:
            api.add_handler(event, self._handler(event))

    def _handler(self, event: ProviderEvent) -> Callable[[EventDetails], None]:
        def record(details: EventDetails) -> None:
            if details.provider_name == "flags":  # not the no-op provider OpenFeature starts with
                with self._lock:
                    self.seen.append((event, details))

        return record

    def of(self, event: ProviderEvent) -> list[EventDetails]:
        with self._lock:
            return [details for kind, details in self.seen if kind == event]

    def mark(self) -> int:
        """A point in the sequence of events, for ``wait_for(..., since=)``."""
        with self._lock:
            return len(self.seen)

    async def wait_for(self, event: ProviderEvent, within: float = 5.0, since: int = 0) -> EventDetails:
        """The first ``event`` after the mark ``since``, once it has come."""
        start = time.monotonic()
        while time.monotonic() - start < within:
            with self._lock:
                found = [details for kind, details in self.seen[since:] if kind == event]
            if found:
                return found[0]
            await asyncio.sleep(0.005)
        raise AssertionError(f"no {event.value} within {within}s; seen: {self.seen}")


@pytest.fixture
def events() -> Iterator[Events]:
    """OpenFeature's global API, its handlers recording; shut down afterwards (providers, handlers)."""
    yield Events()
    api.shutdown()


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[FlagStore]:
    flag_store = FlagStore.from_url(redis_url, prefix=prefix, environment="gstg")
    yield flag_store
    await flag_store.close()


def openfeature_client(redis_url: str, prefix: str, poll_interval: float = 3600) -> OpenFeatureClient:
    """Our provider set in OpenFeature's API (a poll interval of an hour: changes come by push)."""
    api.set_provider_and_wait(FlagsProvider.connect(redis_url, prefix=prefix, poll_interval=poll_interval))
    return api.get_client()


def context(actor: str | None, groups: list[str] | None = None) -> EvaluationContext:
    return EvaluationContext(actor, {} if groups is None else {"groups": groups})


# -- the same answers as Ruby Flipper -----------------------------------------------------------

ACTORS = [f"User:{n}" for n in range(700)] + [f"Project:gitlab-org/p{n}" for n in range(200)]
ACTORS += [f"Group:{n}" for n in range(99)] + ["User:ünïcode"]
GROUPS = {"beta": 0.3, "staff": 0.1, "qa": 0.2}  # group -> share of the actors in it


def memberships(rng: random.Random) -> dict[str, list[str]]:
    """The groups each actor is in (what the application's group procs would say)."""
    return {actor: [group for group, share in GROUPS.items() if rng.random() < share] for actor in ACTORS}


async def write_every_gate_kind(store: FlagStore, rng: random.Random) -> dict[str, set[str]]:
    """One flag per gate kind (and mixes), written as the bot writes them; the reasons each may give."""
    some = [ActorId(a) for a in rng.sample(ACTORS, 60)]
    flags: dict[str, tuple[list[Any], set[str]]] = {
        "of_on": ([build_change("true")], {"STATIC"}),
        "of_off": ([build_change("true", actors=some[:2]), build_change("false")], {"DISABLED"}),
        "of_actors": ([build_change("true", actors=some)], {"TARGETING_MATCH", "DEFAULT"}),
        "of_groups": (
            [build_change("true", groups=[GroupName("beta"), GroupName("staff"), GroupName("unregistered")])],
            {"TARGETING_MATCH", "DEFAULT"},
        ),
        "of_pct_25": ([build_change("25", percentage_of="actors")], {"SPLIT", "DEFAULT"}),
        "of_pct_fraction": ([build_change("33.333", percentage_of="actors")], {"SPLIT", "DEFAULT"}),
        "of_pct_100": ([build_change("100", percentage_of="actors")], {"SPLIT", "DEFAULT"}),
        "of_pct_0": ([build_change("true", actors=some[:1]), build_change("0", percentage_of="actors")], set()),
        "of_time_100": ([build_change("100", percentage_of="time")], {"SPLIT"}),
        "of_time_0": ([build_change("0", percentage_of="time")], {"DISABLED"}),
        "of_mixed": (
            [
                build_change("true", actors=some[10:20]),
                build_change("true", groups=[GroupName("qa")]),
                build_change("10", percentage_of="actors"),
            ],
            {"TARGETING_MATCH", "SPLIT", "DEFAULT"},
        ),
        "of_groups_then_time": (
            [build_change("true", groups=[GroupName("staff")]), build_change("100", percentage_of="time")],
            {"SPLIT"},  # percentage of time is asked before groups, as Flipper does
        ),
    }
    for name, (changes, _) in flags.items():
        for change in changes:
            await store.apply(name, change, WHO)
    flags["of_pct_0"] = ([], {"TARGETING_MATCH", "DEFAULT"})  # the actor stays on
    return {name: reasons for name, (_, reasons) in flags.items()}


@pytest.fixture(scope="module")
def oracle(redis_url: str) -> Iterator[FlipperOracle]:
    ruby = FlipperOracle(redis_url)
    yield ruby
    ruby.close()


@pytest.mark.slow
async def test_openfeature_answers_as_ruby_flipper_for_every_gate_kind_and_1000_actors(
    oracle: FlipperOracle, events: Events, store: FlagStore, redis_url: str, prefix: str
) -> None:
    rng = random.Random(20261203)
    expected_reasons = await write_every_gate_kind(store, rng)
    groups_of = memberships(rng)
    for group in GROUPS:  # Ruby's group procs match exactly the membership the contexts state
        oracle.register_group(group, [actor for actor, groups in groups_of.items() if group in groups])
    pairs: list[tuple[str, str | None]] = [(name, actor) for name in expected_reasons for actor in [*ACTORS, None]]
    assert len(ACTORS) == 1000

    flippers = oracle.evaluate(prefix, pairs)
    client = openfeature_client(redis_url, prefix)
    ours = [
        client.get_boolean_details(name, False, context(actor, groups_of[actor] if actor else None))
        for name, actor in pairs
    ]

    assert [d.error_code for d in ours if d.error_code] == []
    disagreements = [
        (pair, theirs, d) for pair, theirs, d in zip(pairs, flippers, ours, strict=True) if theirs != d.value
    ]
    assert disagreements == [], f"{len(disagreements)} of {len(pairs)} differ from Flipper, e.g. {disagreements[:3]}"
    for name, reasons in expected_reasons.items():
        given = {d.reason for (flag, _), d in zip(pairs, ours, strict=True) if flag == name}
        assert given == reasons, name
    for (name, actor), details in zip(pairs, ours, strict=True):
        assert details.variant == ("on" if details.value else "off")
        assert details.value is (details.reason in ("STATIC", "TARGETING_MATCH", "SPLIT")), (name, actor)
    assert 0.2 < sum(d.value for d in ours) / len(ours) < 0.8  # both answers are common
    group_matches = [d for (name, _), d in zip(pairs, ours, strict=True) if name == "of_groups" and d.value]
    assert len(group_matches) > 250 and {d.flag_metadata["gate"] for d in group_matches} == {"group"}


# -- reasons and error codes, case by case -----------------------------------------------------


async def test_each_gate_gives_its_reason_and_variant(
    events: Events, store: FlagStore, redis_url: str, prefix: str
) -> None:
    await store.apply("of_on", build_change("true"), WHO)
    await store.apply("of_off", build_change("false"), WHO)
    await store.apply("of_actor", build_change("true", actors=[ActorId("User:42")]), WHO)
    await store.apply("of_group", build_change("true", groups=[GroupName("beta")]), WHO)
    await store.apply("of_all_actors", build_change("100", percentage_of="actors"), WHO)
    client = openfeature_client(redis_url, prefix)

    def ask(flag: str, actor: str | None = "User:1", groups: list[str] | None = None) -> tuple[object, ...]:
        d = client.get_boolean_details(flag, False, context(actor, groups))
        return d.value, d.reason, d.variant, dict(d.flag_metadata), d.error_code

    assert ask("of_on", None) == (True, Reason.STATIC, "on", {"gate": "boolean"}, None)
    assert ask("of_off") == (False, Reason.DISABLED, "off", {}, None)
    assert ask("of_actor", "User:42") == (True, Reason.TARGETING_MATCH, "on", {"gate": "actor"}, None)
    assert ask("of_actor", "User:43") == (False, Reason.DEFAULT, "off", {}, None)
    assert ask("of_group", "User:43", ["staff", "beta"]) == (
        True,
        Reason.TARGETING_MATCH,
        "on",
        {"gate": "group"},
        None,
    )
    assert ask("of_group", "User:43", ["staff"]) == (False, Reason.DEFAULT, "off", {}, None)
    assert ask("of_group", "User:43", []) == (False, Reason.DEFAULT, "off", {}, None)
    assert ask("of_all_actors") == (True, Reason.SPLIT, "on", {"gate": "percentage_of_actors"}, None)
    assert ask("of_all_actors", None) == (False, Reason.DEFAULT, "off", {}, None)  # no actor, no share of actors
    assert client.get_boolean_value("of_on", False) is True  # no context at all


async def test_an_unknown_flag_answers_the_callers_default_with_flag_not_found(
    events: Events, store: FlagStore, redis_url: str, prefix: str
) -> None:
    await store.apply("of_known", build_change("true"), WHO)
    client = openfeature_client(redis_url, prefix)
    for default in (True, False):
        details = client.get_boolean_details("of_unknown", default, context("User:1"))
        assert (details.value, details.reason, details.error_code) == (default, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)
        assert "of_unknown" in (details.error_message or "")
    assert client.get_string_details("of_unknown", "x").error_code == ErrorCode.FLAG_NOT_FOUND


async def test_a_defined_flag_not_yet_set_reads_as_its_definition_says(
    store: FlagStore, redis_url: str, prefix: str
) -> None:
    """As ``enabled()`` and the flags API answer it: the definition's default, by DEFAULT."""
    await store.apply("of_known", build_change("true"), WHO)
    defined = {
        n: Definition(name=n, type="development", group="group::x", default_enabled=n == "of_default_on")
        for n in ("of_default_on", "of_default_off")
    }
    flags = Flags(redis_url, prefix=prefix, definitions=defined, poll_interval=3600)
    provider = FlagsProvider(flags)
    provider.initialize(EvaluationContext())
    for name, value in (("of_default_on", True), ("of_default_off", False)):
        details = provider.resolve_boolean_details(name, not value, EvaluationContext("User:1"))
        assert (details.value, details.reason, details.variant, details.error_code) == (
            value,
            Reason.DEFAULT,
            "on" if value else "off",
            None,
        )
        assert flags.enabled(name, "User:1") is value  # the SDK's own answer
    assert provider.resolve_boolean_details("of_undefined", True).error_code == ErrorCode.FLAG_NOT_FOUND
    provider.shutdown()
    flags.close()


async def test_other_types_are_a_type_mismatch_answering_the_default(
    events: Events, store: FlagStore, redis_url: str, prefix: str
) -> None:
    await store.apply("of_on", build_change("true"), WHO)
    client = openfeature_client(redis_url, prefix)
    answers = [
        client.get_string_details("of_on", "fallback", context("User:1")),
        client.get_integer_details("of_on", 7, context("User:1")),
        client.get_float_details("of_on", 0.5, context("User:1")),
        client.get_object_details("of_on", {"a": 1}, context("User:1")),
    ]
    assert [a.value for a in answers] == ["fallback", 7, 0.5, {"a": 1}]
    for answer in answers:
        assert (answer.reason, answer.error_code) == (Reason.ERROR, ErrorCode.TYPE_MISMATCH)
        assert "get_boolean_value" in (answer.error_message or "")


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (EvaluationContext("User:1", {"groups": "beta"}), "'groups' must be a list of group names"),
        (EvaluationContext("User:1", {"groups": ["beta", 7]}), "'groups' must be a list of group names"),
        (EvaluationContext("User:1", {"groups": {"beta": True}}), "'groups' must be a list of group names"),
        (EvaluationContext(42, {}), "targeting key must be the actor's Flipper id"),  # type: ignore[arg-type]
    ],
    ids=["a string", "a non-string member", "a mapping", "an integer targeting key"],
)
async def test_a_bad_context_answers_the_default_with_invalid_context(
    events: Events, store: FlagStore, redis_url: str, prefix: str, bad: EvaluationContext, said: str
) -> None:
    await store.apply("of_group", build_change("true", groups=[GroupName("beta")]), WHO)
    client = openfeature_client(redis_url, prefix)
    for default in (True, False):
        details = client.get_boolean_details("of_group", default, bad)
        assert (details.value, details.reason, details.error_code) == (default, Reason.ERROR, ErrorCode.INVALID_CONTEXT)
        assert said in (details.error_message or "")


async def test_the_provider_itself_never_raises(
    store: FlagStore, redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    await store.apply("of_on", build_change("true"), WHO)
    raw.sadd(f"{prefix}flipper_features", "of_corrupt")
    raw.hset(f"{prefix}of_corrupt", mapping={"percentage_of_actors": "lots", "actors/User:1": "1"})
    provider = FlagsProvider(Flags(redis_url, prefix=prefix, poll_interval=3600))
    provider.initialize(EvaluationContext())
    weird: list[Any] = [[], None, 3, "of_on"]
    for key in weird:
        for ctx in (None, EvaluationContext(), EvaluationContext("User:1", {"groups": [[1]]})):
            provider.resolve_boolean_details(key, False, ctx)
            provider.resolve_string_details(key, "", ctx)
    assert provider.resolve_boolean_details([], True).error_code == ErrorCode.GENERAL  # type: ignore[arg-type]
    corrupt = provider.resolve_boolean_details("of_corrupt", False, EvaluationContext("User:2"))
    assert (corrupt.value, corrupt.reason) == (False, Reason.DEFAULT)  # the corrupt gate is closed
    assert provider.resolve_boolean_details("of_corrupt", False, EvaluationContext("User:1")).value is True
    provider.shutdown()
    provider.flags.close()  # not owned by the provider: the application closes it


# -- events -------------------------------------------------------------------------------------


async def test_ready_then_configuration_changed_naming_each_key_written_by_the_bot(
    events: Events, store: FlagStore, redis_url: str, prefix: str
) -> None:
    await store.apply("of_first", build_change("true"), WHO)
    client = openfeature_client(redis_url, prefix)  # polls hourly: what follows comes by push
    await events.wait_for(ProviderEvent.PROVIDER_READY)
    assert client.get_provider_status() == ProviderStatus.READY

    async def change(name: str, what: Change) -> EventDetails:
        mark = events.mark()
        await store.apply(name, what, WHO)
        return await events.wait_for(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, within=1.0, since=mark)

    changed = await change("of_second", build_change("true", actors=[ActorId("User:7")]))
    assert changed.flags_changed == ["of_second"]
    assert client.get_boolean_details("of_second", False, context("User:7")).reason == Reason.TARGETING_MATCH

    assert (await change("of_first", build_change("false"))).flags_changed == ["of_first"]
    assert client.get_boolean_details("of_first", True).reason == Reason.DISABLED  # the new state, at once

    assert (await change("of_second", DeleteFlag())).flags_changed == ["of_second"]
    assert client.get_boolean_details("of_second", False).error_code == ErrorCode.FLAG_NOT_FOUND
    assert [d.flags_changed for d in events.of(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)] == [
        ["of_second"],
        ["of_first"],
        ["of_second"],
    ]


async def test_a_change_found_by_a_poll_is_announced_too(
    events: Events, store: FlagStore, redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    await store.apply("of_polled", build_change("true"), WHO)
    client = openfeature_client(redis_url, prefix, poll_interval=0.2)
    raw.hset(f"{prefix}of_polled", "boolean", "false")  # another writer (a Ruby app): no announcement
    changed = await events.wait_for(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    assert changed.flags_changed == ["of_polled"]
    assert client.get_boolean_value("of_polled", True) is False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    yield server
    server.stop()


@pytest.mark.slow
async def test_stale_while_redis_is_away_ready_when_it_is_back(events: Events, redis_server: RedisProcess) -> None:
    server = redis_server.start()
    writer = redis.Redis.from_url(server.url, decode_responses=True)
    writer.sadd("flipper_features", "of_survivor")
    writer.hset("of_survivor", "boolean", "true")
    client = openfeature_client(server.url, "", poll_interval=0.2)
    await events.wait_for(ProviderEvent.PROVIDER_READY)

    server.stop()
    stale = await events.wait_for(ProviderEvent.PROVIDER_STALE, within=10)
    assert "last good snapshot" in (stale.message or "")
    assert client.get_provider_status() == ProviderStatus.STALE
    details = client.get_boolean_details("of_survivor", False, context("User:1"))
    assert (details.value, details.reason, details.error_code) == (True, Reason.STATIC, None)  # the last good snapshot

    mark = events.mark()
    server.start()
    writer.sadd("flipper_features", "of_survivor")
    writer.hset("of_survivor", "boolean", "true")
    back = await events.wait_for(ProviderEvent.PROVIDER_READY, within=15, since=mark)
    assert "back" in (back.message or "")
    assert client.get_provider_status() == ProviderStatus.READY
    assert len(events.of(ProviderEvent.PROVIDER_STALE)) == 1
    writer.close()


@pytest.mark.slow
async def test_redis_down_at_start_is_an_error_then_ready_once_it_answers(
    events: Events, redis_server: RedisProcess
) -> None:
    provider = FlagsProvider.connect(redis_server.url, poll_interval=0.2)  # nothing listens there yet
    with pytest.raises(ProviderNotReadyError):
        api.set_provider_and_wait(provider)
    client = api.get_client()
    error = await events.wait_for(ProviderEvent.PROVIDER_ERROR)
    assert error.error_code == ErrorCode.PROVIDER_NOT_READY
    details = client.get_boolean_details("of_later", True, context("User:1"))
    assert (details.value, details.error_code) == (True, ErrorCode.PROVIDER_NOT_READY)

    mark = events.mark()
    redis_server.start()
    writer = redis.Redis.from_url(redis_server.url, decode_responses=True)
    writer.sadd("flipper_features", "of_later")
    writer.hset("of_later", "boolean", "false")
    await events.wait_for(ProviderEvent.PROVIDER_READY, within=15, since=mark)
    assert client.get_provider_status() == ProviderStatus.READY
    assert client.get_boolean_details("of_later", True).reason == Reason.DISABLED
    writer.close()


async def test_a_started_async_client_serves_the_provider_too(
    events: Events, store: FlagStore, redis_url: str, prefix: str
) -> None:
    await store.apply("of_async", build_change("true", groups=[GroupName("beta")]), WHO)
    async with AsyncFlags(redis_url, prefix=prefix, poll_interval=3600) as flags:
        api.set_provider_and_wait(FlagsProvider(flags))
        client = api.get_client()
        assert (
            client.get_boolean_details("of_async", False, context("User:1", ["beta"])).reason == Reason.TARGETING_MATCH
        )
        mark = events.mark()
        await store.apply("of_async", build_change("false"), WHO)
        changed = await events.wait_for(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, within=1.0, since=mark)
        assert changed.flags_changed == ["of_async"]
        assert client.get_boolean_value("of_async", True, context("User:1", ["beta"])) is False
        api.shutdown()  # the provider does not own the client: it stays open until the application closes it
        assert flags.loaded_at is not None and flags.enabled("of_async") is False
