"""The console's pieces that need no server: the chart's geometry and the basic-auth check."""
from __future__ import annotations

import base64

from workers.console import authorised, duration
from workers.console_chart import bars


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bars_scale_to_the_largest_value_and_zero_keeps_a_stub() -> None:
    chart = bars([("a", 2), ("b", 4), ("c", 0)], width=300, height=200)
    a, b, c = chart.bars
    assert b.height == chart.baseline - 24 and a.height == b.height / 2
    assert c.height == 1.0 and c.y == chart.baseline - 1
    assert all(bar.y + bar.height == chart.baseline for bar in chart.bars)
    assert a.x + a.width < b.x < b.x + b.width < c.x and c.x + c.width <= 300


def test_bars_of_nothing_draw_only_stubs() -> None:
    chart = bars([("a", 0), ("b", 0)])
    assert [bar.height for bar in chart.bars] == [1.0, 1.0]


def test_only_a_configured_pair_is_authorised() -> None:
    accepted = [("ops", "s3cret:with-colon"), ("lead", "other")]
    assert authorised(basic("ops", "s3cret:with-colon"), accepted)
    assert authorised(basic("lead", "other"), accepted)
    assert not authorised(basic("ops", "other"), accepted), "a password of another user"
    assert not authorised(basic("ops", "s3cret"), accepted)
    assert not authorised(None, accepted) and not authorised("Bearer abc", accepted)
    assert not authorised("Basic not-base64!", accepted)
    assert not authorised(basic("ops", "s3cret:with-colon"), []), "nothing configured: nobody gets in"


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (None, 45, 720, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == \
        ["—", "45s", "12m", "3h 5m", "2d 4h"]
