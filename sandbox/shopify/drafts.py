"""Shopify's draft orders: create, list, read, complete (inventory taken like a checkout).

Follows https://shopify.dev/docs/api/admin-rest/latest/resources/draftorder: variant lines priced
by the shop, custom lines with a title and price, an ``applied_discount`` of ``fixed_amount`` or
``percentage``, and ``PUT draft_orders/{id}/complete.json`` (``payment_pending``) turning the draft
into an order.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse, Response

from sandbox.kit.money import to_cents, to_money
from sandbox.kit import Call
from sandbox.shopify.money import sale_transaction
from sandbox.shopify.shop import (
    LINE_ID_BASE,
    ORDER_ID_BASE,
    VARIANT_ID_BASE,
    ShopState,
    as_json,
    deliver_all,
    errors,
    kit,
    level_json,
    not_found,
    pages,
    parse_ts,
    ts,
)

DRAFT_ORDER_ID_BASE = 2**53 + 12_000_000_000
DRAFT_STATUSES = ("open", "invoice_sent", "completed")
DISCOUNT_TYPES = ("fixed_amount", "percentage")


def draft_order_errors(state: ShopState, spec: Any) -> tuple[int, Any]:
    """``POST draft_orders.json`` refusals: (status, errors) or (0, None) when the draft is valid."""
    if not isinstance(spec, dict):
        return 400, {"draft_order": "Required parameter missing or invalid"}
    lines = spec.get("line_items")
    if not isinstance(lines, list) or not lines:
        return 422, {"line_items": ["can't be blank"]}
    for line in lines:
        if not isinstance(line, dict):
            return 422, {"line_items": ["is invalid"]}
        try:
            quantity = int(line.get("quantity", 1))
        except (TypeError, ValueError):
            quantity = 0
        if quantity < 1:
            return 422, {"line_items.quantity": ["must be greater than 0"]}
        if line.get("variant_id") is not None:
            try:
                item = state.item(int(line["variant_id"]) - VARIANT_ID_BASE)
            except (TypeError, ValueError):
                item = None
            if item is None:
                return 422, {"line_items": [f"Variant {line['variant_id']} does not exist"]}
        elif not line.get("title") or line.get("price") is None:
            return 422, {"line_items": ["custom line items need a title and a price"]}
    discount = spec.get("applied_discount")
    if discount is not None:
        if not isinstance(discount, dict) or discount.get("value_type") not in DISCOUNT_TYPES:
            return 422, {"applied_discount.value_type": ["is not included in the list"]}
        try:
            value = Decimal(str(discount.get("value")))
        except ArithmeticError:
            return 422, {"applied_discount.value": ["is not a number"]}
        if value < 0 or (discount["value_type"] == "percentage" and value > 100):
            return 422, {"applied_discount.value": ["is invalid"]}
    customer = spec.get("customer")
    if isinstance(customer, dict) and customer.get("id") is not None:
        known = {o["customer"]["id"] for o in state.orders}
        if int(customer["id"]) not in known:
            return 422, {"customer": ["is invalid"]}
    return 0, None


def build_draft_order(state: ShopState, spec: dict[str, Any]) -> dict[str, Any]:
    """The draft with Shopify's money fields: variant lines at the shop's price, then the discount."""
    now = state.now()
    number = len(state.draft_orders)
    lines = []
    for n, line in enumerate(spec["line_items"]):
        quantity = int(line.get("quantity", 1))
        if line.get("variant_id") is not None:
            item = state.item(int(line["variant_id"]) - VARIANT_ID_BASE)
            price = state.prices.get(item.sku, "10.00")
            lines.append({"id": LINE_ID_BASE + 50_000_000 + number * 100 + n, "variant_id": item.variant_id,
                          "product_id": item.product_id, "sku": item.sku, "title": item.title,
                          "quantity": quantity, "price": price, "custom": False})
        else:
            lines.append({"id": LINE_ID_BASE + 50_000_000 + number * 100 + n, "variant_id": None,
                          "product_id": None, "sku": line.get("sku"), "title": line["title"],
                          "quantity": quantity, "price": to_money(to_cents(line["price"])), "custom": True})
    subtotal = sum(to_cents(line["price"]) * line["quantity"] for line in lines)
    discount = spec.get("applied_discount")
    off = 0
    if discount:
        value = Decimal(str(discount["value"]))
        off = int(subtotal * value / 100) if discount["value_type"] == "percentage" else to_cents(str(value))
        off = min(off, subtotal)
        discount = {**discount, "amount": to_money(off)}
    draft_id = DRAFT_ORDER_ID_BASE + number
    return {
        "id": draft_id, "name": f"#D{number + 1}", "status": "open", "order_id": None,
        "email": spec.get("email"), "note": spec.get("note"), "tags": spec.get("tags", ""),
        "note_attributes": spec.get("note_attributes") or [], "currency": "USD",
        "customer": spec.get("customer"), "shipping_address": spec.get("shipping_address"),
        "line_items": lines, "applied_discount": discount, "subtotal_price": to_money(subtotal),
        "total_price": to_money(subtotal - off), "total_tax": "0.00", "taxes_included": False,
        "invoice_url": f"https://{state.name}.myshopify.com/invoices/{uuid.uuid4().hex}",
        "created_at": ts(now), "updated_at": ts(now), "completed_at": None, "invoice_sent_at": None,
        "admin_graphql_api_id": f"gid://shopify/DraftOrder/{draft_id}",
    }


def complete_draft_order(state: ShopState, draft: dict[str, Any], payment_pending: bool
                         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Turn the draft into an order: inventory taken like a checkout, paid unless payment is pending."""
    now = state.now()
    number = len(state.orders)
    levels = []
    lines = []
    for n, line in enumerate(draft["line_items"]):
        if line["variant_id"] is not None:
            item = state.item(line["variant_id"] - VARIANT_ID_BASE)
            if item.available is not None:
                item = replace(item, available=item.available - line["quantity"], updated_at=now)
                state.store(item)
                levels.append(level_json(state, item))
        lines.append({"id": LINE_ID_BASE + number * 100 + n, "variant_id": line["variant_id"],
                      "product_id": line["product_id"], "sku": line["sku"], "title": line["title"],
                      "quantity": line["quantity"], "price": line["price"]})
    customer_id = (draft.get("customer") or {}).get("id")
    earlier = next((o["customer"] for o in state.orders if o["customer"]["id"] == customer_id), None)
    total = draft["total_price"]
    paid = not payment_pending or to_cents(total) == 0
    order = {
        "id": ORDER_ID_BASE + number, "name": f"#{1001 + number}", "order_number": 1001 + number,
        "email": draft.get("email"), "phone": (earlier or {}).get("phone"), "created_at": ts(now),
        "updated_at": ts(now), "cancelled_at": None, "closed_at": None, "currency": draft["currency"],
        "total_price": total, "subtotal_price": draft["subtotal_price"],
        "total_discounts": (draft.get("applied_discount") or {}).get("amount", "0.00"),
        "financial_status": "paid" if paid else "pending", "fulfillment_status": None,
        "payment_gateway_names": ["manual"], "refunds": [], "note": draft.get("note"),
        "source_name": "shopify_draft_order",
        "customer": earlier or {"id": customer_id or ORDER_ID_BASE + 500_000 + number,
                                "email": draft.get("email"), "first_name": "", "last_name": ""},
        "line_items": lines, "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID_BASE + number}",
    }
    state.orders.append(order)
    if paid and to_cents(total) > 0:
        sale_transaction(state, order, "manual", now)
    else:
        state.transactions[order["id"]] = []
    draft.update(status="completed", order_id=order["id"], completed_at=ts(now), updated_at=ts(now))
    return order, levels


