"""Every kind of message, rendered to docs/messages.md for a reviewer to read in one place, and the
rules each keeps (no sentence twice, distinct button labels, danger buttons confirmed). The test
fails when docs/messages.md is stale; ``CHATOPS_WRITE_MESSAGES=1`` writes it."""

from __future__ import annotations

import os
from pathlib import Path

from handlers.core.alerts import Alert, alerts_arrived
from handlers.core.text_chat import ShellBackend
from tests.handlers.catalogue import Catalogue, problems, visible_text
from tests.handlers.catalogue_metrics import metric_messages
from tests.handlers.catalogue_news import news_messages
from tests.handlers.conftest import FLAG, Chatops, MakeChatops

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "messages.md"
D, P = "#development", "#production"
RUN = "/chatops run"
SEED = f"{RUN} feature set {FLAG} 50 --actors --dev --pre --staging --staging-ref"
ACCESS = [
    {"environments": ["production"], "usergroups": ["sre"], "approval": {"usergroups": ["approvers"]}},
    {"environments": ["*"], "anyone": True},
]


async def _drive(bot: Chatops, seconds: float, catalogue: Catalogue, kind: str) -> None:
    chat = ShellBackend("alice", frozenset({"sre"}), channels=dict(bot.channels))
    await bot.tick(bot.drivers(chat), seconds)
    catalogue.posts(kind, list(chat.posted))


async def _changes(bot: Chatops, catalogue: Catalogue) -> None:
    catalogue.answer("help", await bot.run("/chatops help"))
    catalogue.answer("feature set: the rollout issue's first line", await bot.run(SEED), P)
    await bot.run(f"{RUN} feature set {FLAG} true --dev --pre --staging --staging-ref")
    catalogue.answer("feature set in production", await bot.run(f"{RUN} feature set {FLAG} true"), P)
    catalogue.answer("feature set: already so", await bot.run(f"{RUN} feature set {FLAG} true"), P)
    catalogue.answer("feature get: no such flag", await bot.run(f"{RUN} feature get enforce_explicit_conection"), P)
    catalogue.answer("feature get", await bot.run(f"{RUN} feature get {FLAG} --staging --production", channel=D), D)
    catalogue.answer("feature list", await bot.run(f"{RUN} feature list --match partitioned --production"), P)
    catalogue.answer("feature history", await bot.run(f"{RUN} feature history {FLAG} --production --limit 2"), P)
    catalogue.answer("refused: the wrong channel", await bot.run(f"{RUN} feature set {FLAG} false", channel="#random"))
    catalogue.answer("refused: a safety rule", await bot.run(f"{RUN} feature set {FLAG} false --staging", channel=D))
    raised = await bot.run(f"{RUN} feature set {FLAG} 25 --actors --ops", channel=D)
    (undo,) = raised.reply.actions
    catalogue.answer("Undo (roll back) clicked", await bot.run(f":{undo.action_id} {undo.value}", channel=D), D)
    catalogue.answer("feature delete", await bot.run(f"{RUN} feature delete {FLAG} --dev", channel=D), D)
    catalogue.answer("feature changes", await bot.run(f"{RUN} feature changes --since 1h"), P)


async def _incidents(bot: Chatops, catalogue: Catalogue) -> None:
    chat = ShellBackend("chatops", frozenset())
    alert = Alert("firing", {"alertname": "HighErrorRate", "env": "gprd", "severity": "s1"}, "fp-1")
    await alerts_arrived(bot.app, chat, [alert])
    await alerts_arrived(bot.app, chat, [Alert("resolved", alert.labels, "fp-1")])
    catalogue.posts("an alert arrives, then resolves", list(chat.posted))
    kill = f'{RUN} feature kill {FLAG} --reason "error rate spike on checkout"'
    catalogue.answer("feature kill", await bot.run(kill), P)
    freeze = f'{RUN} freeze on --staging --reason "incident 4521" --for 30m'
    catalogue.answer("freeze on", await bot.run(freeze, channel=D), D)
    catalogue.answer("refused: frozen", await bot.run(f"{RUN} feature set {FLAG} true --staging", channel=D), D)
    catalogue.answer("freeze status", await bot.run(f"{RUN} freeze status", channel=D), D)
    catalogue.answer("freeze off", await bot.run(f"{RUN} freeze off --staging", channel=D), D)
    catalogue.answer("freeze off: nothing to lift", await bot.run(f"{RUN} freeze off --staging", channel=D), D)


