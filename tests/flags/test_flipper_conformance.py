"""Conformance with Ruby's Flipper 0.25 (Debian's ruby-flipper), reading the same Redis.

- what we write, Flipper evaluates exactly as our SDK does, for >10,000 (state, actor) pairs;
- what Flipper writes through its own Feature API, our SDK reads and evaluates identically;
- each operation leaves the same raw keys and fields on both sides.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

import pytest
import redis

from flags import ActorId, AuditInfo, DeleteFlag, Flags, FlagStore, GroupName, build_change
from tests.flags.flipper_oracle import FlipperOracle

WHO = AuditInfo(who="conformance")
GROUPS = {
    "admins": lambda actor: str(actor).startswith("User:admin"),
    "projects": lambda actor: str(actor).startswith("Project:"),
    "sevens": lambda actor: str(actor).endswith("7"),
}
ACTORS = (
    [f"User:admin{i}" for i in range(5)]
    + [f"User:user{i}" for i in range(45)]
    + [f"Project:gitlab-org/project-{i}" for i in range(25)]
    + [f"Group:{i}" for i in range(10)]
    + [f"Namespace:ns/{i}" for i in range(10)]
    + ["User:ünïcode", "Repository:a/b.git", "User:with/slash", "User:17", "User:"]
)


@pytest.fixture(scope="module")
def oracle(redis_url: str) -> Iterator[FlipperOracle]:
    ruby = FlipperOracle(redis_url)
    yield ruby
    ruby.close()


def percentages(rng: random.Random, name: str) -> list[str]:
    """Every interesting kind of percentage, including values exactly on an actor's CRC bucket."""
    crc = zlib.crc32((name + rng.choice(ACTORS)).encode()) % 100_000
    on_bucket = [f"{max(0, min(100_000, crc + d)) / 1000:.3f}".rstrip("0").rstrip(".") for d in (-1, 0, 1)]
    return [
        "0",
        "100",
        str(rng.randint(1, 99)),
        f"{rng.uniform(0, 100):.1f}",
        f"{rng.uniform(0, 100):.2f}",
        f"{rng.uniform(0, 100):.3f}",
        f"{rng.uniform(0, 1):.3f}",
        *on_bucket,
    ]


