from decimal import Decimal

import pytest

from domain.stock.detection import Numbers, atp_drifts, hysteresis_band, next_state, oversell_risk
from domain.stock.location_thresholds import next_location_state, raises_alert


@pytest.mark.parametrize(("current", "available", "expected"), [
    ("IN_STOCK", 10, "IN_STOCK"),
    ("IN_STOCK", 5, "LOW"),          # at the threshold
    ("IN_STOCK", 0, "BACKORDER"),
    ("LOW", 6, "LOW"),               # inside the hysteresis band (threshold 5, band 1)
    ("LOW", 7, "IN_STOCK"),
    ("LOW", -2, "BACKORDER"),
    ("BACKORDER", 0, "BACKORDER"),
    ("BACKORDER", 3, "RESTOCKED"),
    ("RESTOCKED", 3, "LOW"),
    ("RESTOCKED", 30, "IN_STOCK"),
])
def test_state_machine(current: str, available: int, expected: str) -> None:
    assert next_state(current, available, threshold=5, allow_backorder=True) == expected


def test_out_when_backorders_are_not_allowed() -> None:
    assert next_state("LOW", 0, threshold=5, allow_backorder=False) == "OUT"
    assert next_state("OUT", 0, threshold=5, allow_backorder=False) == "OUT"
    assert next_state("OUT", 4, threshold=5, allow_backorder=False) == "RESTOCKED"


def test_bouncing_around_the_threshold_alerts_once() -> None:
    state, changes = "IN_STOCK", 0
    for available in [6, 5, 6, 5, 6, 5, 6]:
        new = next_state(state, available, threshold=5, allow_backorder=True)
        changes += new != state
        state = new
    assert changes == 1 and state == "LOW"


def test_band_grows_with_threshold() -> None:
    assert hysteresis_band(0) == 1 and hysteresis_band(5) == 1 and hysteresis_band(20) == 4


def test_atp_drift_tolerance() -> None:
    base = dict(available=0, open_demand=0, threshold=0)
    assert not atp_drifts(Numbers(**base, erp_on_hand=100, comparisons=[(1, 1, 96, 100)]), Decimal("0.05"))
    assert atp_drifts(Numbers(**base, erp_on_hand=100, comparisons=[(1, 1, 94, 100)]), Decimal("0.05"))
    assert not atp_drifts(Numbers(**base, erp_on_hand=None, comparisons=[]), Decimal("0.05"))
    assert atp_drifts(Numbers(**base, erp_on_hand=0, comparisons=[(1, 1, 0, 0), (2, 1, 1, 0)]), Decimal("0.05"))


def test_each_store_is_held_to_its_own_drift_tolerance() -> None:
    numbers = Numbers(available=0, open_demand=0, threshold=0, erp_on_hand=100,
                      comparisons=[(1, 1, 70, 100), (2, 1, 97, 100)])
    assert atp_drifts(numbers, Decimal("0.05")), "store 1 is 30 % off"
    assert not atp_drifts(numbers, Decimal("0.05"), {1: Decimal("0.5")}), "store 1 tolerates 50 %"
    assert atp_drifts(numbers, Decimal("0.05"), {1: Decimal("0.5"), 2: Decimal("0.01")}), "store 2 only 1 %"


def test_oversell_risk_is_open_orders_against_on_hand() -> None:
    assert oversell_risk(Numbers(available=0, open_demand=6, threshold=0, on_hand=6)), "orders match stock"
    assert oversell_risk(Numbers(available=0, open_demand=7, threshold=0, on_hand=6))
    assert not oversell_risk(Numbers(available=0, open_demand=5, threshold=0, on_hand=6))
    assert not oversell_risk(Numbers(available=0, open_demand=0, threshold=0, on_hand=0)), "no orders, no risk"


@pytest.mark.parametrize(("current", "available", "expected", "alerts"), [
    ("OK", 5, "OK", False),
    ("OK", 2, "LOW", True),       # at the threshold (2)
    ("OK", 0, "OUT", True),
    ("LOW", 0, "OUT", True),
    ("LOW", 3, "LOW", False),     # inside the hysteresis band (threshold 2, band 1)
    ("LOW", 4, "OK", False),
    ("OUT", 1, "LOW", False),     # recovering says nothing
    ("OUT", 3, "LOW", False),
    ("OUT", 9, "OK", False),
])
def test_location_state_machine(current: str, available: int, expected: str, alerts: bool) -> None:
    new = next_location_state(current, available, 2)
    assert new == expected
    assert (new != current and raises_alert(current, new)) == alerts
