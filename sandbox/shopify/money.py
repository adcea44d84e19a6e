"""Shopify's money endpoints: an order's transactions and refunds, and gift cards.

Refunds are calculated and created as the Refund resource documents: ``refund_line_items`` with
a ``restock_type`` and ``transactions`` against the order's sale, each capped at what it can
still refund (https://shopify.dev/docs/api/admin-rest/latest/resources/refund); the order's
transactions are listed by https://shopify.dev/docs/api/admin-rest/latest/resources/transaction;
gift card codes are 8-20 characters, shown in full only when created
(https://shopify.dev/docs/api/admin-rest/latest/resources/gift-card).
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import Response

from sandbox.kit.money import to_cents, to_money
from sandbox.kit import Call
from sandbox.kit.pages import only_fields
from sandbox.shopify.shop import (
    Item,
    ShopState,
    deliver_all,
    errors,
    kit,
    level_json,
    not_found,
    ts,
)

TRANSACTION_ID_BASE = 2**53 + 8_000_000_000
REFUND_ID_BASE = 2**53 + 9_000_000_000
REFUND_LINE_ID_BASE = 2**53 + 10_000_000_000
GIFT_CARD_ID_BASE = 2**53 + 11_000_000_000
RESTOCK_TYPES = ("no_restock", "cancel", "return", "legacy_restock")
QUANTITY_TOO_HIGH = "cannot refund more items than were purchased"
AMOUNT_TOO_HIGH = "Refund amount exceeds the maximum refundable amount of the transaction"


def next_money_id(state: ShopState) -> int:
    state.money_ids += 1
    return state.money_ids


def sale_transaction(state: ShopState, order: dict[str, Any], gateway: str, now: datetime) -> dict[str, Any]:
    """The paid checkout: one successful ``sale`` for the order total, the refunds' parent."""
    sale = {"id": TRANSACTION_ID_BASE + next_money_id(state), "order_id": order["id"], "kind": "sale",
            "gateway": gateway, "status": "success", "message": "Marked the manual payment as received",
            "created_at": ts(now), "processed_at": ts(now), "test": False, "authorization": None,
            "currency": order["currency"], "amount": order["total_price"], "parent_id": None,
            "source_name": "web", "error_code": None,
            "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{TRANSACTION_ID_BASE + state.money_ids}"}
    state.transactions[order["id"]] = [sale]
    return sale


def refunded_quantities(order: dict[str, Any]) -> dict[int, int]:
    done: dict[int, int] = {}
    for refund in order["refunds"]:
        for line in refund["refund_line_items"]:
            done[line["line_item_id"]] = done.get(line["line_item_id"], 0) + line["quantity"]
    return done


def refundable_cents(state: ShopState, parent: dict[str, Any]) -> int:
    """A sale's ``maximum_refundable``: its amount less the successful refunds made against it."""
    refunded = sum(to_cents(t["amount"]) for t in state.transactions.get(parent["order_id"], [])
                   if t["kind"] == "refund" and t["parent_id"] == parent["id"] and t["status"] == "success")
    return to_cents(parent["amount"]) - refunded


def refund_lines(state: ShopState, order: dict[str, Any], specs: Any) -> tuple[list[dict[str, Any]], Any]:
    """Validate ``refund_line_items`` as Shopify does; returns (lines, None) or ([], errors)."""
    if specs is None:
        return [], None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return [], {"refund_line_items": ["is invalid"]}
    by_id = {line["id"]: line for line in order["line_items"]}
    already = refunded_quantities(order)
    asked: dict[int, int] = {}
    lines = []
    for spec in specs:
        try:
            line = by_id.get(int(spec.get("line_item_id")))
            quantity = int(spec.get("quantity", 0))
        except (TypeError, ValueError):
            line, quantity = None, 0
        if line is None:
            return [], {"refund_line_items.line_item_id": ["is invalid"]}
        restock_type = spec.get("restock_type", "no_restock")
        if restock_type not in RESTOCK_TYPES:
            return [], {"refund_line_items.restock_type": ["is not included in the list"]}
        if quantity < 1:
            return [], {"refund_line_items.quantity": ["must be greater than 0"]}
        asked[line["id"]] = asked.get(line["id"], 0) + quantity
        if asked[line["id"]] > line["quantity"] - already.get(line["id"], 0):
            return [], {"refund_line_items.quantity": [QUANTITY_TOO_HIGH]}
        subtotal = to_cents(line["price"]) * quantity
        lines.append({"line_item_id": line["id"], "quantity": quantity, "restock_type": restock_type,
                      "location_id": state.location_id if restock_type in ("cancel", "return") else None,
                      "price": line["price"], "subtotal": to_money(subtotal), "total_tax": "0.00",
                      "discounted_price": line["price"], "discounted_total_price": to_money(subtotal),
                      "total_cart_discount_amount": "0.00"})
    return lines, None


