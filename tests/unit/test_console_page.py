"""The console's pieces that need no server: the chart's geometry, the basic-auth check, and the
case pages laid out from the figures they are given."""
from __future__ import annotations

import base64
from typing import Any

from workers.console import _templates, authorised, duration, stamp
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


def test_stamps_read_iso_text_and_datetimes_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    assert stamp("2026-12-04T10:05:59-05:00") == "2026-12-04 15:05 UTC"
    assert stamp(datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=2)))) == "2026-12-04 21:30 UTC"
    assert stamp(None) == "—"


def _queue(name: str, total: int, late: int) -> dict[str, Any]:
    return {"queue": name, "total": total, "late": late,
            "by_state": {"open": total, "in_progress": 0, "waiting": 0},
            "by_priority": {"urgent": total, "high": 0, "normal": 0, "low": 0},
            "oldest": {"id": 7, "kind": "fraud_hold", "opened_at": None, "age_s": 7200}}


def _case(case_id: int, state: str, late: bool, due_in_s: int) -> dict[str, Any]:
    return {"id": case_id, "kind": "fraud_hold", "state": state, "queue": "risk", "owner": None, "priority": "urgent",
            "order": "#1001", "channel": "shopify-main", "skus": ["FUT-FRM-OAK-FULL"], "sla_due_at": "2026-12-04T12:00:00+00:00",
            "sla_breached": late, "summary": "order #1001: fraud score 60 <b>", "opened_at": "2026-12-04T10:00:00+00:00",
            "late": late, "due_in_s": due_in_s}


def test_the_queues_page_lays_out_the_figures_it_is_given() -> None:
    html = _templates().get_template("console/cases.html").render(
        at=None, refresh_s=60, cases={"total": 3, "late": 1, "queues": [_queue("risk", 3, 1)],
                                      "by_state": {"open": 3, "in_progress": 0, "waiting": 0},
                                      "cases": [_case(7, "open", True, -5400), _case(8, "waiting", False, 900),
                                                _case(9, "open", False, 3600)], "listed": 200})
    assert 'id="queue-risk" data-queue="risk" data-total="3"' in html
    assert '<td data-label="Late" data-count="late" class="num bad">1</td>' in html
    assert '<a href="/console/cases/7">#7</a> fraud_hold, opened 2h 0m ago' in html
    assert '<span class="pill late">late</span> 1h 30m over' in html and "paused (waiting)" in html
    assert "in 1h 0m" in html and "fraud score 60 &lt;b&gt;" in html
    assert 'href="/console/cases" aria-current="page"' in html


def test_a_case_page_shows_reasons_before_the_playbook() -> None:
    case = _case(7, "open", False, 600) | {
        "reasons": ["AVS N: street and postal code do not match (+30)"], "playbook": ["Review", "Call", "Release"],
        "history": [{"at": "2026-12-04T10:00:00+00:00", "actor": "fraud", "action": "opened", "from_state": None,
                     "to_state": "open", "note": "", "detail": {"reasons": ["AVS N (+30)"]}}],
        "route_index": 3, "resolution_note": None, "commands": ["backorders cases assign 7 OWNER"]}
    html = _templates().get_template("console/case.html").render(at=None, refresh_s=60, case=case)
    assert html.index('id="reasons"') < html.index('id="playbook"') < html.index('id="history"')
    assert "<li>AVS N: street and postal code do not match (+30)</li>" in html
    assert "rule 3 of [[cases.routes]]" in html and "2026-12-04 12:00 UTC" in html
    assert '<code class="cmd">backorders cases assign 7 OWNER</code>' in html
