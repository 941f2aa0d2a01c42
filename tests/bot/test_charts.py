"""Charts drawn as PNG (and SVG) and uploaded into the thread of the message they belong to.

The example chart is what a guard's chart looks like: two checks, production and staging, a bound
on each, a change, a rollout step and an abort. It is saved as chart-example.png (into
$CHATOPS_SCREENSHOTS when set, e.g. docs/, as the dashboard's screenshots are) for a person to look at.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from prometheus_client import REGISTRY

from bot.chart_axes import time_format, time_label, value_formatter, with_gaps
from bot.charts import BOUND_COLOUR, DPI, HEADER_IN, MARK_STYLES, PANEL_HEIGHT_IN, WIDTH_IN, render_png, render_svg
from bot.slack_api import SlackBackend, slack_session, web_client
from handlers.core.charts import Bound, Chart, Mark, Panel, Series
from handlers.core.reply import CrossPost, Section, line
from tests.bot.slack_stub import SlackStub

START = 1_767_000_000.0  # 2025-12-29 09:20 UTC
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ABORT_RED = MARK_STYLES["abort"][0]


def _metric(base: float, swing: float, phase: float, jump: float = 0.0, every: float = 30.0) -> tuple[Series, ...]:
    """Production and staging over 30 minutes: production jumps by ``jump`` at 09:40 (the step)."""

    def points(level: float, shift: float, after: float) -> tuple[tuple[float, float], ...]:
        out = []
        for i in range(61):
            wobble = swing * (math.sin(i / 4 + phase + shift) + 0.5 * math.cos(i / 1.7 + 2 * (phase + shift)))
            out.append((START + i * every, max(0.0, level + wobble + (after if i >= 40 else 0.0))))
        return tuple(out)

    production = tuple(p for i, p in enumerate(points(base, 0.0, jump)) if not 20 <= i <= 23)  # a scrape gap
    return Series("production", production), Series("staging", points(base * 0.6, 1.0, 0.0))


def example_chart() -> Chart:
    errors = Panel(
        "Error ratio (5xx / all requests)", "ratio", _metric(0.008, 0.002, 1.0, 0.012), (Bound("max 2%", 0.02),)
    )
    baseline = Bound("1.5× baseline", 0.3)  # noqa: RUF001 (a times sign, as guards label it)
    latency = Panel("p95 latency", "seconds", _metric(0.21, 0.03, 3.0, 0.09), (baseline,))
    marks = (
        Mark(START + 300, "set 10% --production", "change"),
        Mark(START + 1200, "step 2: 50%", "step"),
        Mark(START + 1380, "abort: error ratio 2.4% > max 2%", "abort"),
    )
    return Chart(
        "my_flag: checks around the rollout",
        START,
        START + 1800,
        (errors, latency),
        marks,
        alt="Error ratio and p95 latency in production and staging; production crossed max 2% after step 2",
        filename="my_flag-checks.png",
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a valid PNG starts with."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def colour_counts(data: bytes) -> Counter[str]:
    """How many pixels have each exact colour, as ``#rrggbb``."""
    raw = Image.open(io.BytesIO(data)).convert("RGB").tobytes()
    return Counter("#" + raw[i : i + 3].hex() for i in range(0, len(raw), 3))


