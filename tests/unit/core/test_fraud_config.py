"""``[fraud]`` in the business file: weights, thresholds, windows and reshippers read; every mistake
named by its key path; no table, no automatic scoring; no ``decline_at``, no automatic decline."""
from __future__ import annotations

import tomllib
from typing import Any

import pytest

from domain.core.business_config import ConfigError, parse_config
from domain.core.fraud_config import DEFAULT_WEIGHTS, Reshipper
from domain.fraud import signals
from tests.conftest import REPO_ROOT


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file() -> None:
    fraud = parse_config(_example()).fraud
    assert fraud.enabled and (fraud.review_at, fraud.hold_at, fraud.decline_at) == (50, 80, None)
    assert fraud.weights == DEFAULT_WEIGHTS and fraud.high_value_cents == 75_000
    assert (fraud.velocity_window_s, fraud.velocity_orders, fraud.identity_window_s) == (86_400, 3, 30 * 86_400)
    assert fraud.reshippers[0] == Reshipper("forwarding warehouses by Portland airport", "97230", "US", None)


def test_without_the_table_nothing_is_scored_on_its_own_and_nothing_declined() -> None:
    data = _example()
    del data["fraud"]
    fraud = parse_config(data).fraud
    assert not fraud.enabled and fraud.decline_at is None and fraud.weights == DEFAULT_WEIGHTS


def test_decline_only_from_the_stores_rule() -> None:
    data = _example()
    fraud = parse_config(data).fraud
    assert [signals.verdict(score, fraud) for score in (49, 50, 79, 80, 10_000)] == \
        ["pass", "review", "review", "hold", "hold"]
    data["fraud"]["decline_at"] = 120
    declining = parse_config(data).fraud
    assert [signals.verdict(score, declining) for score in (119, 120)] == ["hold", "decline"]


def test_every_mistake_is_named_by_its_key_path() -> None:
    data = _example()
    data["fraud"].update({"review_at": 90, "hold_at": 60, "decline_at": 30, "velocity_window": "soon",
                          "high_value": "lots", "colour": "red", "cards_at_least": 1})
    data["fraud"]["weights"].update({"avs_mismatch": -5, "astrology": 10})
    data["fraud"]["reshippers"].append({"name": "nowhere"})
    data["fraud"]["reshippers"].append({"name": "bad", "country": "USA"})
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("fraud.hold_at: must be at least review_at (90), got 60",
                     "fraud.decline_at: must be at least hold_at (60), got 30",
                     "fraud.velocity_window: expected a duration", "fraud.high_value: expected an amount",
                     "fraud.colour: unknown key", "fraud.cards_at_least: must be at least 2",
                     "fraud.weights.avs_mismatch: must be at least 0", "fraud.weights.astrology: unknown signal",
                     "fraud.reshippers[2]: set at least one of postcode, country, address",
                     "fraud.reshippers[3].country: expected a two-letter country code"):
        assert expected in problems, f"{expected!r} not in:\n{problems}"
