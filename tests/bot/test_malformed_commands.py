"""Bad input gets a clear ephemeral answer and changes nothing (SPEC §3, issue 3).

Every case goes through the real HTTP endpoint, signed; the Redis keyspace is
compared before and after the whole table.
"""

from __future__ import annotations

import pytest

from tests.bot.conftest import FLAG, BotUnderTest
from tests.helpers import keyspace

P = "#production"
D = "#development"
CASES: list[tuple[str, str, str]] = [
    # (command text, channel, what the answer must say)
    ("", P, "Empty command"),
    ("   ", P, "Empty command"),
    ("feature set x true", P, "commands start with `run`"),
    ("fun feature set x true", P, "Unknown word `fun`"),
    ("run fature set x true", P, "Unknown command `fature`. Did you mean `feature`?"),
    ("run deploy now", P, "Valid commands: `feature`"),
    ("run feature sett x true", P, "Unknown subcommand `sett` for `feature`. Did you mean `set`?"),
    ("run feature enable x", P, "Valid subcommands: `get`, `set`, `list`, `delete`, `history`"),
    ("run feature set", P, "`feature set` needs a flag name and a value"),
    (f"run feature set {FLAG}", P, "`feature set` needs a flag name and a value"),
    (f"run feature set {FLAG} maybe", P, "`maybe` is not a valid value"),
    (f"run feature set {FLAG} 101 --actors", P, "`101` is not a valid value"),
    (f"run feature set {FLAG} -5 --actors", P, "`-5` is not a valid value"),
    (f"run feature set {FLAG} 1e2 --actors", P, "`1e2` is not a valid value"),
    (f"run feature set {FLAG} nan --actors", P, "`nan` is not a valid value"),
    (f"run feature set {FLAG} 50", P, "A percentage of 50 needs `--actors`"),
    (f"run feature set {FLAG} 0.5 --staging", D, "A percentage of 0.5 needs `--actors`"),
    (f"run feature set {FLAG} 50 --actors --random", P, "either `--actors`"),
    (f"run feature set {FLAG} true --actors", P, "`--actors` needs a percentage"),
    (f"run feature set {FLAG} true --random", P, "`--random` needs a percentage"),
    (f"run feature set {FLAG} 50 --actors --user=alice", P, "`--actors` cannot be combined with `--user`"),
    (f"run feature set {FLAG} 5 --random --project=a/b", P, "`--random` cannot be combined with `--project`"),
    (f"run feature set {FLAG} 5 --random --staging", D, "`--random` (percentage of time) is deprecated"),
    (f"run feature set {FLAG} 12.3456 --actors", P, "more than 3 decimals"),
    (f"run feature set {FLAG} 0.0001 --actors --staging", D, "more than 3 decimals"),
    ("run feature set Bad-Name true --staging", D, "`Bad-Name` is not a valid flag name"),
    ("run feature set <!channel> true --staging", D, "`&lt;!channel&gt;` is not a valid flag name"),
    ("run feature set <@U0SRE> true --staging", D, "`&lt;@U0SRE&gt;` is not a valid flag name"),
    ("run feature set ƒlag true --staging", D, "`ƒlag` is not a valid flag name"),
    ("run feature set typo_flag_name true --staging", D, "There is no definition for `typo_flag_name`"),
    (f"run feature set {FLAG[:-1]} true --staging", D, f"Did you mean `{FLAG}`?"),
    (
        f"run feature set {FLAG} true --stagin",
        D,
        "Unknown option `--stagin` for `feature set`. Did you mean `--staging`?",
    ),
    (f"run feature set {FLAG} true —stging", D, "Unknown option `--stging`"),
    (f"run feature set {FLAG} true -staging", D, "options start with two dashes"),
    (f"run feature set {FLAG} true --user", D, "`--user` needs a value"),
    (f"run feature set {FLAG} true --user= --staging", D, "`--user` has an empty name"),
    (f"run feature set {FLAG} true --user=a,,b --staging", D, "`--user` has an empty name"),
    (f"run feature set {FLAG} true --user=<@U0SRE> --staging", D, "contains '&lt;', '&gt;', '|'"),
    (f"run feature set {FLAG} true --feature-group=<!here> --staging", D, "not a valid feature group name"),
    (f"run feature set {FLAG} true --user=a b --staging", D, "Unexpected `b`"),
    (f"run feature set {FLAG} true --staging=yes", D, "`--staging` takes no value"),
    (f"run feature set {FLAG} true --actors=yes", D, "`--actors` takes no value"),
    (f"run feature set {FLAG} true extra --staging", D, "Unexpected `extra`"),
    (f"run feature set '{FLAG} true --staging", D, "a quote is not closed"),
    (f"run feature set {FLAG} true --help=yes", D, "Unknown option `--help`"),
    ("run feature get", D, "`feature get` needs a flag name"),
    (f"run feature get {FLAG} other", D, "Unexpected `other`"),
    ("run feature delete", P, "`feature delete` needs a flag name"),
    ("run feature delete Bad --staging", D, "`Bad` is not a valid flag name"),
    ("run feature list extra", D, "`feature list` takes no flag name"),
    ("run feature list --match", D, "`--match` needs a value"),
    (f"run feature history {FLAG} --limit 0", D, "`--limit` must be a whole number from 1 to 100"),
    (f"run feature history {FLAG} --limit abc", D, "`--limit` must be a whole number from 1 to 100"),
    (f"run feature history {FLAG} --limit ²", D, "`--limit` must be a whole number from 1 to 100"),
    ("run feature set " + "a" * 10_000 + " true", P, "the limit is 4,000"),
    # channel rules and access (each also reported to the security channel)
    (f"run feature set {FLAG} true --production", D, "may only run in #production"),
    (f"run feature set {FLAG} true --staging --production", D, "Nothing was changed in any environment"),
    (f"run feature delete {FLAG} --staging --production", D, "may only run in #production"),
]
REFUSED_BY_POLICY = 3


