"""What evidence a dispute's reason needs: one rule per reason category, refined by network code.

Pure: a category and a network code in, a rule out, so the table can be read and tested without a
database. The packet (``domain.chargebacks.packets``) gathers exactly the facts its rule names,
records the rule with the packet, and lists the facts it could not find, so the case owner sees
what is missing and why it was asked for.

Sources for the rules (the networks' and processors' public pages):

* Visa 13.1 merchandise not received — proof the cardholder received the goods (delivery proof,
  signature): https://usa.review.visa.com/supporting-info/merchandise-services-not-received-condition-13-1.html
* Visa 13.3 not as described — the description and terms refuting the claim, whether a return
  arrived: https://usa.review.visa.com/supporting-info/not-as-described-defective-merchandise-services-condition-13-3.html
* Visa 10.4 Compelling Evidence 3.0 — two or more prior undisputed transactions 120–365 days
  before the dispute sharing two of IP, device, user and shipping address, one of them IP or
  device: https://docs.stripe.com/disputes/api/visa-ce3
* Mastercard 4853 (cardholder dispute) covers both "not provided" and "not as described"; its
  category from the processor picks the rule.
* Stripe's categories (``product_not_received``, ``product_unacceptable``, ``fraudulent``…):
  https://docs.stripe.com/disputes/categories
* Adyen's defense reasons and document types per reason code (the live list comes from
  ``/retrieveApplicableDefenseReasons``): https://docs.adyen.com/risk-management/disputes-api
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Every fact a rule may ask for, with the words a person reads.
FACT_LABELS: dict[str, str] = {
    "carrier": "Carrier",
    "tracking_number": "Tracking number",
    "ship_date": "Ship date",
    "delivery_proof": "Delivered scan or signature",
    "shipping_address": "Shipping address",
    "billing_address": "Billing address",
    "product_description": "Product description",
    "refund_policy": "Refund and return policy",
    "refund_policy_disclosure": "How the policy was shown at checkout",
    "customer_communication": "Customer messages",
    "avs_cvv": "AVS and CVV results",
    "customer_ip": "Customer IP address at purchase",
    "prior_undisputed_orders": "Prior undisputed orders",
}

VISA_13_1 = "https://usa.review.visa.com/supporting-info/merchandise-services-not-received-condition-13-1.html"
VISA_13_3 = "https://usa.review.visa.com/supporting-info/not-as-described-defective-merchandise-services-condition-13-3.html"
VISA_CE3 = "https://docs.stripe.com/disputes/api/visa-ce3"
STRIPE_CATEGORIES = "https://docs.stripe.com/disputes/categories"
ADYEN_REQUIREMENTS = "https://docs.adyen.com/risk-management/disputes/defense-requirements/"


@dataclass(frozen=True)
class EvidenceRule:
    """The facts a reason needs and the Adyen defense reason that presents them."""

    name: str
    category: str
    needs: tuple[str, ...]
    #: Adyen's ``defenseReasonCode`` for this rule (the connector may take the one Adyen offers).
    adyen_defense_reason: str
    source: str
    #: Visa CE 3.0: prior orders must meet its matching test, not only exist.
    compelling_evidence_3: bool = False
    #: Facts sent when the order has them, never named missing when it has not.
    where_known: tuple[str, ...] = ("billing_address",)

    def as_dict(self, network_code: str) -> dict[str, Any]:
        return {"name": self.name, "category": self.category, "network_code": network_code,
                "needs": list(self.needs), "where_known": list(self.where_known),
                "adyen_defense_reason": self.adyen_defense_reason, "source": self.source,
                "compelling_evidence_3": self.compelling_evidence_3}


#: Every packet carries the customer's shipping address (who the goods went to, the place an issuer
#: checks the cardholder against), needed whatever the reason, and the billing address where known.
ADDRESSED = ("shipping_address",)
SHIPPED = ("carrier", "tracking_number", "ship_date", "delivery_proof", "shipping_address")
DESCRIBED = ("product_description", "refund_policy", "refund_policy_disclosure", "customer_communication",
             *ADDRESSED)
AUTHORISED = ("avs_cvv", "customer_ip", "prior_undisputed_orders", *ADDRESSED)

RULES: dict[str, EvidenceRule] = {
    "not_received": EvidenceRule(
        "not received (Visa 13.1, Mastercard 4853/4855): proof of shipment and delivery", "not_received",
        SHIPPED, "MerchandiseReceived", VISA_13_1),
    "not_as_described": EvidenceRule(
        "not as described (Visa 13.3, Mastercard 4853): description, policy shown at checkout, messages",
        "not_as_described", DESCRIBED, "GoodsWereAsDescribed", VISA_13_3),
    "fraud": EvidenceRule(
        "card-absent fraud: AVS/CVV, purchase IP, the customer's prior undisputed orders", "fraud",
        AUTHORISED, "SupplyDefenseMaterial", ADYEN_REQUIREMENTS),
    "credit_not_processed": EvidenceRule(
        "credit not processed: the refund policy shown at checkout and the messages about it",
        "credit_not_processed", ("refund_policy", "refund_policy_disclosure", "customer_communication", *ADDRESSED),
        "SupplyDefenseMaterial", STRIPE_CATEGORIES),
    "duplicate": EvidenceRule(
        "duplicate charge: what each charge was for and the messages about it", "duplicate",
        ("product_description", "customer_communication", *ADDRESSED), "SupplyDefenseMaterial", STRIPE_CATEGORIES),
    "subscription_canceled": EvidenceRule(
        "subscription cancelled: the terms shown at checkout and the messages about cancelling",
        "subscription_canceled", ("refund_policy_disclosure", "customer_communication", *ADDRESSED),
        "SupplyDefenseMaterial", STRIPE_CATEGORIES),
    "general": EvidenceRule(
        "general: what was bought, how it shipped and the messages about it", "general",
        ("product_description", "shipping_address", "customer_communication"), "SupplyDefenseMaterial",
        STRIPE_CATEGORIES),
}

#: Visa 10.4 (card-absent fraud without a 3-D Secure liability shift) has its own test since
#: 15 April 2023: Compelling Evidence 3.0.
CE3 = EvidenceRule(
    "fraud, Visa 10.4 Compelling Evidence 3.0: AVS/CVV, purchase IP, 2+ prior undisputed orders 120-365 days old "
    "sharing IP or device and one more of device, IP, user, shipping address", "fraud", AUTHORISED,
    "AdditionalInformation", VISA_CE3, compelling_evidence_3=True)


def rule_for(category: str, network_code: str = "") -> EvidenceRule:
    """The rule for a dispute: Visa 10.4 takes CE 3.0; otherwise its category's (``general`` if unknown)."""
    if category == "fraud" and network_code.strip() == "10.4":
        return CE3
    return RULES.get(category, RULES["general"])
