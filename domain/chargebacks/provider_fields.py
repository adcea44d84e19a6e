"""Our evidence facts in each provider's own words: Stripe ``evidence[...]`` fields, Adyen defense
document types under a defense reason, PayPal evidence types.

Pure: facts in, a :class:`ProviderPacket` out (text fields, and documents named by the provider's
file field or document type with the facts each carries, rendered by ``domain.chargebacks.packets``).

* Stripe — text fields (``shipping_carrier``, ``shipping_tracking_number``, ``shipping_date``,
  ``shipping_address``, ``billing_address``, ``product_description``, ``refund_policy_disclosure``,
  ``customer_purchase_ip``, ``uncategorized_text``) and file fields (``shipping_documentation``,
  ``refund_policy``, ``customer_communication``, ``uncategorized_file``), each text at most
  20,000 characters: https://docs.stripe.com/api/disputes/update
* Adyen — documents only (no text fields), each a ``defenseDocumentTypeCode`` under the
  ``defenseReasonCode`` chosen by the rule, as Adyen lists them per reason code: Visa 13.1
  ``MerchandiseReceived`` needs ``DateMerchandiseShipped`` and ``ProofOfGoodsOrServicesProvided``,
  Mastercard 4853 ``GoodsWereAsDescribed`` needs ``GoodsWereAsDescribed`` and ``TIDorInvoice``, Visa
  10.4 ``AdditionalInformation`` needs ``DefenseMaterial`` and ``AdditionalInformation``,
  ``SupplyDefenseMaterial`` needs ``DefenseMaterial`` (https://docs.adyen.com/risk-management/disputes-api;
  the live list comes from ``/retrieveApplicableDefenseReasons``).
* PayPal — ``provide-evidence`` takes evidence items by ``evidence_type`` with notes (at most
  2,000 characters) and documents; proof of fulfilment carries the tracking number and carrier in
  its ``evidence_info.tracking_info``
  (https://developer.paypal.com/api/customer-disputes/v1/disputes-provide-evidence), given to the
  connector as ``PROOF_OF_FULFILLMENT.carrier_name`` and ``PROOF_OF_FULFILLMENT.tracking_number``.

Stripe and PayPal also get the whole bundle as one document (``bundle``), and Adyen where the
reason takes a general ``DefenseMaterial`` document, so nothing rests on a link the issuer would
have to follow. Documents go out as PDF files (``domain.chargebacks.pdf``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.chargebacks.requirements import FACT_LABELS, EvidenceRule
from domain.chargebacks.sources import Fact

STRIPE_TEXT_LIMIT = 20_000
PAYPAL_NOTES_LIMIT = 2_000

STRIPE_TEXT = {"carrier": "shipping_carrier", "tracking_number": "shipping_tracking_number",
               "ship_date": "shipping_date", "shipping_address": "shipping_address",
               "billing_address": "billing_address",
               "product_description": "product_description", "refund_policy_disclosure": "refund_policy_disclosure",
               "customer_ip": "customer_purchase_ip"}
STRIPE_FILES = {"delivery_proof": "shipping_documentation", "refund_policy": "refund_policy",
                "customer_communication": "customer_communication"}
STRIPE_BUNDLE = "uncategorized_file"

#: Adyen document type per fact, for each defense reason a rule may choose.
ADYEN_DOCUMENTS: dict[str, dict[str, str]] = {
    "MerchandiseReceived": {"carrier": "DateMerchandiseShipped", "tracking_number": "DateMerchandiseShipped",
                            "ship_date": "DateMerchandiseShipped", "delivery_proof": "ProofOfGoodsOrServicesProvided",
                            "shipping_address": "ProofOfGoodsOrServicesProvided",
                            "billing_address": "ProofOfGoodsOrServicesProvided"},
    "GoodsWereAsDescribed": {"product_description": "TIDorInvoice", "shipping_address": "TIDorInvoice",
                             "billing_address": "TIDorInvoice", "refund_policy": "GoodsWereAsDescribed",
                             "refund_policy_disclosure": "GoodsWereAsDescribed",
                             "customer_communication": "GoodsWereAsDescribed"},
    "AdditionalInformation": {name: "AdditionalInformation" for name in FACT_LABELS},
    "SupplyDefenseMaterial": {name: "DefenseMaterial" for name in FACT_LABELS},
}
#: Reasons whose document list takes a general defense document: the bundle goes there.
ADYEN_BUNDLE = {"AdditionalInformation": "DefenseMaterial", "SupplyDefenseMaterial": "DefenseMaterial"}

PAYPAL_TYPES = {"carrier": "PROOF_OF_FULFILLMENT", "tracking_number": "PROOF_OF_FULFILLMENT",
                "ship_date": "PROOF_OF_FULFILLMENT", "delivery_proof": "PROOF_OF_DELIVERY_SIGNATURE",
                "shipping_address": "DELIVERY_ADDRESS", "billing_address": "DETAILS_OF_PURCHASE",
                "product_description": "ITEM_DESCRIPTION",
                "refund_policy": "RETURN_POLICY", "refund_policy_disclosure": "RETURN_POLICY",
                "customer_communication": "OTHER", "avs_cvv": "DETAILS_OF_PURCHASE",
                "customer_ip": "DETAILS_OF_PURCHASE", "prior_undisputed_orders": "DETAILS_OF_PURCHASE"}
PAYPAL_BUNDLE = "OTHER"
#: The evidence type whose ``evidence_info.tracking_info`` carries the carrier and tracking number.
PAYPAL_TRACKED = "PROOF_OF_FULFILLMENT"


@dataclass(frozen=True)
class ProviderPacket:
    """What the provider is sent: text ``fields`` by its names, ``documents`` (name → the facts the
    document shows; the bundle under ``bundle`` shows them all) and Adyen's defense reason."""

    fields: dict[str, str]
    documents: dict[str, list[str]] = field(default_factory=dict)
    bundle: str = ""
    defense_reason: str = ""


