"""Charts drawn as PNG (and SVG).

The example chart is what a guard's chart looks like: two checks, production and staging, a bound
on each, a change, a rollout step and an abort. It is saved as chart-example.png (into
$CHATOPS_SCREENSHOTS when set, e.g. docs/, as the dashboard's screenshots are) for a person to look at.
"""

from __future__ import annotations

import io
import math
import os
import struct
from collections import Counter
from dataclasses import replace
from pathlib import Path

from PIL import Image

from bot.chart_axes import time_format, time_label, value_formatter, with_gaps
from bot.charts import BOUND_COLOUR, DPI, HEADER_IN, MARK_STYLES, PANEL_HEIGHT_IN, WIDTH_IN, render_png, render_svg
from handlers.core.charts import Bound, Chart, Mark, Panel, Series

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
