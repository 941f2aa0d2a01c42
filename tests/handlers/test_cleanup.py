"""`feature list --stale`: flags fully on or off everywhere for `cleanup.days`, or whose
definition's milestone is `cleanup.milestones` behind the newest; partly rolled out ones are not."""

from __future__ import annotations

import time
from pathlib import Path

from flags import MemoryBackend
from handlers.dashboard.query import FlagsQuery
from handlers.dashboard.views import flags_page
from tests.configs import example_environments
from tests.handlers.conftest import MakeChatops

ALL = "--dev --pre --staging --staging-ref --ops --production --ignore-feature-flag-consistency-check"


def _definitions(folder: Path, milestones: dict[str, str]) -> str:
    folder.mkdir()
    for name, milestone in milestones.items():
        (folder / f"{name}.yml").write_text(
            f"---\nname: {name}\nintroduced_by_url: https://gitlab.com/gitlab-org/gitlab/-/merge_requests/1\n"
            "rollout_issue_url: https://gitlab.com/gitlab-org/gitlab/-/issues/1\n"
            f"milestone: '{milestone}'\ngroup: group::cleanup\ntype: gitlab_com_derisk\ndefault_enabled: false\n"
        )
    return str(folder)


async def test_stale_flags_are_listed_with_why(chatops: MakeChatops, tmp_path: Path) -> None:
    folder = _definitions(
        tmp_path / "definitions",
        {"done_flag": "16.9", "recent_done_flag": "16.9", "partial_flag": "16.9", "ancient_flag": "16.2"},
    )
    bot = await chatops(definitions=[folder])
    (backend,) = {store.backend for store in bot.app.stores.values()}
    assert isinstance(backend, MemoryBackend)
    forty_days_ago = time.time() - 40 * 86400
    backend.clock = lambda: forty_days_ago  # done_flag was switched on everywhere 40 days ago
    assert (await bot.run(f"/chatops run feature set done_flag true {ALL}")).ok
    backend.clock = time.time
    assert (await bot.run(f"/chatops run feature set recent_done_flag true {ALL}")).ok
    assert (await bot.run("/chatops run feature set partial_flag 50 --actors --staging", channel="#development")).ok
    for option, store in bot.app.stores.items():
        (done,) = [r for r in await store.list() if r.name == "done_flag"]
        assert done.state.boolean and abs((done.changed_at or 0) - forty_days_ago) < 1, option
    before = await bot.keyspace()
    answer = await bot.run("/chatops run feature list --stale", channel="#random")
    assert answer.ok, answer.text
    assert "2 flag(s) to clean up: fully on or off everywhere for 30+ days, or a milestone 3+ before 16.9" in (
        answer.text
    )
    assert "`done_flag` — fully on everywhere since " in answer.text and "(40 days)" in answer.text, answer.text
    assert "`ancient_flag` — milestone 16.2, 7 milestones before 16.9" in answer.text
    for fresh in ("recent_done_flag", "partial_flag"):
        assert fresh not in answer.text
    assert await bot.keyspace() == before  # reading changes nothing


async def test_cleanup_is_not_judged_while_an_environment_cannot_be_read(chatops: MakeChatops, prefix: str) -> None:
    bot = await chatops(environments=example_environments(prefix, ops="redis://127.0.0.1:1/0"))
    answer = await bot.run("/chatops run feature list --stale", channel="#random")
    assert not answer.ok and "ops" in answer.text, answer.text  # chat: says which one, lists nothing
    page = await flags_page(bot.app, FlagsQuery(cleanup=True))  # the dashboard's cleanup filter
    assert page.rows == () and "cannot be told while an environment cannot be read" in page.note
    assert "ops" in page.unreachable
    everything = await flags_page(bot.app)  # without the filter the rest still shows
    assert everything.rows and all(row.cells[4].kind == "unknown" for row in everything.rows)