def suggested_transactions(state: ShopState, order: dict[str, Any], cents: int) -> list[dict[str, Any]]:
    """Spread ``cents`` over the order's sales, each capped at what it can still refund."""
    suggestions = []
    for parent in state.transactions.get(order["id"], []):
        if parent["kind"] not in ("sale", "capture") or parent["status"] != "success":
            continue
        maximum = refundable_cents(state, parent)
        share = min(cents, maximum)
        cents -= share
        suggestions.append({"order_id": order["id"], "kind": "suggested_refund", "gateway": parent["gateway"],
                            "parent_id": parent["id"], "amount": to_money(share), "currency": order["currency"],
                            "maximum_refundable": to_money(maximum)})
    return suggestions


def calculate_refund(state: ShopState, order: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    subtotal = sum(to_cents(line["subtotal"]) for line in lines)
    return {"shipping": {"amount": "0.00", "tax": "0.00", "maximum_refundable": "0.00"}, "duties": [],
            "additional_fees": [], "refund_line_items": lines,
            "transactions": suggested_transactions(state, order, subtotal), "currency": order["currency"]}


def refund_transactions(state: ShopState, order: dict[str, Any], specs: Any) -> tuple[list[dict[str, Any]], Any]:
    """Validate ``transactions`` against the order's sales; the sum per parent must stay refundable."""
    if specs is None:
        return [], None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return [], {"transactions": ["is invalid"]}
    parents = {t["id"]: t for t in state.transactions.get(order["id"], []) if t["kind"] in ("sale", "capture")}
    asked: dict[int, int] = {}
    accepted = []
    for spec in specs:
        try:
            parent = parents.get(int(spec.get("parent_id")))
            cents = to_cents(spec.get("amount"))
        except (TypeError, ValueError):
            return [], {"transactions.amount": ["is invalid"]}
        if parent is None:
            return [], {"transactions.parent_id": ["is invalid"]}
        if spec.get("kind", "refund") != "refund":
            return [], {"transactions.kind": ["is not included in the list"]}
        if spec.get("gateway") and spec["gateway"] != parent["gateway"]:
            return [], {"transactions.gateway": ["must match the parent transaction's gateway"]}
        if cents <= 0:
            return [], {"transactions.amount": ["must be greater than 0"]}
        asked[parent["id"]] = asked.get(parent["id"], 0) + cents
        if asked[parent["id"]] > refundable_cents(state, parent):
            return [], {"base": [AMOUNT_TOO_HIGH]}
        accepted.append((parent, cents))
    return [refund_transaction(state, order, parent, cents) for parent, cents in accepted], None


def refund_transaction(state: ShopState, order: dict[str, Any], parent: dict[str, Any], cents: int) -> dict[str, Any]:
    now = state.now()
    tid = TRANSACTION_ID_BASE + next_money_id(state)
    return {"id": tid, "order_id": order["id"], "kind": "refund", "gateway": parent["gateway"], "status": "success",
            "message": "Refunded", "created_at": ts(now), "processed_at": ts(now), "test": False,
            "authorization": None, "currency": order["currency"], "amount": to_money(cents),
            "parent_id": parent["id"], "source_name": "external", "error_code": None,
            "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{tid}"}


def record_refund(state: ShopState, order: dict[str, Any], body: dict[str, Any], lines: list[dict[str, Any]],
                  transactions: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Item]]:
    """Store the refund on its order (and its transactions), restock ``cancel``/``return`` lines."""
    now = state.now()
    rid = REFUND_ID_BASE + next_money_id(state)
    by_id = {line["id"]: line for line in order["line_items"]}
    refund_lines_json = [{
        "id": REFUND_LINE_ID_BASE + next_money_id(state), "line_item_id": line["line_item_id"],
        "quantity": line["quantity"], "location_id": line["location_id"], "restock_type": line["restock_type"],
        "subtotal": float(Decimal(line["subtotal"])), "total_tax": 0.0, "line_item": by_id[line["line_item_id"]],
    } for line in lines]
    refund = {"id": rid, "order_id": order["id"], "created_at": ts(now), "processed_at": ts(now),
              "note": body.get("note"), "user_id": None, "restock": any(line["location_id"] for line in lines),
              "duties": [], "additional_fees": [], "order_adjustments": [], "return": None,
              "refund_line_items": refund_lines_json, "transactions": transactions,
              "admin_graphql_api_id": f"gid://shopify/Refund/{rid}"}
    order["refunds"].append(refund)
    state.transactions.setdefault(order["id"], []).extend(transactions)
    refunded = sum(to_cents(t["amount"]) for t in state.transactions[order["id"]] if t["kind"] == "refund")
    if refunded:
        order["financial_status"] = "refunded" if refunded >= to_cents(order["total_price"]) else "partially_refunded"
    order["updated_at"] = ts(now)
    restocked = []
    for line in lines:
        if line["location_id"] is None:
            continue
        index = state.index_for_sku(str(by_id[line["line_item_id"]]["sku"]))
        item = state.item(index) if index is not None else None
        if item is not None and item.available is not None:
            item = replace(item, available=item.available + line["quantity"], updated_at=now)
            state.store(item)
            restocked.append(item)
    return refund, restocked


