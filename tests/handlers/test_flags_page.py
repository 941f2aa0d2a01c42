"""The flags page's query, paging, sorts and filters, and its index of when each flag last changed,
on the example configuration with its flags in memory (the Chromium tests in
tests/bot/test_dashboard_flags.py show the same on 10,000 flags in Redis)."""

from __future__ import annotations

from dataclasses import replace

from flags import AuditInfo, build_change
from handlers.dashboard.change_times import READ_LIMIT, ChangeTimes
from handlers.dashboard.query import FlagsQuery
from handlers.dashboard.views import flags_page
from tests.handlers.conftest import Chatops, MakeChatops

ENVIRONMENTS = ["dev", "pre", "gstg", "gstg-ref", "ops", "gprd"]
DAY = 86400.0
WHO = AuditInfo(who="alice", command="/chatops run feature set …")


def test_a_query_is_read_from_its_url_and_gives_back_only_what_differs_from_the_defaults() -> None:
    pairs = [
        ("q", "  group::alpha "),
        ("type", "beta"),
        ("state", "gprd:on"),
        ("state", "gprd:on"),  # once is enough
        ("state", "gstg:partly"),
        ("state", "nowhere:on"),  # not an environment
        ("state", "gprd:maybe"),  # not a state
        ("state", ""),  # "any", as the form sends it
        ("since", "7d"),
        ("sort", "changed"),
        ("order", "asc"),
        ("page", "3"),
        ("q", "second"),  # the first value counts
    ]
    query = FlagsQuery.parse(pairs, ENVIRONMENTS)
    assert query == FlagsQuery(
        "group::alpha", "beta", (("gprd", "on"), ("gstg", "partly")), "7d", False, "changed", "asc", 3
    )
    assert query.params() == [
        ("q", "group::alpha"),
        ("type", "beta"),
        ("state", "gprd:on"),
        ("state", "gstg:partly"),
        ("since", "7d"),
        ("sort", "changed"),
        ("order", "asc"),
        ("page", "3"),
    ]
    assert FlagsQuery.parse(query.params(), ENVIRONMENTS) == query
    odd = [("since", "2d"), ("sort", "size"), ("order", "up"), ("page", "-1"), ("cleanup", "1"), ("page", "x")]
    assert FlagsQuery.parse(odd, ENVIRONMENTS) == FlagsQuery(cleanup=True)
    assert FlagsQuery.parse([("page", "99999999999")], ENVIRONMENTS).page == 1
    assert FlagsQuery().params() == [] and not FlagsQuery().filtered and FlagsQuery(since="1d").filtered
    assert FlagsQuery(sort="changed").descending and not FlagsQuery(sort="changed", order="asc").descending
    assert not FlagsQuery(sort="group").descending and FlagsQuery(order="desc").descending


async def _set(bot: Chatops, flag: str, value: str, *options: str, of: str | None = None) -> None:
    """Write ``flag`` on ``options`` (staging by default) through the stores, dated by the harness's clock."""
    for option in options or ("staging",):
        await bot.app.stores[option].apply(flag, build_change(value, percentage_of=of), WHO)


async def test_last_change_sorts_and_filters_flags_and_its_index_reads_only_new_entries(chatops: MakeChatops) -> None:
    bot = await chatops()
    await _set(bot, "old_flag", "true")
    bot.clock.advance(10 * DAY)
    await _set(bot, "middle_flag", "25", "dev", "pre", of="actors")
    bot.clock.advance(3 * DAY)
    await _set(bot, "new_flag", "true", "production")
    times, options = ChangeTimes(), [e.option for e in bot.app.config.environments]
    await times.refresh(bot.app, options)  # each environment read whole
    now = bot.clock.time()
    assert {n: round((now - at) / DAY) for n, at in times.latest.items()} == {
        "old_flag": 13,
        "middle_flag": 3,
        "new_flag": 0,
    }
    bot.clock.advance(DAY)
    await _set(bot, "old_flag", "false")
    await times.refresh(bot.app, options)  # the new entry only
    assert round(times.latest["old_flag"]) == round(bot.clock.time())

    page = await flags_page(bot.app, FlagsQuery(sort="changed"))
    assert [r.name for r in page.rows][:3] == ["old_flag", "new_flag", "middle_flag"]
    assert [r.name for r in (await flags_page(bot.app, FlagsQuery(since="1d"))).rows] == ["old_flag"]
    assert [r.name for r in (await flags_page(bot.app, FlagsQuery(since="7d"))).rows] == [
        "middle_flag",
        "new_flag",
        "old_flag",
    ]
    partly = await flags_page(bot.app, FlagsQuery(states=(("dev", "partly"), ("pre", "partly"))))
    assert [r.name for r in partly.rows] == ["middle_flag"]
    on = await flags_page(bot.app, FlagsQuery(states=(("gprd", "on"), ("gprd", "partly"))))
    assert [r.name for r in on.rows] == ["new_flag"]  # either state of one environment


async def test_after_more_changes_than_it_reads_at_once_an_environment_is_read_whole_again(
    chatops: MakeChatops,
) -> None:
    bot = await chatops()
    times, options = ChangeTimes(), ["staging"]
    await times.refresh(bot.app, options)
    assert times.latest == {}
    store = bot.app.stores["staging"]
    await _set(bot, "quiet_flag", "true")  # then more changes than one read takes: it is not among them
    for i in range(READ_LIMIT + 5):
        await _set(bot, f"busy_{i % 3}", f"{i % 99 + 1}", of="actors")
    await times.refresh(bot.app, options)
    last = {
        name: entries[0].at.timestamp()
        for name in ("busy_0", "busy_1", "busy_2", "quiet_flag")
        if (entries := await store.history(name, 1))
    }
    assert times.latest == last


async def test_pages_of_a_hundred_rows_say_which_rows_they_show(chatops: MakeChatops) -> None:
    bot = await chatops()
    for i in range(250):
        await bot.app.stores["staging"].apply(f"paged_{i:03d}", build_change("true"), WHO)
    first = await flags_page(bot.app)
    assert (first.total, first.matched, first.page, first.pages, first.first) == (
        251,
        251,
        1,
        3,
        1,
    )  # and the example's flag
    third = await flags_page(bot.app, FlagsQuery(page=3))
    assert (third.page, third.first, len(third.rows)) == (3, 201, 51)
    assert [r.name for r in third.rows][-1] == "paged_249"
    beyond = await flags_page(bot.app, FlagsQuery(page=9))
    assert (beyond.page, beyond.first) == (3, 201)  # the last there is
    searched = await flags_page(bot.app, FlagsQuery(q="PAGED_01", sort="name", order="desc"))
    assert [r.name for r in searched.rows] == [f"paged_{i:03d}" for i in range(19, 9, -1)]
    nothing = await flags_page(bot.app, replace(FlagsQuery(q="no such flag"), page=4))
    assert (nothing.matched, nothing.page, nothing.pages, nothing.rows) == (0, 1, 1, ())
