"""The command registry as someone adding a command meets it: a toy command, its grammar, its button."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest
import yaml

from handlers.composition import COMMANDS
from handlers.config import RESERVED_OPTIONS, ConfigError, Environment, parse_config
from handlers.core import pipeline
from handlers.core.caller import Caller
from handlers.core.command import ButtonAction, Command, Subcommand
from handlers.core.context import Application, Context
from handlers.core.grammar import CommandSpec, OptionSpec, SubcommandSpec
from handlers.core.parsing import Invocation, UsageError
from handlers.core.registry import CommandRegistry
from handlers.core.reply import Reply
from handlers.core.text_chat import ShellBackend
from handlers.core.text_render import to_text
from tests.configs import ROOT
from tests.handlers.conftest import CHANNELS, FLAG, Chatops, MakeChatops

TOY = CommandSpec(
    name="toy",
    summary="a command without subcommands",
    direct=SubcommandSpec(
        "",
        ("NAME",),
        "greet NAME in each environment",
        options=(OptionSpec("loud", "flag", "shout the greeting"),),
        examples=("/chatops run toy x --staging",),
    ),
)


@dataclass(frozen=True, slots=True)
class ToyPlan:
    arguments: tuple[str, ...]
    loud: bool
    targets: tuple[Environment, ...]
    writes: bool = True  # as if it changed something: the policy applies


def _poke(value: str, context: Context) -> ToyPlan:
    if not value.isalnum():
        raise UsageError(f"`{value}` is not something to poke.")
    staging = context.config.environment("staging")
    assert staging is not None
    return ToyPlan(("poked", value), False, (staging,))


class Toy(Command[ToyPlan]):
    spec: ClassVar[CommandSpec] = TOY

    def __init__(self) -> None:
        self.handled: list[tuple[tuple[str, ...], bool, tuple[str, ...]]] = []

    def plan(self, invocation: Invocation, context: Context) -> ToyPlan:
        return ToyPlan(invocation.arguments, invocation.flag("loud"), invocation.environments)

    async def handle(self, plan: ToyPlan, context: Context) -> Reply:
        self.handled.append((plan.arguments, plan.loud, tuple(e.name for e in plan.targets)))
        return Reply(True, f"hello {' '.join(plan.arguments)}")

    def actions(self) -> tuple[ButtonAction[ToyPlan], ...]:
        return (ButtonAction("toy_poke", "Poke button", _poke),)


@dataclass
class ToyBot:
    toy: Toy
    app: Application

    async def run(self, text: str, channel: str = "#development") -> Reply:
        return await pipeline.run(text, self._caller(channel), self.app, self._backend())

    async def press(self, action_id: str, value: str, channel: str = "#development") -> Reply:
        return await pipeline.press(action_id, value, self._caller(channel), self.app, self._backend())

    def _caller(self, channel: str) -> Caller:
        return Caller("alice", "alice", CHANNELS.get(channel, channel), channel.lstrip("#"))

    def _backend(self) -> ShellBackend:
        return ShellBackend("alice", frozenset({"sre"}), channels=CHANNELS)


@pytest.fixture
async def toy_bot(chatops: MakeChatops) -> ToyBot:
    harness = await chatops()
    toy = Toy()
    registry = COMMANDS.with_commands(toy)
    return ToyBot(toy, dataclasses.replace(harness.app, commands=registry))


async def test_a_command_without_subcommands_gets_its_arguments_and_options(toy_bot: ToyBot) -> None:
    reply = await toy_bot.run("run toy x --loud --staging")
    assert reply.ok and reply.summary == "hello x"
    assert toy_bot.toy.handled == [(("x",), True, ("gstg",))]


async def test_its_usage_is_printed_by_help(toy_bot: ToyBot) -> None:
    for text in ("run toy --help", "run toy x -h", "help toy"):
        reply = await toy_bot.run(text)
        assert reply.ok and not reply.public, text
        assert "`/chatops run toy NAME` — greet NAME in each environment" in to_text(reply), text
        assert "`--loud` — shout the greeting" in to_text(reply), text
    overview = to_text(await toy_bot.run("help"))
    assert "Other\n  `toy` — a command without subcommands, e.g. `/chatops run toy x --staging`" in overview
    assert toy_bot.toy.handled == []


async def test_an_unknown_option_is_refused_by_name(toy_bot: ToyBot) -> None:
    reply = await toy_bot.run("run toy x --loudly --staging")
    assert not reply.ok
    assert (
        "Unknown option `--loudly` for `toy`. Did you mean `--loud`? Valid options: `--loud`, `--dev`" in reply.summary
    )
    assert toy_bot.toy.handled == []


async def test_the_policy_applies_to_a_new_command(toy_bot: ToyBot) -> None:
    reply = await toy_bot.run("run toy x")  # the default environment, production, from #development
    assert not reply.ok and "Commands that change gprd may only run in #production" in reply.summary
    assert [p.channel for p in reply.cross_posts] == ["#chatops-security"]
    assert toy_bot.toy.handled == []
    assert (await toy_bot.run("run toy x", channel="#production")).ok
    assert toy_bot.toy.handled == [(("x",), False, ("gprd",))]


async def test_its_button_is_routed_with_the_value(toy_bot: ToyBot) -> None:
    reply = await toy_bot.press("toy_poke", "abc")
    assert reply.ok and reply.summary == "hello poked abc"
    assert toy_bot.toy.handled == [(("poked", "abc"), False, ("gstg",))]
    bad = await toy_bot.press("toy_poke", "a b!")
    assert not bad.ok and bad.summary == "`a b!` is not something to poke. Nothing was changed."
    assert len(toy_bot.toy.handled) == 1


async def test_an_unknown_button_gets_a_clear_refusal(toy_bot: ToyBot) -> None:
    reply = await toy_bot.press("toy_pokes", "abc")
    assert not reply.ok and reply.summary == "This bot has no button `toy_pokes`; nothing was changed."
    assert toy_bot.toy.handled == []


def test_the_registry_routes_every_button_to_its_command() -> None:
    toy = Toy()
    registry = COMMANDS.with_commands(toy)
    assert registry.action_ids == (
        "rollback",
        "rollout_pause",
        "rollout_resume",
        "rollout_next",
        "rollout_abort",
        "schedule_cancel",
        "approve",
        "decline",
        "approval_cancel",
        "toy_poke",
    )
    found = registry.action("toy_poke")
    assert found is not None and found.command_name == "toy" and found.label == "Poke button"
    assert found.handle == toy.handle  # a button without a handler of its own is its command's
    assert registry.action("nope") is None and registry.command("nope") is None
    assert registry.grammar["toy"] is TOY


def test_two_commands_with_one_name_are_refused() -> None:
    class Twin(Toy):
        spec: ClassVar[CommandSpec] = dataclasses.replace(TOY, summary="another toy")

    with pytest.raises(ValueError, match="two commands are named 'toy'"):
        CommandRegistry([Toy(), Twin()])


def test_two_commands_with_one_button_action_are_refused() -> None:
    class Other(Toy):
        spec: ClassVar[CommandSpec] = dataclasses.replace(TOY, name="other")

    class Rollback(Toy):
        spec: ClassVar[CommandSpec] = dataclasses.replace(TOY, name="rollbacker")

        def actions(self) -> tuple[ButtonAction[ToyPlan], ...]:
            return (ButtonAction("rollback", "Another roll back", _poke),)

    with pytest.raises(ValueError, match="two commands declare the button action 'toy_poke'"):
        CommandRegistry([Toy(), Other()])
    with pytest.raises(ValueError, match="two commands declare the button action 'rollback'"):
        COMMANDS.with_commands(Rollback())


@pytest.mark.parametrize("subcommands", [(), (SubcommandSpec("go", (), "go"),)], ids=["neither", "both"])
def test_a_command_declares_subcommands_or_a_direct_form(subcommands: tuple[SubcommandSpec, ...]) -> None:
    direct = None if not subcommands else SubcommandSpec("", (), "direct")
    with pytest.raises(ValueError, match="declare subcommands or direct, not both or neither"):
        CommandSpec("broken", "broken", subcommands=subcommands, direct=direct)


FORMS = [(spec, form) for spec in COMMANDS.grammar.values() for form in spec.forms]


@pytest.mark.parametrize(("spec", "form"), FORMS, ids=[f"{s.name} {f.name}".strip() for s, f in FORMS])
async def test_every_registered_command_answers_help(
    chatops: MakeChatops, spec: CommandSpec, form: SubcommandSpec
) -> None:
    bot: Chatops = await chatops()
    answer = await bot.run(
        f"/chatops run {spec.name} {form.name} --help".replace("  ", " "), groups=(), channel="#random"
    )
    assert answer.ok and not answer.reply.public and answer.posts == [], answer.text
    assert f"`/chatops run {f'{spec.name} {form.usage}'.strip()}` — {form.summary}" in answer.text
    for option in form.options:
        assert f"`--{option.name}" in answer.text and option.help in answer.text, option.name


def test_no_environment_can_shadow_a_command_option() -> None:
    options = {o.name for spec in COMMANDS.grammar.values() for form in spec.forms for o in form.options}
    assert options  # the grammar has options at all
    assert options <= RESERVED_OPTIONS, sorted(options - RESERVED_OPTIONS)
    assert {"help"} <= RESERVED_OPTIONS  # --help is parsed before any option
    example = yaml.safe_load((ROOT / "deploy" / "chatops.example.yml").read_text())
    parse_config(example, ROOT / "deploy" / "chatops.example.yml")  # valid as shipped
    for option in sorted(options | {"help"}):
        example["environments"][0]["option"] = option
        with pytest.raises(ConfigError, match=f"--{option} is already a command option"):
            parse_config(example, ROOT / "deploy" / "chatops.example.yml")


class Explain(Subcommand[ToyPlan]):
    """A capability's own subcommand of ``feature``, as a new contributor would add one."""

    group: ClassVar[str] = "feature"
    spec: ClassVar[SubcommandSpec] = SubcommandSpec(
        "explain", ("NAME",), "explain a flag", examples=("/chatops run feature explain my_flag",)
    )

    def plan(self, invocation: Invocation, context: Context) -> ToyPlan:
        return ToyPlan(invocation.arguments, False, invocation.environments, writes=False)

    async def handle(self, plan: ToyPlan, context: Context) -> Reply:
        return Reply(True, f"explained {' '.join(plan.arguments)}")


