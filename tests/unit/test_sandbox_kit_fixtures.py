"""The kit's resource shapes as data files and its order pricing: what the stand-ins render with."""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from sandbox.kit.fixtures import Fixtures
from sandbox.kit.pricing import Discounts, fixed_amount, percentage, subtotal


@dataclass
class Thing:
    id: int
    name: str
    stock: int | None


@pytest.fixture()
def shapes(tmp_path: Path) -> Fixtures:
    (tmp_path / "thing.json").write_text(json.dumps({
        "id": "{id}", "name": "{name|upper}", "stock": "{stock}", "gid": "gid://acme/Thing/{id}",
        "tags": ["fixed", "{extra}"], "nested": {"twice": "{id}-{id}"}, "plain": 1.5, "none": None}))
    return Fixtures(tmp_path, {"upper": str.upper})


def test_a_whole_hole_keeps_the_value_type_and_text_holes_are_written_in(shapes: Fixtures) -> None:
    filled = shapes.fill("thing", Thing(2**53 + 1, "ada", None), extra={"k": 1})
    assert filled == {"id": 2**53 + 1, "name": "ADA", "stock": None, "gid": f"gid://acme/Thing/{2**53 + 1}",
                      "tags": ["fixed", {"k": 1}], "nested": {"twice": f"{2**53 + 1}-{2**53 + 1}"},
                      "plain": 1.5, "none": None}


def test_keywords_win_over_the_record_and_dicts_are_records_too(shapes: Fixtures) -> None:
    filled = shapes.fill("thing", {"id": 7, "name": "b", "stock": 3}, stock=0, extra=None)
    assert (filled["id"], filled["name"], filled["stock"], filled["tags"]) == (7, "B", 0, ["fixed", None])


def test_each_fill_is_a_fresh_copy(shapes: Fixtures) -> None:
    first = shapes.fill("thing", Thing(1, "a", 1), extra=1)
    first["tags"].append("changed")
    assert shapes.fill("thing", Thing(1, "a", 1), extra=1)["tags"] == ["fixed", 1]


def test_a_missing_value_is_an_error_not_a_blank(shapes: Fixtures) -> None:
    with pytest.raises(KeyError):
        shapes.fill("thing", {"id": 1, "name": "a"}, extra=1)


def test_discount_kinds_are_data_and_never_take_more_than_the_subtotal() -> None:
    discounts = Discounts({"percentage": percentage, "fixed_amount": fixed_amount})
    cents = subtotal([{"price": "10.00", "quantity": 2}, {"price": "0.99", "quantity": 3}])
    assert cents == 2297
    assert discounts.off(cents, None) == 0
    assert discounts.off(cents, {"value_type": "percentage", "value": "10"}) == 229  # rounds down to the cent
    assert discounts.off(cents, {"value_type": "fixed_amount", "value": 5}) == 500
    assert discounts.off(cents, {"value_type": "fixed_amount", "value": "99.00"}) == cents
    assert percentage(100, Decimal("33.3")) == 33
