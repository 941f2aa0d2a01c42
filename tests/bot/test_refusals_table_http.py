"""Every refusal is reported, over signed HTTP: the table of tests/handlers/test_refusals.py (every
registered command, subcommand and button, with the people who may not) run against the real
server and the Slack stub. For each row and each person who may not, the answer is refused
(ephemeral), nothing under the test's prefix changes, and exactly one new message reaches the
security channel naming who (their Slack mention), where and what. Rows that only read are tried
too: neither refused nor reported. The table is imported, not copied: a row added there runs here.

The table's people are Slack users of their own, members of the stub's user groups named like
their groups; what the rows act on is made over HTTP by the person who may, as in the table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.runtime import Runtime
from bot.server import RUNTIME
from tests.bot.conftest import BotUnderTest, start_bot, wait_healthy, write_config
from tests.bot.slack_stub import SlackStub, message_text
from tests.handlers.test_refusals import (
    ACCESS,
    CLICKS,
    MADE,
    MAKER,
    OUTSIDERS,
    ROLLBACK_FROM,
    SECURITY,
    SUBSCRIBERS,
    TYPED,
    WORLD,
    Person,
)
from tests.helpers import keyspace

#: Everyone the table names: who makes the world, who is refused, who reads.
PEOPLE = tuple(dict.fromkeys((MAKER, *OUTSIDERS, *(who for row in (*TYPED, *CLICKS) for who in row.refused))))


def slack_id(who: Person) -> str:
    """The person's Slack user ID: one per name and groups (the table's mallory in @sre is not the
    mallory in no group; one person in two channels is one user)."""
    return "U0" + who.user.upper() + "".join(group.upper() for group in who.groups)


def usergroups(people: tuple[Person, ...]) -> dict[str, tuple[str, list[str]]]:
    """The stub's user groups: each group of the table's people, with them as its members."""
    groups = sorted({group for who in people for group in who.groups})
    return {g: (f"S0{g.upper()}", sorted({slack_id(who) for who in people if g in who.groups})) for g in groups}


@dataclass
class TableBot:
    bot: BotUnderTest
    runtime: Runtime
    rollback: str  # the value of the Roll back button the table's {rollback} stands for

    async def attempt(self, line: str, who: Person) -> dict[str, Any]:
        """Type ``line`` (``/chatops ...``) or click it (``:ACTION_ID VALUE``) as ``who``, in their
        channel; the first message of the answer, once every post it made is done."""
        user, channel, name = slack_id(who), who.channel, who.user
        if line.startswith(":"):
            action_id, value = line[1:].split(" ", 1)
            message = await self.bot.button(action_id, value, user=user, channel=channel, user_name=name, timeout=10)
        else:
            text = line.removeprefix("/chatops ")
            message = await self.bot.command(text, user=user, channel=channel, user_name=name, timeout=10)
        await self.runtime.app.deliveries.drain()  # a post still going after the answer is done now
        return message

    async def keyspace(self) -> dict[str, Any]:
        return await keyspace(self.bot.redis, self.bot.prefix)


@pytest.fixture
async def table_bot(tmp_path: Path, redis_url: str, prefix: str, slack: SlackStub) -> AsyncIterator[TableBot]:
    """One bot for the whole table, with the world the rows act on made by the person who may."""
    slack.usergroups = usergroups(PEOPLE)
    config = write_config(tmp_path, redis_url, prefix, access=ACCESS, subscriptions=SUBSCRIBERS)
    runner, url = await start_bot(config, slack, tmp_path / ".chatops")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            made = TableBot(BotUnderTest(url, slack, prefix, client, session), runner.app[RUNTIME], "")
            made.rollback = await _world(made)
            yield made
    finally:
        await runner.cleanup()
        await client.aclose()


async def _world(bot: TableBot) -> str:
    """The table's world, typed over HTTP by its maker; the value of the Roll back button. The
    serving bot's driver writes a rollout's first step at once: the world goes on once it has (its
    message is updated last, after the step is recorded), so that it is the same every run."""
    made = []
    for i, line in enumerate(WORLD):
        made.append(await bot.attempt(line, MAKER))
        if i == MADE["R1"]:
            await bot.bot.slack.wait_for(lambda: _updated(bot.bot.slack, "Rollout R1 "), timeout=10)
    texts = [message_text(message) for message in made]
    assert all(name in texts[i] for name, i in MADE.items()), texts
    assert bot.bot.slack.posts(SECURITY) == [], texts  # the maker may: nothing was refused
    [value] = [
        button["value"]
        for block in made[ROLLBACK_FROM]["blocks"]
        for button in (*block.get("elements", ()), block.get("accessory") or {})
        if button.get("action_id") == "rollback"
    ]
    return str(value)


def _updated(slack: SlackStub, start: str) -> bool:
    """Whether a message posted starting with ``start`` has been updated since."""
    posted = {
        call.params.get("_ts")
        for call in slack.calls
        if call.method == "chat.postMessage" and message_text(call.params).startswith(start)
    }
    return any(call.method == "chat.update" and call.params.get("ts") in posted for call in slack.calls)


async def test_everyone_who_may_not_is_refused_reported_once_and_changes_nothing(table_bot: TableBot) -> None:
    slack = table_bot.bot.slack
    before = await table_bot.keyspace()
    tried = 0
    for row in (*TYPED, *CLICKS):
        line = row.line.format(rollback=table_bot.rollback)
        for who in row.refused:
            reports = len(slack.posts(SECURITY))
            answer = await table_bot.attempt(line, who)
            said = message_text(answer)
            assert answer.get("response_type") == "ephemeral", (line, who, said)
            assert said.lower().count("nothing was changed") == 1, (line, who, said)
            [report] = slack.post_texts(SECURITY)[reports:]  # the report, and nothing else
            _names_who_where_and_what(report, line, who, table_bot)
            assert await table_bot.keyspace() == before, (line, who)
            tried += 1
        if not row.refused:  # reading: anyone, anywhere
            for who in OUTSIDERS:
                reports = len(slack.posts(SECURITY))
                said = message_text(await table_bot.attempt(line, who))
                assert "not allowed" not in said, (line, who, said)
                assert slack.posts(SECURITY)[reports:] == [], (line, who, said)
                assert await table_bot.keyspace() == before, (line, who)
    assert len(slack.posts(SECURITY)) == tried == sum(len(row.refused) for row in (*TYPED, *CLICKS))


def _names_who_where_and_what(report: str, line: str, who: Person, bot: TableBot) -> None:
    assert f"Refused: <@{slack_id(who)}> in {who.channel} ran" in report, report
    if line.startswith(":"):  # a click: the button and its value
        action_id, value = line[1:].split(" ", 1)
        found = bot.runtime.app.commands.action(action_id)
        assert found is not None and f"`/chatops [{found.label} {value}]`" in report, report
    else:
        assert f"`{line}`" in report, report
    assert "\nReason: " in report and report.rstrip().endswith("."), report


def test_every_person_of_the_table_is_a_slack_user_of_their_own() -> None:
    """The table's people are told apart over HTTP as they are in process: by name and groups."""
    assert len({slack_id(who) for who in PEOPLE}) == len({(who.user, who.groups) for who in PEOPLE})
    groups = usergroups(PEOPLE)
    assert {"sre", "approvers"} <= set(groups)
    for who in PEOPLE:
        assert {g for g, (_, members) in groups.items() if slack_id(who) in members} == set(who.groups), who
