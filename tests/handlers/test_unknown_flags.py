"""A name that is no flag (no definition, no state or history in any environment): ``feature get``
and ``feature set`` answer "No flag named X — did you mean Y?" with the nearest names among the
definitions and the flags stored anywhere, privately, writing nothing. A flag that is stored
somewhere, or has a definition, is answered as ever."""

from __future__ import annotations

from flags import AuditInfo, SetBoolean
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

D = "#development"
GET, SET = "/chatops run feature get", "/chatops run feature set"


async def _stored_without_definition(bot: Chatops, name: str = "legacy_search_flag", option: str = "ops") -> None:
    """A flag only in one environment's Redis, with no definition (written by another tool)."""
    await bot.app.stores[option].apply(name, SetBoolean(True), AuditInfo(who="ruby"))


async def test_get_and_set_of_a_misspelt_name_suggest_the_nearest_flags(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _stored_without_definition(bot)
    before = await bot.keyspace()
    for command in (f"{GET} legacy_serch_flag --staging", f"{SET} legacy_serch_flag true --staging"):
        answer = await bot.run(command, channel=D)
        assert not answer.ok and not answer.reply.public and answer.posts == [], answer.text
        assert "No flag named `legacy_serch_flag` — did you mean `legacy_search_flag`?" in answer.text, answer.text
    typo = f"{FLAG[:8]}_{FLAG[9:]}"  # one letter off the defined flag, stored nowhere
    answer = await bot.run(f"{GET} {typo}", channel=D)
    assert not answer.ok and f"No flag named `{typo}` — did you mean `{FLAG}`?" in answer.text, answer.text
    answer = await bot.run(f"{SET} {typo} true --staging", channel=D)
    assert not answer.ok and "Nothing was changed" in answer.text and "Something went wrong" not in answer.text
    nothing_near = await bot.run(f"{GET} zzz_quux", channel=D)
    assert not nothing_near.ok and "No flag named `zzz_quux`: it has no definition and no state in any environment" in (
        nothing_near.text
    )
    assert await bot.keyspace() == before


async def test_a_flag_stored_somewhere_or_defined_is_answered_as_ever(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _stored_without_definition(bot)
    stored = await bot.run(f"{GET} legacy_search_flag --ops --staging", channel=D)
    assert stored.ok and "ops: `on`" in stored.text and "gstg: `off`" in stored.text, stored.text
    defined = await bot.run(f"{GET} {FLAG} --staging", channel=D)  # a definition, no state anywhere
    assert defined.ok and "gstg: `off`" in defined.text, defined.text
    undefined = await bot.run(f"{SET} legacy_search_flag false --ops", channel=D)  # as ever: a definition first
    assert not undefined.ok and "There is no definition for `legacy_search_flag`" in undefined.text
    assert await bot.gates("ops", "legacy_search_flag") == {"boolean": "true"}
    assert (await bot.run(f"{SET} {FLAG} true --staging", channel=D)).ok
    assert (await bot.run(f"/chatops run feature delete {FLAG} --staging", channel=D)).ok
    deleted = await bot.run(f"{GET} {FLAG} --staging", channel=D)  # gone, its history stays
    assert deleted.ok and "deleted by @alice" in deleted.text, deleted.text


async def test_a_misspelt_set_writes_nothing_on_redis(chatops: MakeChatops) -> None:
    bot = await chatops(redis_flags=True)
    assert (await bot.run(f"{SET} {FLAG} true --staging", channel=D)).ok
    before = await bot.keyspace()
    answer = await bot.run(f"{SET} {FLAG}s 25 --actors --staging", channel=D)
    assert not answer.ok and f"No flag named `{FLAG}s` — did you mean `{FLAG}`?" in answer.text, answer.text
    assert await bot.keyspace() == before


async def test_without_definitions_set_still_makes_a_new_flag_and_get_knows_a_typo(chatops: MakeChatops) -> None:
    bot = await chatops(definitions=[])  # no definitions: nothing tells a new flag from a typo at set
    assert (await bot.run(f"{SET} brand_new_flag true --staging", channel=D)).ok
    assert await bot.gates("staging", "brand_new_flag") == {"boolean": "true"}
    answer = await bot.run(f"{GET} brand_new_flga", channel=D)
    assert not answer.ok and "No flag named `brand_new_flga` — did you mean `brand_new_flag`?" in answer.text
