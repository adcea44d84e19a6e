"""The kit's stock status rule, site dates and fixtures, which the catalog stand-ins declare."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sandbox.kit.dates import SiteDates
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.inventory import StockStatus

RULE = StockStatus("in", "back", "out")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def item(**fields: object) -> dict[str, object]:
    return {"manage_stock": True, "stock_quantity": 0, "backorders": "no", "stock_status": "in", **fields}


def test_a_managed_status_follows_the_quantity_and_backorders() -> None:
    assert RULE.changed(item(), NOW, stock_quantity=3)["stock_status"] == "in"
    assert RULE.changed(item(), NOW)["stock_status"] == "out"
    assert RULE.changed(item(), NOW, backorders="notify")["stock_status"] == "back"
    assert RULE.changed(item(stock_quantity=None), NOW)["stock_status"] == "out"


def test_an_unmanaged_stock_keeps_its_status_and_is_not_moved() -> None:
    unmanaged = item(manage_stock=False, stock_quantity=None, stock_status="back")
    assert RULE.changed(unmanaged, NOW)["stock_status"] == "back"
    assert RULE.moved(unmanaged, -2, NOW) is unmanaged


def test_a_move_changes_the_quantity_the_status_and_the_date() -> None:
    sold = RULE.moved(item(stock_quantity=1), -2, NOW)
    assert (sold["stock_quantity"], sold["stock_status"], sold["date_modified"]) == (-1, "out", NOW)


def test_site_dates_render_both_zones_and_read_either() -> None:
    dates = SiteDates(timezone(timedelta(hours=2)))
    assert dates.pairs(date_created=NOW) == {"date_created": "2026-01-02T05:04:05",
                                             "date_created_gmt": "2026-01-02T03:04:05"}
    assert dates.read("2026-01-02T05:04:05", is_gmt=False) == NOW
    assert dates.read("2026-01-02T03:04:05", is_gmt=True) == NOW
    assert dates.read("2026-01-02T03:04:05Z", is_gmt=False) == NOW


def test_fixtures_are_fresh_copies(tmp_path: Path) -> None:
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "shape.json").write_text('{"lines": []}')
    fixture = Fixtures(str(tmp_path / "module.py"))
    first = fixture("shape")
    first["lines"].append(1)
    assert fixture("shape") == {"lines": []}
