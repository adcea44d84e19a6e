"""``located_stock``: rows summed per product and location, every location reported, 0 where none."""
from __future__ import annotations

from typing import Any

from connectors.base import located_stock


def test_rows_are_summed_per_product_and_place_and_every_place_is_reported() -> None:
    rows: list[dict[str, Any]] = [{"p": 1, "at": 10, "qty": 4.0, "held": 1.0}, {"p": 1, "at": 10, "qty": 2.5, "held": None},
            {"p": 2, "at": 20, "qty": 3.0}, {"p": 9, "at": 10, "qty": 7.0},  # a product not asked for
            {"p": 1, "at": 30, "qty": 5.0}]  # a place not asked for
    records = located_stock({2: "SKU-B", 1: "SKU-A"}, [10, 20], rows, lambda r: (r["p"], r["at"]), "qty", "held")
    assert [(r.sku, r.external_id, r.inventory_item_id, r.location_external_id, r.on_hand, r.committed, r.available)
            for r in records] == [
        ("SKU-B", "2", "2", "10", 0, 0, 0), ("SKU-B", "2", "2", "20", 3, 0, 3),
        ("SKU-A", "1", "1", "10", 6, 1, 5), ("SKU-A", "1", "1", "20", 0, 0, 0)]


def test_without_a_committed_field_nothing_is_committed() -> None:
    [record] = located_stock({"a": "SKU"}, ["x"], [{"id": "a", "qty": 2}], lambda r: (r["id"], "x"), "qty")
    assert (record.on_hand, record.committed, record.available) == (2, 0, 2)
