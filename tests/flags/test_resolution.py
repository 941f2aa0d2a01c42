"""Why a flag is on or off for an actor, in OpenFeature's words: each gate's reason, Flipper's order."""

from __future__ import annotations

from flags.evaluation import compile_flag
from flags.resolution import Resolution, compile_resolution, resolve
from flags.state import FlagState

NAME = "checkout_v2"


def test_each_gate_gives_its_reason_in_flippers_order() -> None:
    assert resolve(NAME, FlagState(boolean=True), "User:1") == Resolution(True, "STATIC", "boolean")
    assert resolve(NAME, FlagState()) == Resolution(False, "DISABLED")
    actors = FlagState(actors=frozenset({"User:1"}), groups=frozenset({"admins"}))
    assert resolve(NAME, actors, "User:1") == Resolution(True, "TARGETING_MATCH", "actor")
    assert resolve(NAME, actors, "User:2", ["admins"]) == Resolution(True, "TARGETING_MATCH", "group")
    assert resolve(NAME, actors, "User:2", ["staff"]) == Resolution(False, "DEFAULT")
    assert resolve(NAME, actors, None) == Resolution(False, "DEFAULT")
    everyone = FlagState(percentage_of_actors="100")
    assert resolve(NAME, everyone, "User:2") == Resolution(True, "SPLIT", "percentage_of_actors")
    assert resolve(NAME, everyone, None) == Resolution(False, "DEFAULT")  # no actor: no share of actors
    assert resolve(NAME, FlagState(percentage_of_time="100")) == Resolution(True, "SPLIT", "percentage_of_time")


def test_a_share_of_actors_is_the_same_one_the_sdk_picks() -> None:
    state = FlagState(percentage_of_actors="37")
    sdk = compile_flag(NAME, state, {})
    for n in range(2000):
        actor = f"User:{n}"
        assert resolve(NAME, state, actor).enabled == sdk(actor), actor


def test_a_malformed_gate_counts_as_closed() -> None:
    assert resolve(NAME, FlagState(percentage_of_actors="lots"), "User:1").enabled is False


def test_a_compiled_resolver_answers_as_resolve_for_every_actor_and_group() -> None:
    state = FlagState(
        actors=frozenset({"User:3"}), groups=frozenset({"beta"}), percentage_of_actors="20", percentage_of_time="0"
    )
    resolver = compile_resolution(NAME, state)
    for n in range(500):
        groups = ["beta"] if n % 7 == 0 else ["staff"]
        assert resolver(f"User:{n}", groups) == resolve(NAME, state, f"User:{n}", groups)
    assert {resolver(f"User:{n}", []).reason for n in range(500)} == {"TARGETING_MATCH", "SPLIT", "DEFAULT"}
    assert compile_resolution(NAME, FlagState(boolean=True, actors=frozenset({"User:1"})))(None, ()) == Resolution(
        True, "STATIC", "boolean"
    )
    assert compile_resolution(NAME, FlagState(percentage_of_time="0"))("User:1", ()) == Resolution(False, "DISABLED")


def test_groups_that_are_not_names_count_as_none() -> None:
    state = FlagState(groups=frozenset({"beta"}))
    assert resolve(NAME, state, "User:1", [["beta"]]) == Resolution(False, "DEFAULT")  # type: ignore[list-item]
