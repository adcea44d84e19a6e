"""A bar chart's geometry, for inline SVG drawn on the server.

The console must work where nothing outside is reachable and load nothing it did not serve, so
there is no charting library: the page's template draws one ``<rect>`` per bar from the numbers
computed here. The SVG scales with its ``viewBox``, so one drawing serves desktop and phone.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Drawing units of the ``viewBox`` (the SVG scales to its container's width).
WIDTH = 600
HEIGHT = 240
#: Room for the value above each bar and the label under it.
TOP = 24
BOTTOM = 44
GAP = 0.25


@dataclass(frozen=True)
class Bar:
    """One column: its label and value, and where the template draws it."""

    label: str
    value: int
    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]


def bars(values: list[tuple[str, int]], width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """Columns of equal width scaled to the largest value; a zero draws a 1-unit stub on the baseline,
    so every column is visible and hoverable (a chart with nothing to show still shows its axis)."""
    baseline = height - BOTTOM
    usable = baseline - TOP
    slot = width / max(1, len(values))
    top_value = max((v for _, v in values), default=0) or 1
    drawn = []
    for index, (label, value) in enumerate(values):
        bar_height = max(1.0, usable * value / top_value) if value else 1.0
        drawn.append(Bar(label=label, value=value, x=round(index * slot + slot * GAP / 2, 1),
                         y=round(baseline - bar_height, 1), width=round(slot * (1 - GAP), 1),
                         height=round(bar_height, 1)))
    return Chart(width=width, height=height, baseline=baseline, bars=drawn)