async def _timed(bot: Chatops, catalogue: Catalogue) -> None:
    rollout = f"{RUN} feature rollout {FLAG} --steps 10,50,100 --every 1s --staging"
    catalogue.answer("feature rollout: started", await bot.run(rollout, channel=D), D)
    await _drive(bot, 1.5, catalogue, "feature rollout: steps")
    catalogue.answer("feature rollout status", await bot.run(f"{RUN} feature rollout status {FLAG}", channel=D), D)
    catalogue.answer("feature rollout abort", await bot.run(f"{RUN} feature rollout abort {FLAG}", channel=D), D)
    later = f"{RUN} feature set {FLAG} true --staging --in 2h"
    catalogue.answer("feature set --in: scheduled", await bot.run(later, channel=D), D)
    catalogue.answer("feature schedule list", await bot.run(f"{RUN} feature schedule list", channel=D), D)
    catalogue.answer("feature schedule cancel", await bot.run(f"{RUN} feature schedule cancel S1", channel=D), D)
    boxed = f"{RUN} feature set {FLAG} true --dev --for 1s"
    catalogue.answer("feature set --for: time-boxed", await bot.run(boxed, channel=D), D)
    await _drive(bot, 1.5, catalogue, "a time-boxed change expires")


async def _approvals(make: MakeChatops, catalogue: Catalogue) -> None:
    bot = await make(access=ACCESS)
    bot.people["bob"] = frozenset({"sre", "approvers"})  # Slack knows bob approves
    await bot.run(f"{RUN} feature set {FLAG} true --staging")
    raise_ = f"{RUN} feature set {FLAG} true --production"
    asked = await bot.run(raise_)
    catalogue.answer("approval requested", asked, P)
    request = next(a.value for a in asked.posts[0].actions if a.action_id == "approve") if asked.posts else "A1"
    own = await bot.run(f":approve {request}")
    catalogue.answer("refused: approving one's own request", own, P)
    approved = await bot.run(f":approve {request}", user="bob", groups=("sre", "approvers"))
    catalogue.answer("approved and applied", approved, P)


async def test_every_message_kind_is_in_the_catalogue_and_keeps_the_rules(chatops: MakeChatops) -> None:
    catalogue = Catalogue()
    bot = await chatops()
    await _changes(bot, catalogue)
    await _incidents(bot, catalogue)
    await _timed(bot, catalogue)
    await _approvals(chatops, catalogue)
    await metric_messages(chatops, catalogue)
    await news_messages(bot, catalogue)
    text = catalogue.markdown()
    if os.environ.get("CHATOPS_WRITE_MESSAGES"):
        CATALOGUE.write_text(text, encoding="utf-8")
    broken = [p for entry in catalogue.entries for p in problems(entry)]
    assert broken == [], "\n".join(broken)
    seed = next(e for e in catalogue.entries if e.kind.startswith("feature set: the rollout issue"))
    assert len(visible_text(seed.message)) <= 500, visible_text(seed.message)
    gated = await chatops(safety=True)  # deployments known: the code is deployed on gstg only
    await gated.run(f"{RUN} feature delete {FLAG} --dev --pre --staging --staging-ref", channel=D)
    checked = await gated.run(SEED)
    unknown = "Code deployed: unknown on dev, pre, gstg-ref: no deployment there is recorded."
    assert checked.ok and unknown in checked.text, checked.text
    assert len(visible_text(checked.reply)) <= 500, visible_text(checked.reply)
    kill = next(e for e in catalogue.entries if e.kind == "feature kill")
    assert visible_text(kill.message).startswith("Killed: "), visible_text(kill.message)
    assert CATALOGUE.exists() and CATALOGUE.read_text(encoding="utf-8") == text, (
        "docs/messages.md is stale: regenerate it with CHATOPS_WRITE_MESSAGES=1 and read what changed"
    )
