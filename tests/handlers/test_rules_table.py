"""The pieces under the rules: exposure arithmetic, the rules table, and a custom rule in the engine."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flags import (
    ActorId,
    AuditInfo,
    Change,
    DeleteFlag,
    FlagState,
    FlagStore,
    GroupName,
    Percentage,
    RestoreState,
    SetBoolean,
    SetPercentageOfActors,
    SetPercentageOfTime,
    SetScopes,
)
from flags.exposure import increases_exposure, simulate
from handlers.changes import ChangeRequest, Target, apply_change
from handlers.changes.rules import Verdict
from handlers.composition.ports import RULES
from handlers.core.caller import Caller
from handlers.core.context import Context
from handlers.core.reply import error_reply, line
from handlers.core.text_chat import ShellBackend
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

ON = FlagState(boolean=True)
OFF = FlagState()
A, B = frozenset({"User:a"}), frozenset({"User:a", "User:b"})


def pct(actors: str | None = None, time: str | None = None) -> FlagState:
    return FlagState(percentage_of_actors=actors, percentage_of_time=time)


@pytest.mark.parametrize(
    ("before", "exists", "change", "after"),
    [
        (OFF, False, SetBoolean(True), (ON, True)),
        (FlagState(actors=A, percentage_of_actors="25"), True, SetBoolean(True), (ON, True)),  # true clears gates
        (ON, True, SetBoolean(False), (OFF, True)),  # false keeps the flag in the feature set
        (ON, True, DeleteFlag(), (OFF, False)),
        (FlagState(actors=A), True, SetScopes(True, (ActorId("User:b"),)), (FlagState(actors=B), True)),
        (FlagState(actors=B), True, SetScopes(False, (ActorId("User:b"),)), (FlagState(actors=A), True)),
        (ON, True, SetPercentageOfActors(Percentage("30")), (FlagState(boolean=True, percentage_of_actors="30"), True)),
        (pct("10"), True, SetPercentageOfTime(Percentage("5")), (pct("10", "5"), True)),
        (ON, True, RestoreState(pct("25"), True), (pct("25"), True)),
        (ON, True, RestoreState(OFF, False), (OFF, False)),
    ],
)
def test_simulate_leaves_what_the_store_would(
    before: FlagState, exists: bool, change: Change, after: tuple[FlagState, bool]
) -> None:
    assert simulate(before, exists, change) == after


@pytest.mark.parametrize(
    ("before", "after", "increases"),
    [
        (OFF, ON, True),
        (ON, ON, False),
        (ON, pct("50"), False),
        (pct("50"), pct("25"), False),
        (pct("25"), pct("50"), True),
        (pct("25"), pct("25", "1"), True),
        (FlagState(actors=A), FlagState(actors=B), True),
        (FlagState(actors=B), FlagState(actors=A), False),
        (OFF, FlagState(groups=frozenset({"beta"})), True),
        (FlagState(groups=frozenset({"beta"})), OFF, False),
        (pct("garbage"), pct("1"), True),  # a corrupt percentage exposes nobody
        (pct("100"), ON, True),  # 100% of actors is not every check: true is more
    ],
)
def test_increases_exposure(before: FlagState, after: FlagState, increases: bool) -> None:
    assert increases_exposure(before, after) is increases


PERCENT = st.none() | st.sampled_from(["0", "10", "12.5", "50", "100"])
STATES = st.builds(
    FlagState,
    boolean=st.booleans(),
    actors=st.frozensets(st.sampled_from(["User:a", "User:b", "Project:c"])),
    groups=st.frozensets(st.sampled_from(["beta", "admins"])),
    percentage_of_actors=PERCENT,
    percentage_of_time=PERCENT,
)
ACTORS = st.lists(st.sampled_from(["User:a", "User:b", "Group:d"]), min_size=1, max_size=2, unique=True)
CHANGES = st.one_of(
    st.builds(SetBoolean, st.booleans()),
    st.builds(
        SetScopes,
        st.booleans(),
        ACTORS.map(lambda ids: tuple(ActorId(i) for i in ids)),
        st.lists(st.sampled_from(["beta", "admins"]), max_size=1).map(lambda gs: tuple(GroupName(g) for g in gs)),
    ),
    st.sampled_from(["0", "7", "25", "99.5"]).map(lambda p: SetPercentageOfActors(Percentage(p))),
    st.sampled_from(["0", "3", "60"]).map(lambda p: SetPercentageOfTime(Percentage(p))),
    st.just(DeleteFlag()),
    st.builds(RestoreState, STATES, st.booleans()),
)
_names = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=STATES, exists=st.booleans(), change=CHANGES)
async def test_simulate_agrees_with_the_stores_real_apply(
    store: FlagStore, state: FlagState, exists: bool, change: Change
) -> None:
    name = f"prop_flag_{next(_names)}"
    fields: dict[Any, Any] = state.to_hash()
    if fields:
        await store.redis.hset(store.keys.flag(name), mapping=fields)
    if exists:
        await store.redis.sadd(store.keys.features, name)
    record = await store.get(name)
    expected = simulate(record.state, record.exists, change)
    result = await store.apply(name, change, AuditInfo(who="property"))
    assert (result.after, result.after_exists) == expected
    now = await store.get(name)
    assert (now.state, now.exists) == expected
    reduces = isinstance(change, DeleteFlag) or (isinstance(change, SetBoolean | SetScopes) and not change.enables)
    if reduces:  # the changes the production check must never block
        assert not increases_exposure(record.state, now.state)
    if change == SetBoolean(True):
        assert increases_exposure(record.state, now.state) is not record.state.boolean


def test_the_rules_run_in_the_documented_order() -> None:
    assert [rule.name for rule in RULES] == [
        "freeze",
        "rollout_issue",
        "consistency_check",
        "deployment_check",
        "production_check",
        "percentage_step",
    ]


@dataclass
class Probe:
    """A safety rule of our own: records what it was shown; refuses when told to."""

    name: ClassVar[str] = "probe_rule"
    refuse: bool = False
    applies_to: bool = True
    seen: list[list[Target]] = field(default_factory=list)

    def applies(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> bool:
        return self.applies_to

    async def check(self, request: ChangeRequest, targets: Sequence[Target], context: Context) -> Verdict:
        self.seen.append(list(targets))
        if self.refuse:
            return Verdict(refusal=error_reply("The probe rule says no. Nothing was changed in any environment."))
        return Verdict(record="looked at 2 targets", warnings=(line(":warning: probe warning"),))


def request_and_context(bot: Chatops) -> tuple[ChangeRequest, Context]:
    config = bot.app.config
    staging, production = config.environment("staging"), config.environment("production")
    assert staging is not None and production is not None
    caller = Caller("U0ALICE", "alice", "C0PROD", "production")
    request = ChangeRequest(FLAG, (staging, production), SetBoolean(True), caller, "custom rule test")
    return request, Context(bot.app, caller, ShellBackend("alice", frozenset({"sre"})))


async def test_a_custom_rule_sees_the_targets_and_its_record_is_audited(chatops: MakeChatops) -> None:
    bot = await chatops()
    await bot.app.stores["staging"].apply(FLAG, SetPercentageOfActors(Percentage("5")), AuditInfo(who="x"))
    request, context = request_and_context(bot)
    probe = Probe()
    reply = await apply_change(request, context, rules=(probe,))
    assert reply.ok
    [[staging, production]] = probe.seen
    assert (staging.environment.name, staging.record.version, staging.record.state) == ("gstg", 1, pct("5"))
    assert (staging.after, staging.after_exists, staging.increases) == (ON, True, True)
    assert (production.environment.name, production.record.exists, production.after) == ("gprd", False, ON)
    assert reply.sections[0].lines[2] == line(":warning: probe warning")
    for option in ("staging", "production"):
        [entry] = await bot.app.stores[option].history(FLAG, limit=1)
        assert (entry.checks, entry.command, entry.who) == (
            {"probe_rule": "looked at 2 targets"},
            request.command,
            "alice",
        )


async def test_a_custom_refusal_stops_the_write_and_later_rules(chatops: MakeChatops) -> None:
    bot = await chatops()
    request, context = request_and_context(bot)
    skipped, refusing, after = Probe(applies_to=False), Probe(refuse=True), Probe()
    before = await bot.keyspace()
    reply = await apply_change(request, context, rules=(skipped, refusing, after))
    assert not reply.ok and reply.summary.startswith("The probe rule says no.")
    assert (len(skipped.seen), len(refusing.seen), len(after.seen)) == (0, 1, 0)
    assert await bot.keyspace() == before
