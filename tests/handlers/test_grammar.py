"""The grammar and every refusal parsing and planning give: private, clear, and nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from handlers.composition import COMMANDS
from handlers.core.reply import Reply
from tests.handlers.conftest import FLAG, Chatops, MakeChatops
from tests.helpers import memory_keyspace

P, D = "#production", "#development"
CRASH = "Something went wrong on our side"
SET_USAGE = "`feature set` needs a flag name and a value"
LIMIT = "`--limit` must be a whole number from 1 to 100"
MR = "https://gitlab.com/gitlab-org/gitlab/-/merge_requests/123"
SET, HISTORY = f"run feature set {FLAG}", f"run feature history {FLAG}"


def case(id: str, text: str, channel: str, expected: str) -> Any:
    return pytest.param(text, channel, expected, id=id)


REFUSALS = [
    case("empty", "", P, "Empty command"),
    case("blank", "   ", P, "Empty command"),
    case("no run", "feature set x true", P, "commands start with `run`"),
    case("unknown first word", "fun feature set x true", P, "Unknown word `fun`"),
    case("command typo", "run fature set x true", P, "Unknown command `fature`. Did you mean `feature`?"),
    case("unknown command", "run deploy now", P, "Valid commands: `feature`"),
    case("sub typo", "run feature sett x true", P, "Unknown subcommand `sett` for `feature`. Did you mean `set`?"),
    case(
        "unknown sub",
        "run feature enable x",
        P,
        "Valid subcommands: `get`, `set`, `list`, `delete`, `changes`, `kill`, `rollout`, `schedule`, `history`",
    ),
    case("set alone", "run feature set", P, SET_USAGE),
    case("set without value", SET, P, SET_USAGE),
    case("word value", f"{SET} maybe", P, "`maybe` is not a valid value"),
    case("over 100", f"{SET} 101 --actors", P, "`101` is not a valid value"),
    case("negative", f"{SET} -5 --actors", P, "`-5` is not a valid value"),
    case("exponent", f"{SET} 1e2 --actors", P, "`1e2` is not a valid value"),
    case("nan", f"{SET} nan --actors", P, "`nan` is not a valid value"),
    case("percentage alone", f"{SET} 50", P, "A percentage of 50 needs `--actors`"),
    case("fraction alone", f"{SET} 0.5 --staging", D, "A percentage of 0.5 needs `--actors`"),
    case("actors and random", f"{SET} 50 --actors --random", P, "either `--actors`"),
    case("actors with true", f"{SET} true --actors", P, "`--actors` needs a percentage"),
    case("random with true", f"{SET} true --random", P, "`--random` needs a percentage"),
    case("actors+user", f"{SET} 50 --actors --user=alice", P, "`--actors` cannot be combined with `--user`"),
    case("random+project", f"{SET} 5 --random --project=a/b", P, "`--random` cannot be combined with `--project`"),
    case("random deprecated", f"{SET} 5 --random --staging", D, "`--random` (percentage of time) is deprecated"),
    case("four decimals", f"{SET} 12.3456 --actors", P, "more than 3 decimals"),
    case("tiny percentage", f"{SET} 0.0001 --actors --staging", D, "more than 3 decimals"),
    case("bad name", "run feature set Bad-Name true --staging", D, "`Bad-Name` is not a valid flag name"),
    case("channel mention", "run feature set <!channel> true --staging", D, "`<!channel>` is not a valid flag name"),
    case("user mention", "run feature set <@U0SRE> true --staging", D, "`<@U0SRE>` is not a valid flag name"),
    case("unicode name", "run feature set ƒlag true --staging", D, "`ƒlag` is not a valid flag name"),
    case("undefined", "run feature set typo_flag true --staging", D, "No flag named `typo_flag`: it has no definition"),
    case("name typo", f"{SET[:-1]} true --staging", D, f"No flag named `{FLAG[:-1]}` — did you mean `{FLAG}`?"),
    case("get name typo", f"run feature get {FLAG[:-1]}", D, f"No flag named `{FLAG[:-1]}` — did you mean `{FLAG}`?"),
    case(
        "option typo",
        f"{SET} true --stagin",
        D,
        "Unknown option `--stagin` for `feature set`. Did you mean `--staging`?",
    ),
    case("em dash option", f"{SET} true \u2014stging", D, "Unknown option `--stging`"),
    case("one dash", f"{SET} true -staging", D, "options start with two dashes"),
    case("user without value", f"{SET} true --user", D, "`--user` needs a value"),
    case("user empty", f"{SET} true --user= --staging", D, "`--user` has an empty name"),
    case("user empty item", f"{SET} true --user=a,,b --staging", D, "`--user` has an empty name"),
    case("user mention actor", f"{SET} true --user=<@U0SRE> --staging", D, "contains '<', '>', '|'"),
    case("bad group", f"{SET} true --feature-group=<!here> --staging", D, "not a valid feature group name"),
    case("space in list", f"{SET} true --user=a b --staging", D, "Unexpected `b`"),
    case("environment value", f"{SET} true --staging=yes", D, "`--staging` takes no value"),
    case("flag value", f"{SET} true --actors=yes", D, "`--actors` takes no value"),
    case("extra argument", f"{SET} true extra --staging", D, "Unexpected `extra`"),
    case("open quote", f"run feature set '{FLAG} true --staging", D, "a quote is not closed"),
    case("help with value", f"{SET} true --help=yes", D, "Unknown option `--help`"),
    case("get alone", "run feature get", D, "`feature get` needs a flag name"),
    case("get two names", f"run feature get {FLAG} other", D, "Unexpected `other`"),
    case("delete alone", "run feature delete", P, "`feature delete` needs a flag name"),
    case("delete bad name", "run feature delete Bad --staging", D, "`Bad` is not a valid flag name"),
    case("list with name", "run feature list extra", D, "`feature list` takes no flag name"),
    case("match without value", "run feature list --match", D, "`--match` needs a value"),
    case("limit zero", f"{HISTORY} --limit 0", D, LIMIT),
    case("limit over 100", f"{HISTORY} --limit 101", D, LIMIT),
    case("limit negative", f"{HISTORY} --limit=-1", D, LIMIT),
    case("limit word", f"{HISTORY} --limit abc", D, LIMIT),
    case("limit superscript", f"{HISTORY} --limit ²", D, LIMIT),
    case("limit arabic digit", f"{HISTORY} --limit \u0663", D, LIMIT),
    case("limit fullwidth digit", f"{HISTORY} --limit=\uff15", D, LIMIT),
    case("limit without value", f"{HISTORY} --limit", D, "`--limit` needs a value"),
    case("too long", "run feature set " + "a" * 10_000 + " true", P, "the limit is 4,000"),
    case("help unknown topic", "help nonsense", D, "`help` takes one command name (`feature`"),
    case("help two topics", "help feature release", D, "`help` takes one command name"),
    case("sha not hex", "run auto_deploy status xyz", D, "`xyz` is not a commit SHA"),
    case("sha too short", "run auto_deploy status abc12", D, "`abc12` is not a commit SHA"),
    case("two shas", "run auto_deploy status abc1234 def5678", D, "takes at most one commit SHA"),
    case("env on status", "run auto_deploy status --staging", D, "Unknown option `--staging` for `auto_deploy status`"),
    case("release alone", "run release check", D, "`release check` needs a merge request URL and a milestone"),
    case("release bad url", "run release check https://gitlab.com/x 16.5", D, "is not a merge request URL"),
    case("release bad milestone", f"run release check {MR} sixteen", D, "`sixteen` is not a milestone"),
    case("release major only", f"run release check {MR} 16", D, "`16` is not a milestone"),
]
# Refused by the channel rules: also reported to the security channel.
REFUSED_BY_POLICY = [
    case("production elsewhere", f"{SET} true --production", D, "may only run in #production"),
    case("all or nothing", f"{SET} false --staging --production", D, "Nothing was changed in any environment"),
    case("delete elsewhere", f"run feature delete {FLAG} --staging --production", D, "may only run in #production"),
]
HELP = [
    ("feature alone", "run feature", ("/chatops run feature set NAME VALUE", "/chatops run feature history NAME")),
    ("feature --help", "run feature --help", ("/chatops run feature get NAME",)),
    ("help feature", "help feature", ("`--actors`", "`--limit=N`", "`--match=SUBSTRING`")),
    ("set --help", "run feature set --help", ("`--ignore-random-deprecation-check`", "`--user=NAMES`")),
    ("get --help", f"run feature get {FLAG} --help", ("/chatops run feature get NAME",)),
    ("auto_deploy --help", "run auto_deploy --help", ("/chatops run auto_deploy status [SHA]",)),
    ("run help", "run help", ("Rules in #development",)),
    ("help", "help", ("/chatops run feature", "/chatops run release")),
    ("run alone", "run", ("Rules in #development",)),
    ("run -h", "run -h", ("Rules in #development",)),
]


@pytest.fixture
async def bot(chatops: MakeChatops) -> Chatops:
    """The example configuration with something to protect: the flag on in staging and production."""
    harness = await chatops()
    assert (await harness.run(f"/chatops run feature set {FLAG} true --staging --production")).ok
    assert await harness.gates("production") == {"boolean": "true"}
    return harness


@pytest.mark.parametrize(("text", "channel", "expected"), REFUSALS)
async def test_a_mistake_is_answered_privately_and_changes_nothing(
    bot: Chatops, text: str, channel: str, expected: str
) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops {text}", channel=channel)
    assert not answer.ok and not answer.reply.public
    assert expected in answer.text, answer.text[:500]
    assert CRASH not in answer.text
    assert answer.posts == []  # a typo is nobody else's business
    assert await bot.keyspace() == before


@pytest.mark.parametrize(("text", "channel", "expected"), REFUSED_BY_POLICY)
async def test_a_refusal_by_the_channel_rules_is_reported(bot: Chatops, text: str, channel: str, expected: str) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops {text}", channel=channel)
    assert not answer.ok and not answer.reply.public
    assert expected in answer.text
    assert [p.channel for p in answer.posts] == ["#chatops-security"]
    assert await bot.keyspace() == before


@pytest.mark.parametrize(("text", "expected"), [pytest.param(*h[1:], id=h[0]) for h in HELP])
async def test_help_is_a_private_answer(bot: Chatops, text: str, expected: tuple[str, ...]) -> None:
    before = await bot.keyspace()
    answer = await bot.run(f"/chatops {text}", channel=D, groups=())
    assert answer.ok and not answer.reply.public and answer.posts == []
    for substring in expected:
        assert substring in answer.text, (substring, answer.text)
    assert await bot.keyspace() == before


async def test_set_help_lists_every_option_with_a_description(bot: Chatops) -> None:
    answer = await bot.run("/chatops run feature set --help", channel=D)
    set_spec = COMMANDS.grammar["feature"].subcommand("set")
    assert set_spec is not None and len(set_spec.options) == 15
    for option in set_spec.options:
        assert f"`--{option.name}" in answer.text and option.help in answer.text, option
    assert "`--dev --pre --staging --staging-ref --ops --production` — target these environments" in answer.text


# -- generated text ------------------------------------------------------------------------------

_SPECS = list(COMMANDS.grammar.values())
_OPTIONS = sorted({f"--{o.name}" for spec in _SPECS for form in spec.forms for o in form.options})
ENVIRONMENTS = ["--dev", "--pre", "--staging", "--staging-ref", "--ops", "--production"]
WORDS = [
    *COMMANDS.grammar,
    *sorted({form.name for spec in _SPECS for form in spec.forms if form.name}),
    *_OPTIONS,
    *(f"{option}=x,y" for option in _OPTIONS),
    *ENVIRONMENTS,
    *("--help", "-h", "--", "-", "=", "run", FLAG, f"`{FLAG}`", "x", "Bad-Name", "true", "false", "TRUE", "50"),
    *("12.5", "0.001", "101", "-1", "0", "100", "1e2", "nan", "abc1234", MR, "16.5", "--limit=3", "--user=alice"),
    *("\u2014staging", "\u2013dev", "\u2212production", "'", '"', "\u201cq\u201d", "\u2018x\u2019", "<!channel>"),
    *("<@U0SRE>", "&amp;", ",", "\u00a0", "🙂", "ƒlag", "٣", "²", "\\", "|", "*bold*", "--match=enforce"),
]
words = st.lists(st.sampled_from(WORDS), max_size=9).map(" ".join)
# Well-formed feature commands (about half the examples), so that many get past parsing and planning.
names = st.sampled_from([FLAG, f"`{FLAG}`", "other_flag"])
environments = st.lists(st.sampled_from(ENVIRONMENTS), max_size=3).map(" ".join)
set_options = ["--actors", "--random", "--user=alice", "--ignore-feature-flag-consistency-check"]
feature_like = st.one_of(
    st.builds(
        "/chatops run feature set {} {} {} {}".format,
        names,
        st.sampled_from(["true", "false", "0", "100", "25", "12.5", "0.001"]),
        st.lists(st.sampled_from(set_options), max_size=2).map(" ".join),
        environments,
    ),
    st.builds(
        "/chatops run feature {} {} {}".format, st.sampled_from(["get", "delete", "history"]), names, environments
    ),
    st.builds("/chatops run feature list {}".format, environments),
)
button = st.builds(
    ":{} {}|{}|{}".format,
    st.sampled_from([*COMMANDS.action_ids, "nope"]),
    st.sampled_from(["production", "staging", "dev", "nope", ""]),
    st.sampled_from([FLAG, "Bad-Name", ""]),
    st.sampled_from(["1-0", "0-0", "99999999999999999999-1", "x", ""]),
)
commands = st.one_of(
    feature_like,
    st.one_of(
        words.map(lambda s: "/chatops " + s),
        words.map(lambda s: "/chatops run feature " + s),
        button,
        words.map(lambda s: ":" + s),
        st.text(max_size=200),
    ),
)


#: A digest of every key under the prefix and its contents, in one round trip: the harness's
#: keyspace() takes ~3 ms, which would dominate 1,500 examples. Contents, not DUMP's bytes: a
#: hash stored as a hash table is dumped in its table's order, which a read can change (each
#: lookup moves a growing table's rehashing on), so a refusal that only read would seem to write.
#: The flags in memory are compared as they are (memory_keyspace).
_DIGEST = """
local keys = redis.call('KEYS', ARGV[1] .. '*')
table.sort(keys)
local parts = {}
for _, key in ipairs(keys) do
  local kind = redis.call('TYPE', key).ok
  local value
  if kind == 'string' then value = {redis.call('GET', key)}
  elseif kind == 'hash' then
    local flat, fields = redis.call('HGETALL', key), {}
    for i = 1, #flat, 2 do fields[#fields + 1] = cjson.encode({flat[i], flat[i + 1]}) end
    table.sort(fields)
    value = fields
  elseif kind == 'set' then value = redis.call('SMEMBERS', key); table.sort(value)
  elseif kind == 'zset' then value = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  elseif kind == 'list' then value = redis.call('LRANGE', key, 0, -1)
  elseif kind == 'stream' then value = redis.call('XRANGE', key, '-', '+')
  else value = {redis.sha1hex(redis.call('DUMP', key))} end
  parts[#parts + 1] = cjson.encode({key, kind, value})
end
return redis.sha1hex(table.concat(parts, ';'))
"""


async def digest(bot: Chatops) -> tuple[str, dict[str, Any]]:
    """The bot's own keys (a digest) and the flags in memory."""
    return str(await bot.redis.eval(_DIGEST, 0, bot.prefix)), await memory_keyspace(bot.app.stores.values())


@dataclass
class Fuzzed:
    bot: Chatops
    seen: tuple[str, dict[str, Any]]  # the digest after the last example: where the next one starts


@pytest.fixture
async def fuzz_bot(chatops: MakeChatops) -> Fuzzed:
    harness = await chatops()
    await harness.run(f"/chatops run feature set {FLAG} 25 --actors --dev --staging")
    before = await digest(harness)
    assert await digest(harness) == before
    assert (await harness.run(f"/chatops run feature set {FLAG} 30 --actors --dev")).ok
    after = await digest(harness)
    assert after[1] != before[1]  # the digest sees a change of a flag
    assert (await harness.run(f"/chatops run feature get {FLAG} --dev --staging")).ok
    assert (await harness.run(f"/chatops run feature history {FLAG} --dev")).ok
    assert await digest(harness) == after  # and reads are no change
    return Fuzzed(harness, after)


QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # one harness for all examples, on purpose


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=QUIET)
@given(line=commands, channel=st.sampled_from([D, P, "#random"]), groups=st.sampled_from([(), ("sre",)]))
async def test_generated_text_is_always_answered_and_only_an_ok_answer_writes(
    fuzz_bot: Fuzzed, line: str, channel: str, groups: tuple[str, ...]
) -> None:
    before = fuzz_bot.seen  # nothing runs between examples: one digest an example is enough
    with capture_logs() as logs:
        answer = await fuzz_bot.bot.run(line, channel=channel, groups=groups)
    fuzz_bot.seen = await digest(fuzz_bot.bot)
    assert isinstance(answer.reply, Reply) and answer.reply.summary.strip(), line
    assert CRASH not in answer.text, (line, answer.text)
    assert not [e for e in logs if e.get("log_level") in ("error", "critical")], (line, logs)
    if not answer.ok:
        assert fuzz_bot.seen == before, (line, answer.text)
