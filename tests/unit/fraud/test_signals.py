"""The signal rules alone, no database: what matches a reshipper, how a partial AVS match counts,
and that an input nobody gave is "not known" rather than clear."""
from __future__ import annotations

import dataclasses

from domain.core.fraud_config import FraudConfig, Reshipper
from domain.fraud import signals
from domain.fraud.inputs import address_key

CONFIG = FraudConfig(enabled=True, reshippers=(
    Reshipper("airport forwarders", postcode="97230", country="US"),
    Reshipper("freight park", address="freight park"),
))


def facts(**changes: object) -> signals.Facts:
    return dataclasses.replace(signals.Facts(order_number="#1", total_cents=10_000), **changes)  # type: ignore[arg-type]


def test_a_reshipper_matches_on_every_part_it_sets() -> None:
    same = {"address1": "8800 NE Airport Way", "zip": "97 230", "country_code": "us"}
    abroad = {**same, "country_code": "CA"}
    woo = {"address_1": "Unit 5, Freight Park", "postcode": "LS1 4AP", "country": "GB"}
    assert signals.reshipper_matches(CONFIG.reshippers[0], same), "postcode spacing and country case ignored"
    assert not signals.reshipper_matches(CONFIG.reshippers[0], abroad), "the country is part of the entry"
    assert signals.reshipper_matches(CONFIG.reshippers[1], woo), "address text in any case, Woo's keys too"
    fired = signals.reshipper(facts(shipping_address=woo), CONFIG, 30)
    assert (fired.state, fired.points, fired.figures["reshipper"]) == ("fired", 30, "freight park")
    assert signals.reshipper(facts(shipping_address=woo), FraudConfig(), 30).state == "unknown", "no list: not known"


def test_avs_partial_counts_half_rounded_up_and_unchecked_is_not_known() -> None:
    partial = signals.avs_mismatch(facts(avs_result="w"), CONFIG, 25)
    assert (partial.state, partial.points) == ("fired", 13)
    assert partial.text == "AVS W: postal code matches, street does not (partial, half weight)"
    for code in ("U", "G", "R", "unavailable", "P"):
        assert signals.avs_mismatch(facts(avs_result=code), CONFIG, 30).state == "unknown", code
    assert signals.avs_mismatch(facts(avs_result="Y"), CONFIG, 30).state == "clear"
    assert signals.cvv_mismatch(facts(cvv_result=" n "), CONFIG, 30).points == 30


def test_counts_of_nothing_known_are_not_known_and_the_verdict_reads_the_sum() -> None:
    result = signals.evaluate(facts(), CONFIG)
    assert {s.state for s in result.signals} == {"unknown"} and result.score == 0 and result.verdict == "pass"
    weights = {**CONFIG.weights, "country_mismatch": 60}
    heavy = signals.evaluate(facts(billing_country="US", shipping_country="MX"), dataclasses.replace(CONFIG, weights=weights))
    assert (heavy.score, heavy.verdict, heavy.reasons()) == (60, "review", ["billing country US ≠ shipping country MX (+60)"])


def test_one_address_however_it_is_typed() -> None:
    assert address_key({"address1": "12  Elm St", "zip": "10001", "country_code": "US"}) == \
        address_key({"address_1": "12 elm st", "postcode": "10001", "country": "us"})
    assert address_key({"city": "Leeds"}) is None, "no street line: not an address to count"
