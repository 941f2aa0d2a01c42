"""The exposure chart's time ticks: a round step for every span from seconds to months, ticks on
round UTC times, labels as precise as the step and dated where the day changes."""

from __future__ import annotations

from calendar import timegm
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from bot.time_ticks import DAY, MINUTE, WEEK, moment_label, tick_label, time_ticks

START = timegm((2026, 11, 26, 23, 41, 7))  # a Thursday, late in the day


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (20, 5),
        (90, 15),
        (10 * MINUTE, 2 * MINUTE),
        (45 * MINUTE, 10 * MINUTE),
        (5 * 3600, 3600),
        (2 * DAY, 6 * 3600),
        (6 * DAY, DAY),
        (21 * DAY, WEEK),
        (90 * DAY, 2 * WEEK),
        (400 * DAY, 8 * WEEK),  # beyond the list: whole weeks
    ],
)
def test_the_step_suits_the_span_and_ticks_fall_on_round_times(span: int, step: int) -> None:
    chosen, ticks = time_ticks(START, START + span, 8)
    assert chosen == step
    assert 1 <= len(ticks) <= 8 and all(START <= t <= START + span for t in ticks)
    assert all(b - a == step for a, b in pairwise(ticks))
    for tick in ticks:
        moment = datetime.fromtimestamp(tick, UTC)
        if step >= WEEK:
            assert (moment.weekday(), moment.hour, moment.minute) == (0, 0, 0)  # Mondays at midnight
        else:
            assert tick % step == 0


def test_labels_say_seconds_only_when_ticks_are_seconds_apart_and_the_date_where_the_day_changes() -> None:
    step, ticks = time_ticks(START, START + 40 * MINUTE, 8)
    labels = [tick_label(t, step, p) for t, p in zip(ticks, [None, *ticks], strict=False)]
    assert labels == ["26 Nov 23:45", "23:50", "23:55", "27 Nov 00:00", "00:05", "00:10", "00:15", "00:20"]
    step, ticks = time_ticks(START, START + 40, 8)
    assert [tick_label(t, step, None) for t in ticks[:2]] == ["26 Nov 23:41:10", "26 Nov 23:41:15"]
    step, ticks = time_ticks(START, START + 30 * DAY, 8)
    assert [tick_label(t, step, None) for t in ticks] == ["30 Nov", "7 Dec", "14 Dec", "21 Dec"]


def test_a_moment_is_said_to_the_minute_or_second_and_dated_when_the_chart_spans_days() -> None:
    assert moment_label(START, seconds=False, dated=False) == "23:41 UTC"
    assert moment_label(START, seconds=True, dated=False) == "23:41:07 UTC"
    assert moment_label(START, seconds=False, dated=True) == "26 Nov 2026 23:41 UTC"