GIFT_CARD_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def gift_card_code_errors(code: str, taken: set[str]) -> dict[str, list[str]] | None:
    """Shopify's rule: 8–20 letters or digits, case-insensitive, unique in the shop."""
    if len(code) < 8:
        return {"code": ["is too short (minimum is 8 characters)"]}
    if len(code) > 20:
        return {"code": ["is too long (maximum is 20 characters)"]}
    if not set(code) <= GIFT_CARD_CODE_CHARS:
        return {"code": ["is invalid"]}
    if code in taken:
        return {"code": ["has already been taken"]}
    return None


def create_gift_card(state: ShopState, spec: Any) -> tuple[int, dict[str, Any]]:
    """``POST gift_cards.json``: the answer is the only time the full code is shown."""
    if not isinstance(spec, dict):
        return 400, {"errors": {"gift_card": "Required parameter missing or invalid"}}
    try:
        cents = to_cents(spec.get("initial_value"))
    except ValueError:
        cents = 0
    if cents <= 0:
        return 422, {"errors": {"initial_value": ["must be greater than 0"]}}
    code = "".join(str(spec.get("code") or uuid.uuid4().hex[:16]).split()).lower()
    errors = gift_card_code_errors(code, {card["code"] for card in state.gift_cards})
    if errors:
        return 422, {"errors": errors}
    now = state.now()
    gid = GIFT_CARD_ID_BASE + next_money_id(state)
    card = {"id": gid, "balance": to_money(cents), "created_at": ts(now), "updated_at": ts(now), "currency": "USD",
            "initial_value": to_money(cents), "disabled_at": None, "line_item_id": None, "api_client_id": 755357713,
            "user_id": None, "customer_id": spec.get("customer_id"), "note": spec.get("note"),
            "expires_on": spec.get("expires_on"), "template_suffix": spec.get("template_suffix"),
            "last_characters": code[-4:], "order_id": None, "code": code,
            "admin_graphql_api_id": f"gid://shopify/GiftCard/{gid}"}
    state.gift_cards.append(card)
    return 201, {"gift_card": card}