def _labelled(names: list[str], facts: Mapping[str, Fact]) -> str:
    return "\n\n".join(f"{FACT_LABELS[n]}: {facts[n].text}" for n in names)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 40].rstrip() + " … (the rest is in the attached bundle)"


def _grouped(mapping: Mapping[str, str], present: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in present:
        if name in mapping:
            groups.setdefault(mapping[name], []).append(name)
    return groups


def stripe(present: list[str], facts: Mapping[str, Fact]) -> ProviderPacket:
    fields = {STRIPE_TEXT[n]: _clip(facts[n].text, STRIPE_TEXT_LIMIT) for n in present if n in STRIPE_TEXT}
    rest = [n for n in present if n not in STRIPE_TEXT and n not in STRIPE_FILES]
    if rest:
        fields["uncategorized_text"] = _clip(_labelled(rest, facts), STRIPE_TEXT_LIMIT)
    documents = {STRIPE_FILES[n]: [n] for n in present if n in STRIPE_FILES}
    return ProviderPacket(fields, {**documents, STRIPE_BUNDLE: list(present)}, STRIPE_BUNDLE)


def adyen(present: list[str], facts: Mapping[str, Fact], defense_reason: str) -> ProviderPacket:
    """Documents only: Adyen takes no text fields, each fact goes in the document of its type."""
    documents = _grouped(ADYEN_DOCUMENTS.get(defense_reason, ADYEN_DOCUMENTS["SupplyDefenseMaterial"]), present)
    bundle = ADYEN_BUNDLE.get(defense_reason, "")
    if bundle:
        documents[bundle] = list(present)
    return ProviderPacket({}, documents, bundle, defense_reason)


def paypal(present: list[str], facts: Mapping[str, Fact]) -> ProviderPacket:
    groups = _grouped(PAYPAL_TYPES, present)
    fields = {kind: _clip(_labelled(names, facts), PAYPAL_NOTES_LIMIT) for kind, names in groups.items()}
    if "carrier" in present and "tracking_number" in present:
        fields[f"{PAYPAL_TRACKED}.carrier_name"] = facts["carrier"].text
        fields[f"{PAYPAL_TRACKED}.tracking_number"] = facts["tracking_number"].text
    return ProviderPacket(fields, {PAYPAL_BUNDLE: list(present)}, PAYPAL_BUNDLE)


def for_provider(provider: str, rule: EvidenceRule, present: list[str], facts: Mapping[str, Fact]) -> ProviderPacket:
    """The provider's fields and documents for the facts the rule needs and the packet has."""
    if provider == "stripe":
        return stripe(present, facts)
    if provider == "adyen":
        return adyen(present, facts, rule.adyen_defense_reason)
    if provider == "paypal":
        return paypal(present, facts)
    raise ValueError(f"unknown payment provider {provider!r}")
