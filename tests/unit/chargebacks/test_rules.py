"""The pure parts of the chargeback desk: which rule a reason takes, how facts land in each
provider's fields, the Visa CE 3.0 matching test, and ``[chargebacks]`` in the business file."""
from __future__ import annotations

import tomllib
from typing import Any

import pytest

from domain.chargebacks import prior_orders, provider_fields
from domain.chargebacks.requirements import CE3, RULES, rule_for
from domain.chargebacks.sources import Fact
from domain.core.business_config import ConfigError, parse_config
from tests.conftest import REPO_ROOT


def test_each_reason_takes_its_rule_and_visa_10_4_takes_compelling_evidence_3() -> None:
    assert rule_for("not_received", "13.1").needs == ("carrier", "tracking_number", "ship_date", "delivery_proof",
                                                     "shipping_address")
    assert rule_for("not_as_described", "4853").needs == ("product_description", "refund_policy",
                                                          "refund_policy_disclosure", "customer_communication",
                                                          "shipping_address")
    for rule in (*RULES.values(), CE3):  # the customer's address in every packet, billing where known
        assert "shipping_address" in rule.needs and rule.where_known == ("billing_address",), rule.name
    assert rule_for("fraud", "10.4") is CE3 and rule_for("fraud", "4837") is RULES["fraud"]
    assert not RULES["fraud"].compelling_evidence_3 and CE3.compelling_evidence_3
    assert rule_for("something_new") is RULES["general"]
    assert rule_for("fraud", "10.4").as_dict("10.4")["network_code"] == "10.4"


def _facts(*names: str) -> dict[str, Fact]:
    return {name: Fact(f"{name} text", "test") for name in names}


def test_facts_land_in_each_providers_own_fields() -> None:
    shipped = ["carrier", "tracking_number", "ship_date", "delivery_proof", "shipping_address"]
    stripe = provider_fields.for_provider("stripe", RULES["not_received"], shipped, _facts(*shipped))
    assert stripe.fields == {"shipping_carrier": "carrier text", "shipping_tracking_number": "tracking_number text",
                             "shipping_date": "ship_date text", "shipping_address": "shipping_address text"}
    assert stripe.documents == {"shipping_documentation": ["delivery_proof"], "uncategorized_file": shipped}
    fraud = ["avs_cvv", "customer_ip", "prior_undisputed_orders"]
    stripe_fraud = provider_fields.for_provider("stripe", CE3, fraud, _facts(*fraud))
    assert stripe_fraud.fields["customer_purchase_ip"] == "customer_ip text"
    assert stripe_fraud.fields["uncategorized_text"].startswith("AVS and CVV results: avs_cvv text")
    adyen = provider_fields.for_provider("adyen", RULES["not_received"], shipped, _facts(*shipped))
    assert adyen.defense_reason == "MerchandiseReceived" and adyen.bundle == ""
    assert adyen.fields == {}, "Adyen takes documents only"
    assert adyen.documents == {"DateMerchandiseShipped": ["carrier", "tracking_number", "ship_date"],
                               "ProofOfGoodsOrServicesProvided": ["delivery_proof", "shipping_address"]}
    paypal = provider_fields.for_provider("paypal", RULES["not_received"], shipped, _facts(*shipped))
    assert set(paypal.fields) == {"PROOF_OF_FULFILLMENT", "PROOF_OF_DELIVERY_SIGNATURE", "DELIVERY_ADDRESS",
                                  "PROOF_OF_FULFILLMENT.carrier_name", "PROOF_OF_FULFILLMENT.tracking_number"}
    assert paypal.fields["PROOF_OF_FULFILLMENT.tracking_number"] == "tracking_number text"
    long = {"customer_communication": Fact("x" * 5000, "test")}
    clipped = provider_fields.for_provider("paypal", RULES["general"], ["customer_communication"], long)
    assert len(clipped.fields["OTHER"]) <= provider_fields.PAYPAL_NOTES_LIMIT
    with pytest.raises(ValueError):
        provider_fields.for_provider("square", RULES["general"], [], {})


def test_ce3_needs_two_shared_elements_one_of_them_ip_or_device() -> None:
    disputed = {"ip": "203.0.113.7", "device_id": "d1", "user_id": "u1", "shipping_address": {"line1": "1 A St"}}
    assert prior_orders.shared(disputed, {"ip": "203.0.113.7", "device_id": "D1 "}) == ["ip", "device_id"]
    assert prior_orders.qualifies(["ip", "shipping_address"]) and prior_orders.qualifies(["device_id", "user_id"])
    assert not prior_orders.qualifies(["user_id", "shipping_address"]) and not prior_orders.qualifies(["ip"])
    assert prior_orders.shared(disputed, {"shipping_address": "1 a st"}) == ["shipping_address"]
    assert prior_orders.other_card({"card_fingerprint": "a"}, {"card_fingerprint": "b"})
    assert not prior_orders.other_card({"card_fingerprint": "a"}, {})


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_chargebacks_table_and_its_wrong_values_by_key_path() -> None:
    config = parse_config(_example())
    assert config.chargebacks.remind_before_s == (72 * 3600, 24 * 3600, 4 * 3600)
    assert config.chargebacks.refund_policy_text.startswith("Return any item within 30 days")
    assert not config.chargebacks.auto_submit
    data = _example()
    del data["chargebacks"]
    assert parse_config(data).chargebacks.remind_before_s == (72 * 3600, 24 * 3600, 4 * 3600)  # the default
    data = _example()
    data["chargebacks"].update({"remind_before": ["4h", "soon", "4h"], "auto_submit": "yes", "colour": "red",
                                "refund_policy_text": 3})
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("chargebacks.remind_before[1]: expected a duration", "chargebacks.remind_before: the same duration",
                     "chargebacks.auto_submit: expected true or false", "chargebacks.colour: unknown key",
                     "chargebacks.refund_policy_text: expected text"):
        assert expected in problems
    data = _example()
    data["chargebacks"]["remind_before"] = [f"{n}h" for n in range(1, 10)]
    with pytest.raises(ConfigError, match="at most 8 reminders"):
        parse_config(data)
