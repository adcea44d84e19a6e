from decimal import Decimal

import pytest

from domain.detection import Numbers, atp_drifts, hysteresis_band, next_state


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
