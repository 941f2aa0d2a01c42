"""Every refusal is reported: each registered command, subcommand and button, tried by people who
may not, is refused, changes nothing and reaches the security channel exactly once, naming who,
where and what. Commands that only read are tried too, and are neither refused nor reported.

The table must cover the registry: registering a command or a button without a row here fails."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.core.parsing import parse
from handlers.core.reply import Action, Reply
from handlers.core.text_render import to_text
from tests.handlers.conftest import FLAG, Answer, Chatops, MakeChatops

SECURITY = "#chatops-security"
ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"]},
    {"environments": ["ops"], "usergroups": ["sre"], "approval": {"usergroups": ["approvers"]}},
    {"environments": ["*"], "anyone": True},
]
SUBSCRIBERS = {"usergroups": ["sre"]}  # who may subscribe a channel


@dataclass(frozen=True)
class Person:
    user: str
    groups: tuple[str, ...]
    channel: str


ALICE = Person("alice", ("sre",), "#production")  # who made what the others act on
NO_GROUP = Person("mallory", (), "#production")  # the access rule refuses her
ELSEWHERE = Person("mallory", ("sre",), "#random")  # the channel rule refuses her
APPROVER = Person("carol", ("approvers",), "#production")  # may approve, may not change ops
OTHER_SRE = Person("bob", ("sre", "approvers"), "#production")  # may approve; did not ask
OUTSIDERS = (NO_GROUP, ELSEWHERE)


@dataclass(frozen=True)
class Row:
    line: str  # typed, or ``:ACTION_ID VALUE`` (a click); {rollback} is a Roll back button's value
    refused: tuple[Person, ...]  # each of them is refused and reported; () for a command that only reads


TYPED = (
    Row(f"/chatops run feature set {FLAG} false --production", OUTSIDERS),
    Row(f"/chatops run feature delete {FLAG} --production", OUTSIDERS),
    Row(f"/chatops run feature kill {FLAG} --production --reason test", OUTSIDERS),
    Row(f"/chatops run feature rollout {FLAG} --steps 10,50 --every 1h --production", OUTSIDERS),
    *(Row(f"/chatops run feature rollout {action} {FLAG}", OUTSIDERS) for action in ("pause", "resume", "next")),
    Row(f"/chatops run feature rollout abort {FLAG}", OUTSIDERS),
    Row("/chatops run feature schedule cancel S1", OUTSIDERS),
    Row("/chatops run freeze on --production --reason test", OUTSIDERS),
    Row("/chatops run freeze off --production", OUTSIDERS),
    Row(f"/chatops run feature get {FLAG} --production", ()),
    Row("/chatops run feature list --production", ()),
    Row(f"/chatops run feature history {FLAG} --production", ()),
    Row("/chatops run feature changes", ()),
    Row(f"/chatops run feature rollout status {FLAG}", ()),
    Row("/chatops run feature rollout list", ()),
    Row("/chatops run feature schedule list", ()),
    Row("/chatops run freeze status", ()),
    Row("/chatops run auto_deploy status", ()),
    Row("/chatops run release check https://gitlab.com/gitlab-org/gitlab/-/merge_requests/1 16.5", ()),
    Row("/chatops run dashboard", ()),
    Row(f"/chatops run subscribe --flag {FLAG} --production", OUTSIDERS[:1]),  # mallory is not in @sre
    Row("/chatops run unsubscribe N1", OUTSIDERS),  # #production's: not from #random, nor by mallory
    Row("/chatops run subscriptions", ()),
    Row("/chatops help", ()),
)
CLICKS = (
    Row(":rollback {rollback}", OUTSIDERS),
    *(Row(f":rollout_{action} R1", OUTSIDERS) for action in ("pause", "resume", "next", "abort")),
    Row(":schedule_cancel S1", OUTSIDERS),
    Row(":approve A1", (ALICE, NO_GROUP, APPROVER)),
    Row(":decline A1", (ALICE, NO_GROUP, APPROVER)),
    Row(":approval_cancel A1", (OTHER_SRE, NO_GROUP)),
)


async def _run(bot: Chatops, line: str, who: Person) -> Answer:
    return await bot.run(line, user=who.user, groups=who.groups, channel=who.channel)


def _button(reply: Reply, action_id: str) -> Action:
    buttons = [*reply.actions, *(s.button for s in reply.sections if s.button is not None)]
    return next(b for b in buttons if b.action_id == action_id)


#: What the table acts on, made by alice (``MAKER``) in this order: rollout R1 and schedule S1 of
#: gprd, approval request A1 of ops, and a change of gprd (ROLLBACK_FROM: the line whose answer has
#: the Roll back button the table's {rollback} stands for). ``MADE`` says which answer names which.
MAKER = ALICE
WORLD = (
    f"/chatops run feature set {FLAG} true --staging",
    f"/chatops run feature rollout {FLAG} --steps 10,50 --every 1h --production",
    f"/chatops run feature set {FLAG} 5 --actors --production",
    f"/chatops run feature set {FLAG} false --production --in 1h",
    f"/chatops run feature set {FLAG} true --ops",
    f"/chatops run subscribe --flag {FLAG} --events changes,alerts",
)
ROLLBACK_FROM = 2
MADE = {"R1": 1, "S1": 3, "A1": 4, "N1": 5}


async def _world(bot: Chatops) -> str:
    """The world the table acts on (``WORLD``); the value of the Roll back button."""
    made = [await _run(bot, line, MAKER) for line in WORLD]
    assert all(answer.ok for answer in made), [answer.text for answer in made if not answer.ok]
    assert all(name in made[i].text for name, i in MADE.items()), [answer.text for answer in made]
    return _button(made[ROLLBACK_FROM].reply, "rollback").value


def _covered(bot: Chatops) -> tuple[set[tuple[str, str]], set[str]]:
    """The commands (command, subcommand) and button actions the table's rows exercise."""
    commands = set()
    for row in TYPED:
        invocation = parse(row.line.removeprefix("/chatops "), bot.app.config, bot.app.commands.grammar)
        commands.add((invocation.command, invocation.subcommand))
    return commands, {row.line[1:].split(" ", 1)[0] for row in CLICKS}


