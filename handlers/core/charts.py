"""A chart as plain data: what the application wants drawn (metric checks around a change), for
the delivery side to render (a PNG uploaded to Slack, an image on the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Bound", "Chart", "Mark", "Panel", "Series", "Unit"]

#: How a panel's values read: a ratio shows as a percentage, seconds as ms/s, a number as is.
Unit = Literal["ratio", "seconds", "number"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line: (unix time, value) points, oldest first; gaps are simply missing points."""

    label: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Bound:
    """A horizontal line: a check's bound (its ``max``, or the baseline times ``max_increase``)."""

    label: str
    value: float


@dataclass(frozen=True, slots=True)
class Panel:
    """One check: its series (one per environment) and its bounds, on one y-axis."""

    title: str
    unit: Unit
    series: tuple[Series, ...]
    bounds: tuple[Bound, ...] = ()


@dataclass(frozen=True, slots=True)
class Mark:
    """A moment on the time axis, across every panel: a change, a rollout step, an abort."""

    at: float
    label: str
    kind: Literal["change", "step", "abort", "watch"] = "change"


@dataclass(frozen=True, slots=True)
class Chart:
    """Panels sharing one time axis from ``start`` to ``end`` (unix times), with marks; ``alt``
    says in words what it shows (the image's alternative text)."""

    title: str
    start: float
    end: float
    panels: tuple[Panel, ...]
    marks: tuple[Mark, ...] = ()
    alt: str = ""
    filename: str = "chart.png"