def test_a_chart_is_a_png_of_its_size_and_the_same_every_time(tmp_path: Path) -> None:
    png = render_png(example_chart())
    assert png_size(png) == (round(WIDTH_IN * DPI), round((2 * PANEL_HEIGHT_IN + HEADER_IN) * DPI)) == (1000, 660)
    assert 20_000 < len(png) < 300_000
    assert render_png(example_chart()) == png  # no timestamp in its metadata
    assert b"tIME" not in png and b"Software" not in png
    folder = Path(os.environ.get("CHATOPS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chart-example.png").write_bytes(png)


def test_bounds_marks_and_series_are_drawn_in_their_colours() -> None:
    chart = example_chart()
    drawn = colour_counts(render_png(chart))
    assert drawn["#1f77b4"] > 500 and drawn["#2ca02c"] > 500  # production, staging
    assert drawn[BOUND_COLOUR] > 500
    assert drawn[ABORT_RED] > 200
    calm = colour_counts(render_png(replace(chart, marks=chart.marks[:2], panels=(chart.panels[0],))))
    assert calm[ABORT_RED] == 0  # nothing else is drawn red
    one_panel = replace(chart.panels[0], bounds=())
    assert colour_counts(render_png(replace(chart, panels=(one_panel,))))[BOUND_COLOUR] == 0


def test_a_mark_label_longer_than_its_panel_never_squeezes_the_panels() -> None:
    flag = "enforce_explicit_connection_for_partitioned_shared_models"  # a watch of several flags labels each so
    chart = example_chart()
    long = replace(chart, marks=(Mark(START + 1500, f"{flag}: → 50% of actors", "change"),))
    short = replace(chart, marks=(Mark(START + 1500, "on", "change"),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when its layout collapses the axes
        drawn = colour_counts(render_png(long))
    assert drawn["#1f77b4"] > 0.9 * colour_counts(render_png(short))["#1f77b4"]


def test_dollar_signs_in_labels_are_text_not_maths() -> None:
    chart = example_chart()
    marks = (Mark(START + 300, "price_$5 → $6_flag: on", "change"),)
    chart = Chart("$x$ costs $2 $and$ more", chart.start, chart.end, chart.panels, marks, chart.alt)
    assert png_size(render_png(chart)) == png_size(render_png(example_chart()))
    assert "$x$ costs $2 $and$ more" in render_svg(chart)


def test_the_svg_keeps_its_words_as_text_and_is_stable() -> None:
    svg = render_svg(example_chart())
    assert svg.startswith("<?xml") and "</svg>" in svg
    # the outlined labels of bounds and marks are drawn as outlines; the rest stays text
    for words in ("my_flag: checks around the rollout", "p95 latency", "production", "250 ms", "Time (UTC), 29 Dec"):
        assert f">{words}" in svg
    assert render_svg(example_chart()) == svg


def test_axes_read_in_their_units_and_the_clock_is_utc() -> None:
    assert [value_formatter("ratio", [0.02])(v, 0) for v in (0.0, 0.005, 0.02, 0.025)] == ["0%", "0.5%", "2%", "2.5%"]
    assert value_formatter("seconds", [0.3, 0.25])(0.25, 0) == "250 ms"
    assert value_formatter("seconds", [1.6])(0.25, 0) == "0.25 s"  # one scale for the whole axis
    assert value_formatter("number", [2500])(2500, 0) == "2.5k"
    assert value_formatter("number", [12])(0.30000000000000004, 0) == "0.3"
    assert time_format(10 * 60) == "%H:%M:%S" and time_format(6 * 3600) == "%H:%M"
    assert time_format(3 * 86400) == "%d %b %H:%M"
    assert time_label(START, START + 1800) == "Time (UTC), 29 Dec 2025"
    assert time_label(START, START + 86400) == "Time (UTC), 29 Dec 2025 to 30 Dec 2025"


def test_missing_points_break_the_line() -> None:
    times, values = with_gaps([(0, 1.0), (30, 2.0), (60, 3.0), (180, 4.0), (210, 5.0)])
    assert len(times) == 6 and math.isnan(values[3]) and values[4] == 4.0
    assert not any(math.isnan(v) for v in with_gaps([(0, 1.0), (30, 2.0), (60, 3.0)])[1])


# -- uploads into Slack threads --------------------------------------------------------------


@pytest.fixture
async def backend(slack: SlackStub) -> AsyncIterator[SlackBackend]:
    async with slack_session() as session:
        yield SlackBackend(web_client("xoxb-test-token", f"{slack.url}/api/", session))


def _log_post(**kwargs: object) -> CrossPost:
    return CrossPost(
        channel="#feature-flag-log",
        purpose="log channel",
        sections=(Section((line("my_flag: step 2 aborted, error ratio 2.4% > max 2%"),)),),
        summary="my_flag aborted",
        **kwargs,  # type: ignore[arg-type]
    )


def _errors(method: str, error: str) -> float:
    labels = {"method": method, "error": error}
    return REGISTRY.get_sample_value("chatops_slack_api_errors_total", labels) or 0.0


async def test_the_chart_follows_its_message_into_its_thread(slack: SlackStub, backend: SlackBackend) -> None:
    chart = example_chart()
    reference = await backend.post(_log_post(chart=chart))
    [message] = slack.posts("#feature-flag-log")
    assert reference == f"C0LOG|{message['_ts']}"
    [upload] = slack.uploads("#feature-flag-log")
    assert upload.channel_id == "C0LOG" and upload.thread_ts == message["_ts"]
    assert (upload.title, upload.filename, upload.alt_txt) == (chart.title, chart.filename, chart.alt)
    assert upload.data is not None and png_size(upload.data) == (1000, 660)
    methods = [c.method for c in slack.calls]
    assert methods == ["chat.postMessage", "files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


async def test_a_reply_or_an_update_puts_its_chart_in_the_thread_it_belongs_to(
    slack: SlackStub, backend: SlackBackend
) -> None:
    parent = await backend.post(_log_post())
    parent_ts = parent.partition("|")[2]
    reply = await backend.post(_log_post(thread=parent, chart=example_chart()))
    assert reply != parent
    await backend.post(_log_post(replaces=parent, chart=example_chart()))
    await backend.post(_log_post(replaces=reply, thread=parent, chart=example_chart()))
    uploads = slack.uploads("C0LOG")
    assert [u.thread_ts for u in uploads] == [parent_ts] * 3  # never the reply's own ts
    assert slack.count("chat.update") == 2


async def test_a_failed_upload_is_counted_and_the_message_still_stands(slack: SlackStub, backend: SlackBackend) -> None:
    refused = _errors("files.completeUploadExternal", "not_in_channel")
    slack.fail_next("files.completeUploadExternal", 200, body={"ok": False, "error": "not_in_channel"})
    reference = await backend.post(_log_post(chart=example_chart()))
    assert reference == f"C0LOG|{slack.posts('#feature-flag-log')[0]['_ts']}"
    assert slack.uploads("#feature-flag-log") == []
    assert _errors("files.completeUploadExternal", "not_in_channel") == refused + 1


@pytest.mark.slow
async def test_an_upload_url_that_keeps_failing_is_given_up_and_the_message_still_stands(
    slack: SlackStub, backend: SlackBackend
) -> None:
    lost = _errors("files.upload (upload URL)", "HTTP 500")
    for _ in range(4):  # the first try and three retries
        slack.fail_next("upload", 500)
    reference = await backend.post(_log_post(chart=example_chart()))
    assert reference == f"C0LOG|{slack.posts('#feature-flag-log')[0]['_ts']}"
    assert slack.count("upload") == 4 and slack.count("files.completeUploadExternal") == 0
    assert slack.uploads("#feature-flag-log") == []
    assert _errors("files.upload (upload URL)", "HTTP 500") == lost + 1
