"""Shopify's draft orders: create, list, read, complete (inventory taken like a checkout).

Follows https://shopify.dev/docs/api/admin-rest/latest/resources/draftorder: variant lines priced
by the shop, custom lines with a title and price, an ``applied_discount`` of ``fixed_amount`` or
``percentage``, and ``PUT draft_orders/{id}/complete.json`` (``payment_pending``) turning the draft
into an order.
"""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import Body

from sandbox.kit import (Call, Collection, Discounts, Filter, FirstPage, Json, Refusal, Rule, add_state_view,
                         exists, fixed_amount, found, in_list, is_object, non_empty_list, percentage, positions,
                         subtotal, to_cents, to_money, whole_at_least)
from sandbox.shopify import shop
from sandbox.shopify.shop import ShopState, api, kit

DRAFT_ORDER_ID_BASE = 2**53 + 12_000_000_000
DISCOUNTS = Discounts({"fixed_amount": fixed_amount, "percentage": percentage}, most={"percentage": 100})
drafts = Collection(
    "draft_orders", FirstPage(shop.invalid_params), positions("draft_orders", DRAFT_ORDER_ID_BASE),
    in_list("draft_orders", DRAFT_ORDER_ID_BASE), single="draft_order", missing=lambda: shop.errors("Not Found"),
    filters=(Filter("status", test=lambda draft, status: draft["status"] == status, default="open", status=422,
                    choices=("open", "invoice_sent", "completed"), detail="is not included in the list"),
             shop.updated_since))


def variant_line(line: dict[str, Any]) -> bool:
    return line.get("variant_id") is not None


NEW_DRAFT = shop.schema(
    Rule("draft_order", is_object, shop.MISSING_PARAM, 400),
    Rule("draft_order.line_items", non_empty_list, ["can't be blank"], field="line_items"),
    Rule("draft_order.line_items[]", is_object, ["is invalid"], field="line_items"),
    Rule("draft_order.line_items[].quantity", whole_at_least(1, default=1), ["must be greater than 0"],
         field="line_items.quantity"),
    Rule("draft_order.line_items[].variant_id", exists(lambda state, v: state.get(int(v) - shop.VARIANT_ID_BASE)),
         lambda v: [f"Variant {v} does not exist"], field="line_items", when=variant_line),
    Rule("draft_order.line_items[]", lambda line, _, s: bool(line.get("title")) and line.get("price") is not None,
         ["custom line items need a title and a price"], field="line_items", when=lambda line: not variant_line(line)),
    *DISCOUNTS.rules("draft_order.applied_discount", "applied_discount", ["is not included in the list"],
                     ["is not a number"], ["is invalid"]),
    Rule("draft_order.customer.id", exists(lambda state, v: int(v) in {o["customer"]["id"] for o in state.orders}
                                           or None), ["is invalid"], field="customer",
         when=lambda customer: customer.get("id") is not None))


def create_draft(call: Call[ShopState]) -> Json:
    """The draft with Shopify's money fields: variant lines at the shop's price, then the discount."""
    NEW_DRAFT.enforce(call, call.body)
    state, spec, number, lines = call.state, call.body["draft_order"], len(call.state.draft_orders), []
    for n, line in enumerate(spec["line_items"]):
        quantity = int(line.get("quantity", 1))
        item = state.get(int(line["variant_id"]) - shop.VARIANT_ID_BASE) if variant_line(line) else None
        shown = shop.order_line(item, quantity, state.prices.get(item["sku"], "10.00")) if item else shop.fixtures.fill(
            "custom_line", line, sku=line.get("sku"), quantity=quantity, price=to_money(to_cents(line["price"])))
        lines.append({"id": shop.LINE_ID_BASE + 50_000_000 + number * 100 + n, **shown, "custom": item is None})
    cents, discount = subtotal(lines), spec.get("applied_discount")
    off = DISCOUNTS.off(cents, discount)
    state.draft_orders.append(draft := shop.fixtures.fill(
        "draft_order", {key: spec.get(key) for key in ("email", "note", "customer", "shipping_address")},
        id=DRAFT_ORDER_ID_BASE + number, number=number + 1, tags=spec.get("tags", ""), line_items=lines,
        note_attributes=spec.get("note_attributes") or [], subtotal_price=to_money(cents), shop=state.name,
        applied_discount={**discount, "amount": to_money(off)} if discount else discount,
        total_price=to_money(cents - off), invoice=uuid.uuid4().hex, now=state.now()))
    return draft


def complete(call: Call[ShopState], draft_id: int) -> Json:
    """Turn the draft into an order: inventory taken like a checkout, paid unless payment is pending."""
    state, now, draft = call.state, call.state.now(), found(drafts.get(call.state, draft_id), "draft_order")
    if draft["status"] == "completed":
        raise Refusal("base", "paid")
    levels = [level for line in draft["line_items"] if line["variant_id"] is not None for level in
              shop.take_stock(state, state.get(line["variant_id"] - shop.VARIANT_ID_BASE), line["quantity"], now)]
    customer_id = (draft.get("customer") or {}).get("id")
    earlier = next((o["customer"] for o in state.orders if o["customer"]["id"] == customer_id), None)
    due = to_cents(draft["total_price"]) > 0
    paid = call.query.get("payment_pending", "false").lower() != "true" or not due
    order = shop.place_order(state, [shop.fixtures.fill("order_line", line) for line in draft["line_items"]], now,
                             "manual" if paid and due else None, **shop.fixtures.fill(
        "draft_order_placed", draft, phone=(earlier or {}).get("phone"), financial_status="paid" if paid else "pending",
        discounts=(draft.get("applied_discount") or {}).get("amount", "0.00"),
        buyer=earlier or shop.fixtures.fill("buyer", draft,
                                            id=customer_id or shop.CUSTOMER_ID_BASE + len(state.orders))))
    draft.update(status="completed", order_id=order["id"], completed_at=shop.ts(now), updated_at=shop.ts(now))
    call.emit("orders/create", order)
    call.emit("inventory_levels/update", *levels)
    return dict(draft)


api.write("POST", "/draft_orders.json", "draft_order", create_draft, 201)
drafts.listing(kit, "/draft_orders.json")
drafts.reading(kit, "/draft_orders/{draft_id}.json", "draft_id")
api.write("PUT", "/draft_orders/{draft_id}/complete.json", "draft_order", complete)


@kit.admin.post("/set_price")
def set_price(state: ShopState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """The shop's price for a SKU (draft order lines use it; 10.00 otherwise)."""
    with state.lock:
        state.prices[str(payload["sku"])] = to_money(to_cents(payload["price"]))
        return {"sku": payload["sku"], "price": state.prices[str(payload["sku"])]}

add_state_view(kit, "draft_orders", lambda state: state.draft_orders)
