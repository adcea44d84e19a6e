"""Evidence the order itself holds: what was bought (its lines and SKUs), what checkout knew about
the payment (``orders.payment_facts``, else the store's own order: its IP, addresses and AVS/CVV
results), and the refund policy the store shows at checkout.

AVS/CVV results are read under the provider's own names (Stripe's ``address_line1_check``,
``address_postal_code_check``, ``cvc_check`` ∈ pass/fail/unavailable/unchecked; Adyen's
``avsResult``/``cvcResult`` texts) and quoted as they are:
https://docs.stripe.com/api/charges/object#charge_object-payment_method_details-card-checks
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from domain.chargebacks.sources import Fact, Found, Gap, Scope, source
from domain.core.models import Order, OrderLine, Sku

CHECK_LABELS = {"address_line1_check": "AVS street address", "address_postal_code_check": "AVS postal code",
                "cvc_check": "CVC", "avsResult": "AVS", "cvcResult": "CVC", "avs_result": "AVS", "cvv_result": "CVV"}
#: An address's parts in reading order, under the names the payment facts and the store platforms
#: use (Shopify ``address1``/``zip``/``country_code``, WooCommerce ``address_1``/``postcode``).
ADDRESS_PARTS = (("name",), ("company",), ("line1", "address1", "address_1"), ("line2", "address2", "address_2"),
                 ("city",), ("state", "province"), ("postal_code", "zip", "postcode"), ("country", "country_code"))


def money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}.{part:02d} {currency}".strip()


def address_text(value: Any) -> str:
    """An address stored as text, or as a mapping of its parts (line1, city, postal_code, country…,
    or a store platform's own names for them)."""
    if isinstance(value, dict):
        value = {**value, "name": value.get("name") or " ".join(
            str(value[k]).strip() for k in ("first_name", "last_name") if value.get(k))}
        parts = [next((value[k] for k in names if value.get(k)), None) for names in ADDRESS_PARTS]
        return ", ".join(str(p).strip() for p in parts if p)
    return str(value or "").strip()


def checkout_facts(order: Order) -> dict[str, Any]:
    """What checkout knew about the payment: ``orders.payment_facts`` where the payment recorded
    them, else what the store's own order said (its IP, shipping and billing address, AVS and CVV
    results and card, the columns fraud hints read: ``connectors.types.PaymentRisk``)."""
    checks = {name: value for name, value in (("avs_result", order.avs_result), ("cvv_result", order.cvv_result))
              if value}
    found = {"ip": order.customer_ip, "shipping_address": order.shipping_address,
             "billing_address": order.billing_address, "card_fingerprint": order.card_fingerprint,
             "checks": checks}
    return {**{k: v for k, v in found.items() if v}, **{k: v for k, v in (order.payment_facts or {}).items() if v}}


@source("order", priority=20)
def order_lines(scope: Scope) -> Found:
    """The product description: each line's quantity, title, SKU and price, with the SKU's catalogue
    title when the line's own is empty."""
    if scope.order is None:
        return {"product_description": Gap("no order carries this payment reference", "order")}
    rows = []
    for line, sku in scope.session.execute(select(OrderLine, Sku).outerjoin(Sku, Sku.id == OrderLine.sku_id)
                                           .where(OrderLine.order_id == scope.order.id)
                                           .order_by(OrderLine.id)).tuples():
        title = line.title or (sku.title if sku else "") or "item"
        rows.append({"quantity": line.quantity, "title": title, "sku": sku.code if sku else "",
                     "category": sku.category if sku else "", "price": money(line.price_cents, scope.order.currency)})
    if not rows:
        return {"product_description": Gap(f"order {scope.order.number} has no lines", "order")}
    text = "; ".join(f"{r['quantity']} × {r['title']}" + (f" (SKU {r['sku']})" if r["sku"] else "")
                     + f" at {r['price']} each" for r in rows)
    placed = scope.order.placed_at.strftime("%Y-%m-%d")
    return {"product_description": Fact(f"Order {scope.order.number} placed {placed}: {text}. Order total "
                                        f"{money(scope.order.total_cents, scope.order.currency)}.", "order",
                                        tuple(rows))}


@source("checkout", priority=30)
def checkout(scope: Scope) -> Found:
    """Shipping and billing address, purchase IP and AVS/CVV results as the order stores them."""
    if scope.order is None:
        why = Gap("no order carries this payment reference", "checkout")
        return {"shipping_address": why, "billing_address": why, "customer_ip": why, "avs_cvv": why}
    facts = checkout_facts(scope.order)
    found: Found = {}
    for name in ("shipping_address", "billing_address"):
        address = address_text(facts.get(name))
        found[name] = (Fact(address, "checkout") if address else
                       Gap(f"the order stores no {name.replace('_', ' ')}", "checkout"))
    ip = str(facts.get("ip") or "").strip()
    found["customer_ip"] = Fact(ip, "checkout") if ip else Gap("checkout stored no customer IP", "checkout")
    checks = facts.get("checks") or {}
    if isinstance(checks, dict) and checks:
        rows = tuple({"check": CHECK_LABELS.get(k, k), "result": str(v)} for k, v in sorted(checks.items()))
        found["avs_cvv"] = Fact("; ".join(f"{r['check']}: {r['result']}" for r in rows), "checkout", rows)
    else:
        found["avs_cvv"] = Gap("the payment's AVS/CVV results were not stored at checkout", "checkout")
    return found


@source("policy", priority=40)
def policy(scope: Scope) -> Found:
    """The refund policy and how checkout showed it, from ``[chargebacks]`` in the business file."""
    config = scope.config
    return {
        "refund_policy": (Fact(config.refund_policy_text, "policy") if config.refund_policy_text
                          else Gap("[chargebacks] refund_policy_text is not set", "policy")),
        "refund_policy_disclosure": (Fact(config.refund_policy_disclosure, "policy")
                                     if config.refund_policy_disclosure
                                     else Gap("[chargebacks] refund_policy_disclosure is not set", "policy")),
    }