async def test_a_capability_adds_a_subcommand_to_a_group(chatops: MakeChatops) -> None:
    harness = await chatops()
    bot = ToyBot(Toy(), dataclasses.replace(harness.app, commands=COMMANDS.with_commands(Explain())))
    reply = await bot.run("run feature explain x --staging")
    assert reply.ok and reply.summary == "explained x"
    assert (await bot.run(f"run feature get {FLAG} --staging")).ok  # the group's other subcommands still answer
    overview = to_text(await bot.run("help"))  # a subcommand no topic names yet is listed, not left out
    assert "Other\n  `feature explain` — explain a flag, e.g. `/chatops run feature explain my_flag`" in overview
    usage = to_text(await bot.run("help feature"))
    assert "`/chatops run feature explain NAME` — explain a flag" in usage
    assert "`/chatops run feature set NAME VALUE`" in usage
    typo = await bot.run("run feature explian x --staging")
    assert not typo.ok and "Unknown subcommand `explian` for `feature`. Did you mean `explain`?" in typo.summary


def test_a_subcommand_needs_its_group_and_a_name_of_its_own() -> None:
    class Orphan(Explain):
        group: ClassVar[str] = "nothing"

    with pytest.raises(ValueError, match="no command group 'nothing' is registered"):
        COMMANDS.with_commands(Orphan())
    with pytest.raises(ValueError, match="two commands are named 'feature explain'"):
        COMMANDS.with_commands(Explain(), Explain())


async def test_help_names_every_registered_command_and_subcommand(chatops: MakeChatops) -> None:
    bot: Chatops = await chatops()
    overview = (await bot.run("/chatops help", groups=(), channel="#random")).text
    lines = overview.splitlines()
    titles = [t for t in lines if not t.startswith(" ")][1:]  # after the reply's own first line
    assert titles == ["Changes", "Incidents", "Reading", "Deployments", "News", "Rules in #random"], titles
    for spec in COMMANDS.grammar.values():
        for form in spec.forms:
            call = f"{spec.name} {form.name}".strip()
            (entry,) = [t for t in lines if t.startswith(f"  `{call}` — ")]  # one line each, under its topic
            assert ", e.g. `/chatops " in entry or "? e.g. `/chatops " in entry, entry  # with one example
        if spec.subcommands:
            usage = (await bot.run(f"/chatops help {spec.name}", groups=(), channel="#random")).text
            for form in spec.subcommands:
                assert f"/chatops run {spec.name} {form.name}" in usage, f"{spec.name} {form.name}"