async def test_every_malformed_command_is_answered_clearly_and_changes_nothing(bot: BotUnderTest) -> None:
    assert len(CASES) >= 50
    # Something to protect: the flag is on in staging and production.
    await bot.text(f"run feature set {FLAG} true --staging --production", channel=P)
    before = await keyspace(bot.redis, bot.prefix)
    for text, channel, expected in CASES:
        kind, answer = await bot.text(text, channel=channel)
        assert kind == "ephemeral", (text, answer)
        assert expected in answer, (text[:80], answer[:500])
        assert "Traceback" not in answer
    assert await keyspace(bot.redis, bot.prefix) == before
    await bot.slack.wait_for(lambda: len(bot.slack.post_texts("#chatops-security")) == REFUSED_BY_POLICY)


async def test_outside_the_access_rules_is_not_allowed_reported_and_writes_nothing(bot: BotUnderTest) -> None:
    before = await keyspace(bot.redis, bot.prefix)
    kind, answer = await bot.text(f"run feature set {FLAG} true --staging --production", user="U0DEV", channel=P)
    assert kind == "ephemeral"
    assert "This action is not allowed: changing gprd needs @sre or @database-frameworks" in answer
    assert await keyspace(bot.redis, bot.prefix) == before  # staging unchanged too
    await bot.slack.wait_for(lambda: bot.slack.post_texts("#chatops-security"))
    [report] = bot.slack.post_texts("#chatops-security")
    assert "Refused: <@U0DEV> in #production" in report and "changing gprd needs" in report


@pytest.mark.parametrize(
    "line",
    [
        f"run feature get {FLAG} --help",
        "run feature --help",
        "run feature set --help",
        "run help",
        "help",
    ],
)
async def test_help_is_an_ephemeral_answer(bot: BotUnderTest, line: str) -> None:
    kind, answer = await bot.text(line, channel=D)
    assert kind == "ephemeral"
    assert "/chatops run" in answer


async def test_set_help_lists_every_option_with_a_description(bot: BotUnderTest) -> None:
    _, answer = await bot.text("run feature set --help", channel=D)
    for option in (
        "--actors",
        "--random",
        "--user",
        "--project",
        "--group",
        "--namespace",
        "--repository",
        "--feature-group",
        "--ignore-production-check",
        "--ignore-feature-flag-consistency-check",
        "--ignore-random-deprecation-check",
        "--dev --pre --staging --staging-ref --ops --production",
    ):
        assert f"`{option}" in answer, option


async def test_help_names_the_rules_of_this_channel(bot: BotUnderTest) -> None:
    _, answer = await bot.text("help", channel=D)
    assert "Rules in #development" in answer
    assert "*gprd* (--production, default): cannot be changed here (only in #production), by @sre" in answer
    assert "*gstg* (--staging): can be changed here, by anyone" in answer
