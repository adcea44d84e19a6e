"""``[payments]`` in the business file: accounts checked key by key, orders matched to the account
that took their money, and the sandbox copy of the example pointing each account at its stand-in."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from demo import scenario
from domain.core.business_config import ConfigError, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "futon-store.toml"


def with_payments(block: str) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["payments"] = tomllib.loads(block)["payments"]
    return data


def test_the_example_names_three_accounts_for_the_outlet_by_payment_method() -> None:
    payments = parse_config(tomllib.loads(EXAMPLE.read_text())).payments
    assert [(a.key, a.provider) for a in payments.accounts] == [
        ("stripe-main", "stripe"), ("adyen-eu", "adyen"), ("paypal", "paypal")]
    assert payments.account_for("woo-outlet", "stripe").key == "stripe-main"  # type: ignore[union-attr]
    assert payments.account_for("woo-outlet", "ppcp-gateway").key == "paypal"  # type: ignore[union-attr]
    assert payments.account_for("woo-outlet", "cod") is None
    assert payments.account_for("shopify-main", "stripe") is None, "Shopify's money stays with Shopify"
    assert payments.poll_after_s == 600 and payments.account("adyen-eu").merchant_account == "FutonLoftECOM"  # type: ignore[union-attr]


def test_every_problem_is_named_by_its_key_path() -> None:
    with pytest.raises(ConfigError) as bad:
        parse_config(with_payments('''
[payments]
poll_pending_after = "soon"
[[payments.accounts]]
key = "Bad Key"
provider = "stripe"
stores = ["nowhere"]
credentials = {}
[[payments.accounts]]
key = "ady"
provider = "adyen"
credentials = { api_key = "lower-case" }
webhook_secret_env = "ADYEN_HMAC"
environment = "prod"
[[payments.accounts]]
key = "sq"
provider = "square"
colour = "blue"
'''))
    problems = bad.value.problems
    for expected in ('payments.poll_pending_after: expected a duration', "payments.accounts[0].key: use lowercase",
                     "payments.accounts[0].stores: unknown store 'nowhere'",
                     "payments.accounts[0].credentials.secret_key: missing",
                     "payments.accounts[1].merchant_account: missing",
                     "payments.accounts[1].credentials.api_key: expected an environment variable name",
                     "payments.accounts[1].environment: expected live or test",
                     "payments.accounts[2].provider: expected one of stripe, adyen, paypal",
                     "payments.accounts[2].colour: unknown key"):
        assert any(p.startswith(expected) for p in problems), (expected, problems)


def test_the_sandbox_copy_points_each_account_at_its_stand_in_and_drops_stores_left_out() -> None:
    text = scenario.sandbox_config_text(EXAMPLE, "http://127.0.0.1:9", {"shopify", "woocommerce"})
    accounts = parse_config(tomllib.loads(text)).payments.accounts
    assert [a.base_url for a in accounts] == ["http://127.0.0.1:9/stripe/stripe-main",
                                              "http://127.0.0.1:9/adyen/adyen-eu", "http://127.0.0.1:9/paypal/paypal"]
    without_outlet = scenario.sandbox_config_text(EXAMPLE, "http://127.0.0.1:9", {"shopify"})
    assert parse_config(tomllib.loads(without_outlet)).payments.accounts == ()