async def test_the_table_covers_every_registered_command_and_button(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS, subscriptions=SUBSCRIBERS)
    registry = bot.app.commands
    registered = {
        (spec.name, form.name if spec.subcommands else "") for spec in registry.grammar.values() for form in spec.forms
    }
    commands, clicks = _covered(bot)
    assert registered - commands == set(), "registered commands with no row in the refusals table"
    assert set(registry.action_ids) - clicks == set(), "registered buttons with no row in the refusals table"


async def test_everyone_who_may_not_is_refused_reported_once_and_changes_nothing(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS, subscriptions=SUBSCRIBERS)
    rollback = await _world(bot)
    before = await bot.keyspace()
    for row in (*TYPED, *CLICKS):
        line = row.line.format(rollback=rollback)
        for who in row.refused:
            answer = await _run(bot, line, who)
            said = to_text(answer.reply)
            assert not answer.ok and answer.reply.refused, (line, who, said)
            assert said.lower().count("nothing was changed") == 1, (line, who, said)
            [report] = answer.posts  # the report, and nothing else
            assert report.channel == SECURITY, (line, who, report)
            _names_who_where_and_what(to_text(report), line, who, bot)
            assert await bot.keyspace() == before, (line, who)
        if not row.refused:  # reading: anyone, anywhere
            for who in OUTSIDERS:
                answer = await _run(bot, line, who)
                assert not answer.reply.refused and not answer.posted_to(SECURITY), (line, who, answer.text)
                assert await bot.keyspace() == before, (line, who)


def _names_who_where_and_what(report: str, line: str, who: Person, bot: Chatops) -> None:
    assert f"Refused: @{who.user} in {who.channel} ran" in report, report
    if line.startswith(":"):  # a click: the button and its value
        action_id, value = line[1:].split(" ", 1)
        found = bot.app.commands.action(action_id)
        assert found is not None and f"`/chatops [{found.label} {value}]`" in report, report
    else:
        assert f"`{line}`" in report, report
    assert "\nReason: " in report and report.rstrip().endswith("."), report


async def test_an_approved_change_refused_when_run_is_reported_once(chatops: MakeChatops) -> None:
    bot = await chatops(access=ACCESS, subscriptions=SUBSCRIBERS)
    asked = await _run(bot, f"/chatops run feature set {FLAG} true --ops", ALICE)
    assert asked.ok and "A1" in asked.text, asked.text
    await _run(bot, "/chatops help", Person("alice", (), "#production"))  # alice leaves @sre meanwhile
    before = await _flags_and_records(bot)
    approved = await _run(bot, ":approve A1", OTHER_SRE)
    assert not approved.ok and "This action is not allowed: changing ops needs @sre." in approved.text
    [report] = approved.posted_to(SECURITY)  # the run of alice's command refused it, and reported it: once
    assert "Refused: @alice in #production ran" in to_text(report), to_text(report)
    assert f"`/chatops run feature set {FLAG} true --ops`" in to_text(report)
    assert await _flags_and_records(bot) == before


async def _flags_and_records(bot: Chatops) -> dict[str, object]:
    """The keyspace but the approval requests (an approved one records that it was not applied)."""
    return {k: v for k, v in (await bot.keyspace()).items() if "chatops:approvals" not in k}
