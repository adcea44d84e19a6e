"""Magento's sales routes: orders, credit memos and the offline refund ``POST /V1/order/{id}/refund``.

As ``app/code/Magento/Sales/etc/webapi.xml`` declares them (ACL ``Magento_Sales::sales``) and
https://developer.adobe.com/commerce/webapi/rest/tutorials/orders/order-issue-refund/ shows: the
refund takes ``items [{order_item_id, qty}]``, ``notify``, ``appendComment``, ``comment
{comment, is_visible_on_front}`` and ``arguments {shipping_amount, adjustment_positive,
adjustment_negative, extension_attributes.return_to_stock_items}``, answers the new credit
memo's id, and refuses as ``RefundOrder`` does: 400 ``Creditmemo Document Validation Error(s):``
followed by each message (more than the unrefunded quantity, a total that is not positive, more
than was paid and not yet refunded). A credit memo lists its ``comments``.
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.errors import message_error
from sandbox.magento.store import StoreState, fixture, kit, order_json, pages, route, utc_text

SALES = "Magento_Sales::sales"
NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."


def _n(value: float) -> str:
    """A number as PHP prints it in a message (``398``, ``12.5``)."""
    return f"{value:g}"


def find_order(call: Call[StoreState], order_id: int) -> dict[str, Any]:
    order = next((o for o in call.state.orders if o["entity_id"] == order_id), None)
    if order is None:
        raise message_error(call, NO_ENTITY, status=404)
    return order


@route("GET", "/orders", SALES)
def list_orders(store: str, call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        return pages.answer(call, call.state.orders, order_json)


@route("GET", "/orders/{order_id}", SALES)
def read_order(store: str, order_id: int, call: Call[StoreState] = kit.call) -> Response:
    return call.reply(order_json(find_order(call, order_id)))


@route("GET", "/creditmemos", SALES)
def list_creditmemos(store: str, call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        return pages.answer(call, call.state.creditmemos)


@route("GET", "/creditmemo/{memo_id}", SALES)
def read_creditmemo(store: str, memo_id: int, call: Call[StoreState] = kit.call) -> Response:
    memo = next((m for m in call.state.creditmemos if m["entity_id"] == memo_id), None)
    if memo is None:
        raise message_error(call, NO_ENTITY, status=404)
    return call.reply(memo)


def problems(order: dict[str, Any], asked: list[tuple[dict[str, Any], float]], total: float) -> list[str]:
    """``RefundOrder``'s validators, in their order."""
    out = [f'The quantity to creditmemo must not be greater than the unrefunded quantity for product SKU '
           f'"{line["sku"]}".' for line, qty in asked if qty > line["qty_ordered"] - line["qty_refunded"]]
    if total <= 0:
        out.append("The credit memo's total must be positive.")
    if round(order["total_refunded"] + total, 2) > round(order["total_paid"], 2):
        out.append(f"The most money available to refund is {_n(order['total_paid'] - order['total_refunded'])}.")
    return out


@route("POST", "/order/{order_id}/refund", SALES)
def refund_order(store: str, order_id: int, call: Call[StoreState] = kit.call) -> Response:
    """An offline credit memo for the asked lines (all that is left when none are named)."""
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    with state.lock:
        order = find_order(call, order_id)
        lines = {line["item_id"]: line for line in order["items"]}
        asked = [(lines[int(i["order_item_id"])], float(i.get("qty", 0))) for i in body.get("items") or []
                 if int(i.get("order_item_id", 0)) in lines] or \
            [(line, line["qty_ordered"] - line["qty_refunded"]) for line in order["items"]]
        args = body.get("arguments") or {}
        money = {key: float(args.get(key) or 0) for key in ("shipping_amount", "adjustment_positive", "adjustment_negative")}
        subtotal = sum(line["price"] * qty for line, qty in asked)
        total = round(subtotal + money["shipping_amount"] + money["adjustment_positive"] - money["adjustment_negative"], 2)
        found = problems(order, asked, total)
        if found:
            raise message_error(call, "Creditmemo Document Validation Error(s):\n" + "\n".join(found))
        memo_id, now, comment = state.allocate(), utc_text(state.now()), body.get("comment") or {}
        memo = {**fixture("creditmemo"), **money, "entity_id": memo_id, "order_id": order_id, "created_at": now,
                "increment_id": f"{memo_id:09d}", "updated_at": now, "subtotal": subtotal, "grand_total": total,
                "email_sent": bool(body.get("notify")), "items": [
                    {"order_item_id": line["item_id"], "sku": line["sku"], "qty": qty, "price": line["price"],
                     "row_total": line["price"] * qty} for line, qty in asked],
                "comments": [{"entity_id": state.allocate(), "parent_id": memo_id, "comment": comment["comment"],
                              "is_visible_on_front": int(comment.get("is_visible_on_front", 0)), "created_at": now,
                              "is_customer_notified": int(bool(body.get("notify") and body.get("appendComment")))}]
                if comment.get("comment") else []}
        state.creditmemos.append(memo)
        restock = set((args.get("extension_attributes") or {}).get("return_to_stock_items") or [])
        for line, qty in asked:
            line["qty_refunded"] += qty
            line["amount_refunded"] = round(line["amount_refunded"] + line["price"] * qty, 2)
            product = state.products.get(line["product_id"])
            if line["item_id"] in restock and product is not None:
                state.set_stock(product, qty=state.qty(product) + qty)
        order["total_refunded"] = round(order["total_refunded"] + total, 2)
        if order["total_refunded"] >= order["total_paid"]:
            order["state"] = order["status"] = "closed"
        order["updated_at"] = now
    return call.reply(memo_id)