async def write_random_states(store: FlagStore, rng: random.Random, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"flag_{i:03d}"
        names.append(name)
        if rng.random() < 0.1:
            await store.apply(name, build_change("true"), WHO)
            continue
        if rng.random() < 0.1:
            await store.apply(name, build_change("false"), WHO)
            continue
        actors = rng.sample(ACTORS[:-1], rng.randint(0, 4))
        if actors:
            ids = [ActorId(a) for a in actors]
            await store.apply(name, build_change("true", actors=ids), WHO)
        groups = rng.sample([*GROUPS, "unregistered"], rng.randint(0, 2))
        if groups:
            await store.apply(name, build_change("true", groups=[GroupName(g) for g in groups]), WHO)
        if rng.random() < 0.8:
            value = rng.choice(percentages(rng, name))
            await store.apply(name, build_change(value, percentage_of="actors"), WHO)
        if rng.random() < 0.2:
            await store.apply(name, build_change(rng.choice(["0", "100"]), percentage_of="time"), WHO)
        if not (actors or groups):
            await store.apply(name, build_change("true", actors=[ActorId("User:seed")]), WHO)
    return names


def sdk_for(url: str, prefix: str) -> Flags:
    client = Flags(url, prefix=prefix, poll_interval=3600)
    for group, predicate in GROUPS.items():
        client.register_group(group, predicate)
    client.reload()
    return client


@pytest.mark.slow
async def test_flipper_evaluates_what_we_write_exactly_as_we_do(
    oracle: FlipperOracle, redis_url: str, prefix: str
) -> None:
    url = redis_url
    writer = FlagStore.from_url(url, prefix=prefix + "w:", environment="gstg")
    rng = random.Random(20261126)
    names = await write_random_states(writer, rng, 120)
    await writer.close()
    pairs: list[tuple[str, str | None]] = [(n, a) for n in names for a in [*ACTORS, None]]
    assert len(pairs) >= 10_000

    theirs = oracle.evaluate(prefix + "w:", pairs)
    client = sdk_for(url, prefix + "w:")
    ours = [client.enabled(name, actor) for name, actor in pairs]
    client.close()

    mismatches = [(p, t, o) for p, t, o in zip(pairs, theirs, ours, strict=True) if t != o]
    assert not mismatches, f"{len(mismatches)} of {len(pairs)} differ, e.g. {mismatches[:5]}"
    # The states are varied enough that both answers occur often.
    assert 0.1 < sum(ours) / len(ours) < 0.9


OPERATIONS = [
    # (our change, Flipper's Feature method and arguments)
    (lambda: build_change("true"), "enable", ()),
    (lambda: build_change("false"), "disable", ()),
    (lambda: build_change("true", actors=[ActorId.of("user", "alice")]), "enable_actor", ("User:alice",)),
    (
        lambda: build_change("true", actors=[ActorId.of("project", "gitlab-org/gitaly")]),
        "enable_actor",
        ("Project:gitlab-org/gitaly",),
    ),
    (lambda: build_change("true", groups=[GroupName("admins")]), "enable_group", ("admins",)),
    (lambda: build_change("12.345", percentage_of="actors"), "enable_percentage_of_actors", (12.345,)),
    (lambda: build_change("50", percentage_of="actors"), "enable_percentage_of_actors", (50,)),
    (lambda: build_change("0.5", percentage_of="time"), "enable_percentage_of_time", (0.5,)),
    (lambda: build_change("false", actors=[ActorId.of("user", "bob")]), "disable_actor", ("User:bob",)),
    (lambda: build_change("false", groups=[GroupName("projects")]), "disable_group", ("projects",)),
    (lambda: DeleteFlag(), "remove", ()),
]


def layout(client: redis.Redis, prefix: str) -> dict[str, object]:
    """Flipper's keys only (the bot's chatops:* keys live beside them)."""
    found: dict[str, object] = {}
    for key in client.scan_iter(match=f"{prefix}*"):
        short = key[len(prefix) :]
        if short.startswith("chatops:"):
            continue
        kind = client.type(key)
        found[short] = sorted(client.smembers(key)) if kind == "set" else client.hgetall(key)
    return found


@pytest.mark.parametrize(("ours", "method", "args"), OPERATIONS, ids=[o[1] for o in OPERATIONS])
async def test_each_operation_leaves_the_same_raw_keys_as_flipper(
    oracle: FlipperOracle,
    redis_url: str,
    prefix: str,
    raw: redis.Redis,
    ours,
    method,
    args,  # type: ignore[no-untyped-def]
) -> None:
    flag = "enforce_explicit_connection_for_partitioned_shared_models"
    store = FlagStore.from_url(redis_url, prefix=prefix + "ours:")
    # Start both sides from the same state: actor bob and group projects on.
    await store.apply(flag, build_change("true", actors=[ActorId("User:bob")]), WHO)
    await store.apply(flag, build_change("true", groups=[GroupName("projects")]), WHO)
    oracle.apply(prefix + "ruby:", flag, "enable_actor", "User:bob")
    oracle.apply(prefix + "ruby:", flag, "enable_group", "projects")

    await store.apply(flag, ours(), WHO)
    oracle.apply(prefix + "ruby:", flag, method, *args)
    await store.close()

    mine, flippers = layout(raw, prefix + "ours:"), layout(raw, prefix + "ruby:")
    if method == "enable":
        # The README's Redis layout: `set NAME true` clears the other gates, as Flipper's memory adapter does;
        # Flipper 0.25's Redis adapter leaves them. Enabled for everyone either way.
        assert mine[flag] == {"boolean": "true"}
        assert flippers[flag] == {**{"boolean": "true"}, **flippers[flag]}
        flippers[flag] = {"boolean": "true"}
    assert mine == flippers


async def test_we_evaluate_what_flipper_writes_exactly_as_flipper_does(
    oracle: FlipperOracle, redis_url: str, prefix: str
) -> None:
    rng = random.Random(7)
    ruby_prefix = prefix + "ruby:"
    names = [f"ruby_flag_{i}" for i in range(40)]
    for name in names:
        for actor in rng.sample(ACTORS[:-1], rng.randint(0, 3)):
            oracle.apply(ruby_prefix, name, "enable_actor", actor)
        for group in rng.sample([*GROUPS, "unregistered"], rng.randint(0, 2)):
            oracle.apply(ruby_prefix, name, "enable_group", group)
        value = rng.choice([0, 100, rng.randint(1, 99), round(rng.uniform(0, 100), 3), 0.001, 99.999])
        oracle.apply(ruby_prefix, name, "enable_percentage_of_actors", value)
        if rng.random() < 0.1:
            oracle.apply(ruby_prefix, name, "enable")
    pairs: list[tuple[str, str | None]] = [(n, a) for n in names for a in [*ACTORS, None]]
    theirs = oracle.evaluate(ruby_prefix, pairs)
    client = sdk_for(redis_url, ruby_prefix)
    ours = [client.enabled(name, actor) for name, actor in pairs]
    client.close()
    assert ours == theirs
