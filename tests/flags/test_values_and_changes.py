"""Value types and change building: validated when built, with messages that say how to fix it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flags import (
    ActorId,
    FlagName,
    FlagState,
    GroupName,
    InvalidActor,
    InvalidChange,
    InvalidFlagName,
    InvalidPercentage,
    Percentage,
    SetBoolean,
    SetPercentageOfActors,
    SetPercentageOfTime,
    SetScopes,
    build_change,
)
from flags.exposure import same_exposure


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("0", "0"),
        ("100", "100"),
        ("50", "50"),
        ("12.5", "12.5"),
        ("12.500", "12.5"),
        ("0.001", "0.001"),
        ("99.999", "99.999"),
        (" 7 ", "7"),
        ("007", "7"),
        (".5", "0.5"),
        ("100.000", "100"),
    ],
)
def test_percentages_are_stored_in_their_shortest_form(text: str, stored: str) -> None:
    assert Percentage(text).text == stored


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("101", "outside 0-100"),
        ("-1", "not a percentage"),
        ("1.2345", "more than 3 decimals"),
        ("abc", "not a percentage"),
        ("", "not a percentage"),
        ("1e2", "not a percentage"),
        ("NaN", "not a percentage"),
        ("inf", "not a percentage"),
        ("+5", "not a percentage"),
        ("5%", "not a percentage"),
        ("100.001", "outside 0-100"),
    ],
)
def test_bad_percentages_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidPercentage, match=message):
        Percentage(text)


@given(st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False))
def test_every_percentage_with_three_decimals_round_trips(value: Decimal) -> None:
    assert Decimal(Percentage(str(value)).text) == value


@given(st.text(max_size=20))
def test_percentage_accepts_exactly_plain_numbers_0_to_100_with_3_decimals(text: str) -> None:
    stripped = text.strip()
    plain = stripped.replace(".", "", 1).isascii() and stripped.replace(".", "", 1).isdigit()
    try:
        valid = plain and 0 <= Decimal(stripped) <= 100 and -Decimal(stripped).normalize().as_tuple().exponent <= 3  # type: ignore[operator]
    except ArithmeticError:
        valid = False
    try:
        Percentage(text)
        accepted = True
    except InvalidPercentage:
        accepted = False
    assert accepted == bool(valid)


@pytest.mark.parametrize(
    "name", ["a", "feature_x", "enforce_explicit_connection_for_partitioned_shared_models", "a" * 255]
)
def test_valid_flag_names(name: str) -> None:
    assert FlagName(name).value == name


def test_actor_ids_for_every_scope_option() -> None:
    assert [ActorId.of(k, "v").value for k in ("user", "project", "group", "namespace", "repository")] == [
        "User:v",
        "Project:v",
        "Group:v",
        "Namespace:v",
        "Repository:v",
    ]
    assert ActorId.of("project", "gitlab-org/gitaly").value == "Project:gitlab-org/gitaly"
    with pytest.raises(InvalidActor, match="--user value is empty"):
        ActorId.of("user", "")
    with pytest.raises(InvalidActor, match="unknown actor type"):
        ActorId.of("robot", "r2")
    with pytest.raises(InvalidActor, match="spaces"):
        ActorId("User:a b")


def test_build_change_follows_the_spec() -> None:
    alice = ActorId("User:alice")
    assert build_change("true") == SetBoolean(True)
    assert build_change("FALSE") == SetBoolean(False)
    assert build_change("100") == SetBoolean(True)
    assert build_change("0") == SetBoolean(False)
    assert build_change("25", percentage_of="actors") == SetPercentageOfActors(Percentage("25"))
    assert build_change("0", percentage_of="actors") == SetPercentageOfActors(Percentage("0"))
    assert build_change("5", percentage_of="time") == SetPercentageOfTime(Percentage("5"))
    assert build_change("true", actors=[alice]) == SetScopes(True, (alice,))
    assert build_change("false", groups=[GroupName("g")]) == SetScopes(False, (), (GroupName("g"),))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("50",), {}, InvalidChange, "needs --actors"),
        (("50",), {"actors": [ActorId("User:a")]}, InvalidChange, "cannot be combined"),
        (("true",), {"percentage_of": "actors"}, InvalidChange, "needs a percentage"),
        (("true",), {"percentage_of": "other"}, InvalidChange, "unknown percentage kind"),
        (("maybe",), {}, InvalidPercentage, "not a percentage"),
    ],
)
def test_bad_combinations(args, kwargs, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        build_change(*args, **kwargs)


def test_scopes_are_bounded() -> None:
    with pytest.raises(InvalidChange, match="at most 1000"):
        SetScopes(True, tuple(ActorId(f"User:{i}") for i in range(1001)))
    with pytest.raises(InvalidChange, match="at least one"):
        SetScopes(True)


def test_invalid_names_explain_the_rule() -> None:
    with pytest.raises(InvalidFlagName, match="lower-case letters, digits and underscores"):
        FlagName("Bad-Name")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (FlagState(), FlagState(), True),
        (FlagState(boolean=True), FlagState(boolean=True, percentage_of_actors="10"), True),  # on is on
        (FlagState(boolean=True), FlagState(actors=frozenset({"User:a"})), False),
        (FlagState(percentage_of_actors="25"), FlagState(percentage_of_actors="25.0"), True),  # the same number
        (FlagState(percentage_of_actors="0"), FlagState(), True),
        (FlagState(percentage_of_actors="25"), FlagState(percentage_of_time="25"), False),
        (FlagState(percentage_of_actors="x"), FlagState(), False),  # corrupt text is not taken for none
        (FlagState(groups=frozenset({"beta"})), FlagState(groups=frozenset({"beta"})), True),
        (FlagState(groups=frozenset({"beta"})), FlagState(), False),
    ],
)
def test_same_exposure_is_what_evaluation_cannot_tell_apart(a: FlagState, b: FlagState, same: bool) -> None:
    assert same_exposure(a, b) is same and same_exposure(b, a) is same
