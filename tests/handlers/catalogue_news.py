"""Subscriptions' answers and posts for the catalogue: typed in the in-process harness, and a
subscription's post made from an event as the outbox keeps it."""

from __future__ import annotations

from handlers.core.caller import Caller
from handlers.core.events import event
from handlers.subscriptions.post import subscription_post
from handlers.subscriptions.store import Subscription
from tests.handlers.catalogue import Catalogue
from tests.handlers.conftest import FLAG, Chatops

__all__ = ["news_messages"]

RUN = "/chatops run"


async def news_messages(bot: Chatops, catalogue: Catalogue) -> None:
    catalogue.answer(
        "subscribe", await bot.run(f"{RUN} subscribe --flag {FLAG} --production", channel="#random"), "#random"
    )
    catalogue.answer(
        "subscribe: already", await bot.run(f"{RUN} subscribe --flag {FLAG} --production", channel="#random")
    )
    catalogue.answer("subscribe: matches nothing yet", await bot.run(f"{RUN} subscribe --match zzz --dm"))
    catalogue.answer("subscriptions", await bot.run(f"{RUN} subscriptions", channel="#random"), "#random")
    catalogue.answer("unsubscribe", await bot.run(f"{RUN} unsubscribe N1", channel="#random"), "#random")
    production = bot.app.config.environment("production")
    assert production is not None
    alice = Caller("U0ALICE", "alice", "C0PROD", "production")
    change = event(
        "change",
        "1796300000000-0",
        production,
        alice,
        flag=FLAG,
        before="off",
        after="on",
        command=f"/chatops run feature set {FLAG} true",
        group="group::database frameworks",
        at=1796300000,
    )
    channel = Subscription(
        "N1", "C0RAND", "#random", False, FLAG, None, None, ("production",), ("changes",), "alice", 0
    )
    catalogue.posts(
        "a subscription's post (a channel that may not change production)",
        [subscription_post(change, channel, bot.app.config)],
    )
    kill = {
        **change,
        "type": "kill",
        "id": "kill:production:1796300000001-0",
        "before": "on",
        "after": "off",
        "reason": "error spike",
    }
    here = Subscription("N2", "C0PROD", "#production", False, FLAG, None, None, (), ("alerts",), "alice", 0)
    catalogue.posts(
        "a subscription's post (a kill, in a channel that may undo it)", [subscription_post(kill, here, bot.app.config)]
    )
