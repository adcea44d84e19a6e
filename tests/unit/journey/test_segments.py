"""Customer tiers: read from the business file, and decided from order history figures."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from domain.core.business_config import ConfigError, SegmentConfig, load_config, parse_config
from domain.journey.segments import classify

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "futon-store.toml"


def _with(extra: str) -> dict:
    import tomllib

    return tomllib.loads(EXAMPLE.read_text() + "\n" + extra)


def test_the_example_file_defines_tiers_in_order() -> None:
    config = load_config(EXAMPLE)
    assert [s.key for s in config.segments] == ["high_value", "repeat"]
    high = config.segments[0]
    assert high.min_lifetime_value_cents == 150000 and high.sla_extra_s == 48 * 3600
    assert high.credit_bonus_percent == Decimal(10)


def test_a_segment_without_criteria_or_with_a_bad_percentage_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with('[[segments]]\nkey = "vip"\ncredit_bonus_percent = 150\n'))
    problems = "\n".join(caught.value.problems)
    assert "segments[2]: a segment needs min_prior_orders or min_lifetime_value" in problems
    assert "segments[2].credit_bonus_percent: expected a percentage from 0 to 100" in problems


def test_the_first_matching_tier_wins_and_keeps_its_figures() -> None:
    tiers = (SegmentConfig("high_value", min_lifetime_value_cents=150000, sla_extra_s=172800,
                           credit_bonus_percent=Decimal(10)),
             SegmentConfig("repeat", min_prior_orders=2, credit_bonus_cents=1500))
    high = classify(tiers, prior_orders=3, lifetime_value_cents=200000, line_total_cents=64900)
    assert (high.key, high.sla_extra_s, high.credit_bonus_cents) == ("high_value", 172800, 6490)
    assert high.rule["credit_bonus_percent_cents"] == 6490 and high.rule["min_lifetime_value_cents"] == 150000
    repeat = classify(tiers, prior_orders=2, lifetime_value_cents=50000, line_total_cents=64900)
    assert (repeat.key, repeat.sla_extra_s, repeat.credit_bonus_cents) == ("repeat", 0, 1500)
    none = classify(tiers, prior_orders=1, lifetime_value_cents=50000, line_total_cents=64900)
    assert (none.key, none.credit_bonus_cents) == (None, 0) and none.rule["checked"] == ["high_value", "repeat"]


def test_the_price_policy_keys_are_checked() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with('[[store_policies]]\nstore = "shopify-main"\nsubstitute_price_difference = "maybe"\n'))
    assert any("substitute_price_difference: expected one of auto, absorb, charge, staff" in p
               for p in caught.value.problems)