def gift_card_json(card: dict[str, Any]) -> dict[str, Any]:
    """A stored card as reads show it: never the code, only ``last_characters``."""
    return {k: v for k, v in card.items() if k != "code"}


def search_gift_cards(state: ShopState, query: str) -> list[dict[str, Any]]:
    """``gift_cards/search.json?query=field:value`` over the indexed fields this stand-in keeps."""
    field_name, _, value = query.partition(":")
    if field_name in ("last_characters", "balance", "initial_value"):
        return [gift_card_json(c) for c in state.gift_cards if str(c[field_name]).lower() == value.strip().lower()]
    return []


# --- endpoints ----------------------------------------------------------------------------------


def order_of(call: Call[ShopState], order_id: int) -> dict[str, Any]:
    order = call.state.find_order(order_id)
    if order is None:
        raise not_found(call)
    return order


def refund_spec(call: Call[ShopState]) -> dict[str, Any]:
    spec = call.body.get("refund") if isinstance(call.body, dict) else None
    if not isinstance(spec, dict):
        raise call.refuse(errors({"refund": "Required parameter missing or invalid"}), 400)
    return spec


@kit.api.get("/orders/{order_id}.json")
def get_order(order_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        body = {"order": only_fields(order_of(call, order_id), call.query.get("fields"))}
    return call.reply(body)


@kit.api.get("/orders/{order_id}/transactions.json")
def list_transactions(order_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        order_of(call, order_id)
        body = {"transactions": list(call.state.transactions.get(order_id, []))}
    return call.reply(body)


@kit.api.get("/orders/{order_id}/refunds.json")
def list_refunds(order_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        body = {"refunds": list(order_of(call, order_id)["refunds"])}
    return call.reply(body)


@kit.api.post("/orders/{order_id}/refunds/calculate.json")
def calculate(order_id: int, call: Call[ShopState] = kit.call) -> Response:
    spec = refund_spec(call)
    state = call.state
    with state.lock:
        order = order_of(call, order_id)
        lines, problems = refund_lines(state, order, spec.get("refund_line_items"))
        body = errors(problems) if problems else {"refund": calculate_refund(state, order, lines)}
    return call.reply(body, 422 if problems else 200)


@kit.api.post("/orders/{order_id}/refunds.json")
def create_refund(order_id: int, call: Call[ShopState] = kit.call) -> Response:
    spec = refund_spec(call)
    state = call.state
    with state.lock:
        order = order_of(call, order_id)
        lines, problems = refund_lines(state, order, spec.get("refund_line_items"))
        transactions: list[dict[str, Any]] = []
        if not problems:
            transactions, problems = refund_transactions(state, order, spec.get("transactions"))
        if problems:
            raise call.refuse(errors(problems), 422)
        refund, restocked = record_refund(state, order, spec, lines, transactions)
        levels = [level_json(state, item) for item in restocked]
    deliver_all(state, call, [("refunds/create", refund)] + [("inventory_levels/update", lv) for lv in levels])
    return call.reply({"refund": refund}, 201)


@kit.api.post("/gift_cards.json")
def create_gift_card_route(call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        status, body = create_gift_card(call.state, call.body.get("gift_card") if isinstance(call.body, dict) else None)
    return call.reply(body, status)


@kit.api.get("/gift_cards/search.json")
def search_gift_cards_route(call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        found = search_gift_cards(call.state, call.query.get("query", ""))
    return call.reply({"gift_cards": found})


@kit.api.get("/gift_cards.json")
def list_gift_cards(call: Call[ShopState] = kit.call) -> Response:
    status = call.query.get("status")
    with call.state.lock:
        cards = [gift_card_json(c) for c in call.state.gift_cards
                 if status is None or (status == "enabled") == (c["disabled_at"] is None)]
    return call.reply({"gift_cards": cards})


@kit.api.get("/gift_cards/{gift_card_id}.json")
def get_gift_card(gift_card_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        card = next((gift_card_json(c) for c in call.state.gift_cards if c["id"] == gift_card_id), None)
    if card is None:
        raise not_found(call)
    return call.reply({"gift_card": card})
