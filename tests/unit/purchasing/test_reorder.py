"""Reorder math, checked against examples worked out by hand in the comments."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.purchasing.reorder import daily_sales, daily_velocity, explain, order_quantity, reorder_point

D1, D2, D3, D4 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)


def test_sales_are_decreases_and_receipts_are_not_negative_sales() -> None:
    # on hand 20 → 18 (sold 2 on the 2nd) → 30 (a receipt of 12, not −12 sales) → 27 (sold 3 on the 3rd)
    # → 27 (nothing on the 4th). The span starts the day after the first reading.
    history = [(D1, 20), (D2, 18), (D2, 30), (D3, 27), (D4, 27)]
    assert daily_sales(history) == {D2: 2, D3: 3, D4: 0}


def test_velocity_weighs_newer_days_more() -> None:
    # Sales 2 on the 2nd, 0 on the 3rd, 3 on the 4th. With a 1-day half-life the weights by age
    # (0, 1, 2 days before the 4th) are 1, ½, ¼:
    #   (3·1 + 0·½ + 2·¼) / (1 + ½ + ¼) = 3.5 / 1.75 = 2.0 units a day
    history = [(D1, 20), (D2, 18), (D3, 18), (D4, 15)]
    assert daily_velocity(history, half_life_days=1) == Decimal("2.0000")
    # Plain average would be 5 / 3 = 1.6667; the newest day's 3 pulls the weighted one above it.
    assert daily_velocity(history, half_life_days=1) > Decimal(5) / 3


def test_velocity_with_the_default_half_life_and_unsorted_readings() -> None:
    # A steady 2 a day over 3 days is 2 whatever the weights; order of readings does not matter.
    history = [(D4, 14), (D1, 20), (D3, 16), (D2, 18)]
    assert daily_velocity(history) == Decimal("2.0000")


def test_velocity_without_enough_history_is_zero() -> None:
    assert daily_velocity([]) == 0
    assert daily_velocity([(D1, 5)]) == 0
    # Two readings on one day: that day is the span. 5 → 3 is 2 sold that day.
    assert daily_velocity([(D1, 5), (D1, 3)]) == Decimal("2.0000")


def test_reorder_point_covers_lead_time_demand_plus_safety_stock() -> None:
    # 1.5 a day × 21 days = 31.5, + 2 safety stock = 33.5 → 34
    assert reorder_point(Decimal("1.5"), 21, 2, 3) == 34
    # A slow seller: 0.1 × 14 + 1 = 2.4 → 3, but the threshold (4) is the floor
    assert reorder_point(Decimal("0.1"), 14, 1, 4) == 4
    # Not selling at all: safety stock 2 under a threshold of 3 → 3
    assert reorder_point(Decimal(0), 21, 2, 3) == 3


def _quantity(**overrides: Any) -> Any:
    numbers: dict[str, Any] = {"reorder_qty": 0, "velocity": Decimal("0.5"), "lead_time_days": 14,
                               "open_backorders": 0, "safety_stock": 2, "on_hand": 0, "on_order": 0, "case_pack": 1,
                               "min_order_units": 0, "unit_cost_cents": 10_000, "min_order_cents": 0}
    numbers.update(overrides)
    return order_quantity(**numbers)


def test_need_counts_backorders_and_subtracts_what_is_held_and_ordered() -> None:
    # lead-time demand ⌈0.5 × 14⌉ = 7; + 3 waiting customers + 2 safety − 4 on hand − 2 on order = 6
    suggestion = _quantity(open_backorders=3, on_hand=4, on_order=2)
    assert (suggestion.lead_time_demand, suggestion.need, suggestion.quantity) == (7, 6, 6)
    assert suggestion.rounded_by == []


def test_nothing_is_ordered_when_nothing_is_needed() -> None:
    # 7 + 0 + 2 − 6 on hand − 3 on order = 0, and no usual lot (reorder qty 0): nothing
    suggestion = _quantity(on_hand=6, on_order=3)
    assert (suggestion.need, suggestion.quantity, suggestion.rounded_by) == (0, 0, [])


def test_reorder_qty_is_the_smallest_order() -> None:
    # need 7 + 2 − 5 = 4, but the SKU is always reordered at least 10 at a time
    suggestion = _quantity(on_hand=5, reorder_qty=10)
    assert (suggestion.need, suggestion.quantity, suggestion.rounded_by) == (4, 10, ["reorder_qty"])
    # At the reorder point with the need already covered (7 + 2 − 12 < 0, so 0): still the usual lot
    covered = _quantity(on_hand=12, reorder_qty=10)
    assert (covered.need, covered.quantity) == (0, 10)


def test_case_pack_rounds_up() -> None:
    # need 7 + 2 − 0 = 9 → cases of 4: 12
    suggestion = _quantity(case_pack=4)
    assert (suggestion.need, suggestion.quantity, suggestion.rounded_by) == (9, 12, ["case_pack"])


def test_minimum_order_units_in_whole_cases() -> None:
    # need 9 → 10 (cases of 2) → vendor minimum 15 units → 16 (whole cases of 2)
    suggestion = _quantity(case_pack=2, min_order_units=15)
    assert suggestion.quantity == 16
    assert suggestion.rounded_by == ["case_pack", "min_order_units"]


def test_minimum_order_value_by_whole_cases() -> None:
    # need 9 at $100.00 = $900.00, under the $1,500.00 minimum: ⌈150000 / 10000⌉ = 15 units,
    # in cases of 4 → 16 units = $1,600.00
    suggestion = _quantity(case_pack=4, min_order_cents=150_000)
    assert (suggestion.quantity, suggestion.value_cents) == (16, 160_000)
    assert suggestion.rounded_by == ["case_pack", "min_order_value"]


def test_the_suggestion_explains_itself() -> None:
    reason = _quantity(open_backorders=1, on_hand=3, case_pack=4).as_dict()
    assert reason == {
        "quantity": 8, "velocity": "0.5", "lead_time_days": 14, "lead_time_demand": 7, "open_backorders": 1,
        "safety_stock": 2, "on_hand": 3, "on_order": 0, "need": 7, "reorder_qty": 0, "case_pack": 4,
        "min_order_units": 0, "unit_cost_cents": 10_000, "min_order_cents": 0, "rounded_by": ["case_pack"],
        "value_cents": 80_000, "reported_shortfall": 0, "promised": 1, "position": 2, "reorder_point": 9,
        "configured_reorder_point": 0, "demand": {},
    }


def test_a_bad_half_life_is_refused() -> None:
    with pytest.raises(ValueError, match="half_life_days"):
        daily_velocity([(D1, 5), (D2, 3)], half_life_days=0)


def test_a_short_history_is_padded_to_a_week() -> None:
    # 25 sold on the only observed day: alone that is 25/day; over a minimum 7-day span with the
    # 6 unobserved days counted as 0 (half-life 7): weights ½^(k/7), k = 0..6, sum ≈ 5.3035,
    # so 25 × 1 / 5.3035 ≈ 4.7138 units/day.
    history = [(date(2026, 11, 25), 25), (date(2026, 11, 25), 0)]
    assert daily_velocity(history) == Decimal("25.0000")
    assert daily_velocity(history, min_span_days=7) == Decimal("4.7138")


def test_the_need_brings_the_position_back_to_the_reorder_point() -> None:
    # A configured reorder point of 12 above lead-time demand 7 + safety 2: at 1 on hand the need
    # is 12 − 1 = 11, so goods arriving for it leave the SKU at 12, not under it.
    suggestion = _quantity(on_hand=1, reorder_point=12)
    assert (suggestion.reorder_point, suggestion.need, suggestion.position) == (12, 11, 1)
    # Below lead-time demand + safety stock the velocity's point rules: 7 + 2 = 9 − 1 = 8
    assert _quantity(on_hand=1, reorder_point=4).need == 8


def test_a_negative_figure_is_demand_already_promised_counted_once() -> None:
    # A platform reports −2 on hand: two units sold that we do not hold. They are usually the same
    # two customers as the 2 open backorders, so promised = max(2, 2) = 2, never 4; on hand counts
    # from 0. need = 7 lead-time demand + 2 promised + 2 safety − 0 − 0 = 11.
    suggestion = _quantity(on_hand=-2, reported_shortfall=2, open_backorders=2)
    assert (suggestion.on_hand, suggestion.promised, suggestion.need, suggestion.quantity) == (0, 2, 11, 11)
    # The platform knows of 3 sold beyond stock, we recorded 1 backorder so far: 3 are promised.
    more = _quantity(reported_shortfall=3, open_backorders=1)
    assert (more.promised, more.need, more.position) == (3, 12, 0)
    # An on-order figure below 0 (a line grown meanwhile) is counted as nothing on order.
    assert _quantity(on_order=-11).on_order == 0


def _numbers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        try:
            return [Decimal(value)]
        except ArithmeticError:
            return []
    return []


@given(on_hand=st.integers(-50, 50), on_order=st.integers(-20, 50), backorders=st.integers(0, 20),
       shortfall=st.integers(0, 20), velocity=st.decimals(0, 20, places=4), reorder_qty=st.integers(0, 24),
       case_pack=st.integers(1, 12))
def test_no_figure_in_a_reason_is_negative(on_hand: int, on_order: int, backorders: int, shortfall: int,
                                           velocity: Decimal, reorder_qty: int, case_pack: int) -> None:
    suggestion = _quantity(on_hand=on_hand, on_order=on_order, open_backorders=backorders,
                           reported_shortfall=shortfall, velocity=velocity, reorder_qty=reorder_qty,
                           case_pack=case_pack, reorder_point=5, demand={"source": "none", "window_days": 0})
    reason = suggestion.as_dict()
    assert all(number >= 0 for number in _numbers(reason)), reason
    # and the quantity is explained by the numbers beside it
    assert reason["reorder_point"] == max(5, reason["lead_time_demand"] + reason["safety_stock"])
    assert reason["need"] == max(0, reason["reorder_point"] + reason["promised"] - reason["on_hand"]
                                 - reason["on_order"])
    assert reason["quantity"] >= max(reason["need"], reorder_qty)
    assert "−" in explain(reason) and "-" not in explain(reason).replace("lead-time", "").replace("on-hand", "")


def test_cached_weights_are_the_powers_of_the_callers_decimal_context() -> None:
    """The weights are cached per age; a caller's own precision still gets its own figures."""
    from decimal import localcontext

    from domain.purchasing.reorder import HALF, VELOCITY_PLACES, weighted_velocity

    daily = {date(2026, 11, 1) + timedelta(days=offset): units for offset, units in enumerate([3, 0, 1, 4, 0, 2, 5])}

    def by_hand() -> Decimal:
        last = max(daily)
        weights = {day: HALF ** (Decimal((last - day).days) / Decimal("7")) for day in daily}
        return (sum(weights[d] * u for d, u in daily.items()) / sum(weights.values())).quantize(VELOCITY_PLACES)

    assert weighted_velocity(daily) == by_hand()
    with localcontext() as context:
        context.prec = 6
        assert weighted_velocity(daily) == by_hand()
        assert weighted_velocity({**daily, date(2026, 11, 8): 1}) != weighted_velocity(daily)
    assert weighted_velocity(daily) == by_hand()
