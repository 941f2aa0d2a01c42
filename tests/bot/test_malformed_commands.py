"""Bad input over the real, signed HTTP endpoint: an ephemeral, Slack-escaped answer, and nothing changed.

The full table of mistakes runs in-process (tests/handlers/test_grammar.py); these cases show what
only Slack shows: escaping of what people typed, the form-encoded body, the security channel post.
"""

from __future__ import annotations

from tests.bot.conftest import FLAG, BotUnderTest
from tests.helpers import keyspace

P = "#production"
D = "#development"
CASES: list[tuple[str, str, str]] = [
    # (command text, channel, what the answer must say, as Slack receives it)
    ("   ", P, "Empty command"),
    ("run feature set <!channel> true --staging", D, "`&lt;!channel&gt;` is not a valid flag name"),
    ("run feature set <@U0SRE> true --staging", D, "`&lt;@U0SRE&gt;` is not a valid flag name"),
    (f"run feature set {FLAG} true --user=<@U0SRE> --staging", D, "contains '&lt;', '&gt;', '|'"),
    ("run feature set a&b=c true --staging", D, "`a&amp;b=c` is not a valid flag name"),  # & and = in a form body
    ("run feature set " + "a" * 10_000 + " true", P, "the limit is 4,000"),
    (f"run feature set {FLAG} true --staging --production", D, "may only run in #production"),
]
REFUSED_BY_POLICY = 1


async def test_malformed_commands_over_http_are_answered_escaped_and_change_nothing(bot: BotUnderTest) -> None:
    # Something to protect: the flag is on in staging and production.
    await bot.text(f"run feature set {FLAG} true --staging --production", channel=P)
    before = await keyspace(bot.redis, bot.prefix)
    for text, channel, expected in CASES:
        kind, answer = await bot.text(text, channel=channel)
        assert kind == "ephemeral", (text[:80], answer)
        assert expected in answer, (text[:80], answer[:500])
        assert "<!channel>" not in answer and "<@U0SRE>" not in answer  # never a live mention
        assert "Traceback" not in answer
    assert await keyspace(bot.redis, bot.prefix) == before
    await bot.slack.wait_for(lambda: len(bot.slack.post_texts("#chatops-security")) == REFUSED_BY_POLICY)
    [report] = bot.slack.post_texts("#chatops-security")
    assert "Refused: <@U0SRE> in #development" in report and "gprd may only be changed in #production" in report
