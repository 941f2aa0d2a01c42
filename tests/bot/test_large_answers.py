"""Valid but large changes still get their answer in Slack: long lists are summarised and every
message stays within Slack's limits (a section over 3,000 characters used to lose the answer)."""

from __future__ import annotations

from flags import ActorId, AuditInfo, SetScopes
from flags.store import FlagStore
from tests.bot.conftest import FLAG, BotUnderTest

D = "#development"


async def test_300_users_in_one_command_are_answered_and_summarised(bot: BotUnderTest) -> None:
    users = ",".join(f"user{i:03d}" for i in range(300))
    message = await bot.command(f"run feature set {FLAG} true --staging --user={users}", channel=D)
    text = " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    assert message["response_type"] == "in_channel", text[:500]
    assert f"*Enabled for 300 actors and groups*: `{FLAG}` on gstg" in text
    assert "`off` → `300 actors: User:user000, User:user001," in text and "… and 290 more`" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section")
    fields = await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}")
    assert len(fields) == 300 and fields["actors/User:user299"] == "1"
    await bot.slack.wait_for(lambda: bot.slack.posts("#feature-flag-log"))
    assert "… and 290 more" in bot.slack.post_texts("#feature-flag-log")[0]


async def test_a_flag_with_1000_actors_is_read_and_changed_with_an_answer(bot: BotUnderTest, redis_url: str) -> None:
    store = FlagStore.from_url(redis_url, prefix=f"{bot.prefix}gstg:", environment="gstg")
    actors = tuple(ActorId(f"User:someone{i:04d}") for i in range(1000))
    await store.apply(FLAG, SetScopes(True, actors), AuditInfo(who="import"))
    await store.close()
    got = await bot.command(f"run feature get {FLAG} --staging", channel=D)
    assert "1000 actors: User:someone0000, User:someone0001" in got["blocks"][0]["text"]["text"]
    changed = await bot.command(f"run feature set {FLAG} false --staging", channel=D)
    text = " ".join(b["text"]["text"] for b in changed["blocks"] if b["type"] == "section")
    assert changed["response_type"] == "in_channel" and "… and 990 more" in text and "off" in text
    assert await bot.redis.hgetall(f"{bot.prefix}gstg:{FLAG}") == {}
