"""``[[refunds.rules]]``: every problem named by its key path, and the first rule that holds decides."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from domain.core.business_config import ConfigError, parse_config, parse_refunds
from domain.policy.rules import NO_RULE, Request, evaluate

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "futon-store.toml"

BROKEN = """
[refunds]
otherwise = "approve"
colour = "red"

[[refunds.rules]]
name = "a"
decision = "refund"
over = "ten"

[[refunds.rules]]
name = "a"
decision = "review"
monthly_cap = "50.00"
approve_up_to = "20.00"
reasons = "defective"

[[refunds.rules]]
name = "c"
decision = "credit"
credit_percent = 0
credit_kind = "cash"
over = "30.00"
up_to = "20.00"

[[refunds.rules]]
decision = "approve"
tiers = ["gold"]
channels = ["nowhere"]
"""


def test_every_problem_has_its_key_path() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_refunds(tomllib.loads(BROKEN))
    assert sorted(raised.value.problems) == sorted([
        "refunds.colour: unknown key",
        "refunds.otherwise: expected review or deny, got 'approve'",
        "refunds.rules[0].decision: expected one of approve, review, deny, credit, got 'refund'",
        "refunds.rules[0].over: expected an amount like \"499.00\", got 'ten'",
        "refunds.rules[1].name: duplicate name 'a'",
        'refunds.rules[1].monthly_cap: only a decision = "credit" rule takes it',
        'refunds.rules[1].approve_up_to: only a decision = "approve" rule takes it',
        "refunds.rules[2].credit_kind: expected one of store_credit, partial_refund, got 'cash'",
        "refunds.rules[2].credit_percent: expected a percentage above 0 up to 100, got 0",
        "refunds.rules[2].up_to: must be above over",
        "refunds.rules[3].name: missing",
    ])


def test_tiers_and_channels_must_exist_in_the_business_file() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    data["refunds"]["rules"].append({"name": "odd", "decision": "deny", "tiers": ["gold", "none"],
                                     "channels": ["nowhere"]})
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    assert raised.value.problems == ["refunds.rules[6].channels: unknown store 'nowhere'",
                                     "refunds.rules[6].tiers: unknown segment 'gold' (or \"none\")"]


def test_first_rule_that_holds_decides_and_none_falls_to_otherwise() -> None:
    policy = parse_refunds({"refunds": {"otherwise": "deny", "rules": [
        {"name": "big", "over": "100.00", "decision": "review"},
        {"name": "vip", "tiers": ["vip"], "decision": "approve", "approve_up_to": "50.00"},
        {"name": "no tier", "tiers": ["none"], "up_to": "100.00", "decision": "credit", "credit_percent": 50,
         "credit_kind": "partial_refund"}]}})
    assert evaluate(policy, Request("x", 20_000, "vip", "s")).rule_name == "big"
    vip = evaluate(policy, Request("x", 8_000, "vip", "s"))
    assert (vip.decision, vip.amount_cents, vip.rule_index) == ("approve", 5_000, 1)
    plain = evaluate(policy, Request("x", 8_001, None, "s"))
    assert (plain.decision, plain.amount_cents, plain.settle_as) == ("credit", 4_001, "partial_refund")
    other = evaluate(policy, Request("x", 8_000, "repeat", "s"))
    assert (other.decision, other.rule_name, other.rule_index) == ("deny", NO_RULE, None)