def find(state: ShopState, draft_id: int) -> dict[str, Any] | None:
    index = draft_id - DRAFT_ORDER_ID_BASE
    return state.draft_orders[index] if 0 <= index < len(state.draft_orders) else None


@kit.api.post("/draft_orders.json")
def create_draft_order(call: Call[ShopState] = kit.call) -> Response:
    spec = call.body.get("draft_order") if isinstance(call.body, dict) else None
    with call.state.lock:
        status, problems = draft_order_errors(call.state, spec)
        if problems is not None:
            raise call.refuse(errors(problems), status)
        draft = build_draft_order(call.state, spec)
        call.state.draft_orders.append(draft)
    return call.reply({"draft_order": draft}, 201)


@kit.api.get("/draft_orders.json")
def list_draft_orders(call: Call[ShopState] = kit.call) -> Response:
    query = call.query
    status = query.get("status", "open")
    if status not in DRAFT_STATUSES:
        raise call.refuse(errors({"status": ["is not included in the list"]}), 422)
    try:
        limit = int(query.get("limit", pages.default_limit))
    except ValueError:
        limit = 0
    if not 1 <= limit <= pages.max_limit:
        raise call.refuse(errors({"limit": [f"must be between 1 and {pages.max_limit}"]}), 400)
    since = parse_ts(query["updated_at_min"]) if query.get("updated_at_min") else None
    with call.state.lock:
        drafts = [d for d in call.state.draft_orders if d["status"] == status
                  and (since is None or parse_ts(d["updated_at"]) >= since)][:limit]
    return call.reply({"draft_orders": drafts})


@kit.api.get("/draft_orders/{draft_id}.json")
def get_draft_order(draft_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        draft = find(call.state, draft_id)
    if draft is None:
        raise not_found(call)
    return call.reply({"draft_order": draft})


@kit.api.put("/draft_orders/{draft_id}/complete.json")
def complete(draft_id: int, call: Call[ShopState] = kit.call) -> Response:
    pending = call.query.get("payment_pending", "false").lower() == "true"
    state = call.state
    with state.lock:
        draft = find(state, draft_id)
        if draft is None:
            raise not_found(call)
        if draft["status"] == "completed":
            raise call.refuse(errors({"base": ["This order has been paid"]}), 422)
        order, levels = complete_draft_order(state, draft, pending)
        body = {"draft_order": dict(draft)}
    deliver_all(state, call, [("orders/create", order)] + [("inventory_levels/update", lv) for lv in levels])
    return call.reply(body)


@kit.admin.post("/set_price")
def set_price(state: ShopState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """The shop's price for a SKU (draft order lines use it; 10.00 otherwise)."""
    with state.lock:
        state.prices[str(payload["sku"])] = to_money(to_cents(payload["price"]))
        return {"sku": payload["sku"], "price": state.prices[str(payload["sku"])]}


@kit.admin.get("/state/draft_orders")
def state_draft_orders(state: ShopState = kit.state) -> JSONResponse:
    with state.lock:
        return as_json({"draft_orders": state.draft_orders})
