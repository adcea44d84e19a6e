"""Shopify's money endpoints: an order's transactions and refunds, and gift cards.

Refunds are calculated and created as the Refund resource documents: ``refund_line_items`` with
a ``restock_type`` and ``transactions`` against the order's sale, each capped at what it can
still refund (https://shopify.dev/docs/api/admin-rest/latest/resources/refund); the order's
transactions are listed by https://shopify.dev/docs/api/admin-rest/latest/resources/transaction;
gift card codes are 8-20 characters, shown in full only when created
(https://shopify.dev/docs/api/admin-rest/latest/resources/gift-card).

The rules (caps, field reading, unique codes) are ``sandbox.kit.ledger``'s; this module declares
Shopify's fields, its wording of each refusal and its JSON, and serves the endpoints.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi.responses import Response

from sandbox.kit.money import to_cents, to_money
from sandbox.kit import Call
from sandbox.kit.ledger import (Codes, Context, Field, Ledger, Refusal, Refusals, an_object, found, read, read_each,
                                shown)
from sandbox.kit.ledger_endpoints import answering, answers
from sandbox.kit.pages import only_fields
from sandbox.shopify.shop import ShopState, deliver_all, errors, fixtures, kit, take_stock, ts

Json = dict[str, Any]
TRANSACTION_ID_BASE = 2**53 + 8_000_000_000
REFUND_ID_BASE = 2**53 + 9_000_000_000
REFUND_LINE_ID_BASE = 2**53 + 10_000_000_000
GIFT_CARD_ID_BASE = 2**53 + 11_000_000_000
#: ``cancel`` and ``return`` put the items back at the shop's location (``location_id`` set).
RESTOCK_TYPES, RESTOCKING = ("no_restock", "cancel", "return", "legacy_restock"), ("cancel", "return")
QUANTITY_TOO_HIGH = "cannot refund more items than were purchased"
AMOUNT_TOO_HIGH = "Refund amount exceeds the maximum refundable amount of the transaction"
#: ``gift_cards/search.json?query=field:value`` searches these fields.
SEARCHABLE = ("last_characters", "balance", "initial_value")

#: ``refund_line_items``: a line of the order, restocked or not, at most what it has left.
LINE = {"line_item_id": Field(int, within="lines"), "restock_type": Field(default="no_restock", choices=RESTOCK_TYPES),
        "quantity": Field(int, 0, least=1, cap="line_item_id")}
#: ``transactions``: a refund of one of the order's sales, through its gateway, at most what it has left.
PAY_BACK = {"parent_id": Field(int, within="sales"), "kind": Field(default="refund", choices=("refund",)),
            "gateway": Field(default=None, agrees="parent_id.gateway"),
            "amount": Field(to_cents, least=1, cap="parent_id")}
#: 8-20 letters or digits, case-insensitive, unique in the shop; 16 hex digits when none is asked for.
GIFT_CARD_CODES = Codes(min_length=8, max_length=20, alphabet="abcdefghijklmnopqrstuvwxyz0123456789",
                        normalize=lambda code: "".join(code.split()).lower(), generate=lambda: uuid.uuid4().hex[:16])
GIFT_CARD = {"initial_value": Field(to_cents, least=1), "code": Field(GIFT_CARD_CODES.read, unique="codes"),
             **dict.fromkeys(("customer_id", "note", "expires_on", "template_suffix"), Field(default=None))}
#: What a sale and a refund's transaction say of themselves (the rest is ``fixtures/transaction.json``).
SALE = {"kind": "sale", "message": "Marked the manual payment as received", "source_name": "web"}
REFUND = {"kind": "refund", "message": "Refunded", "source_name": "external"}


def problem(refusal: Refusal, message: str) -> tuple[int, Any]:
    """Shopify's failed validation: 422 ``{"errors": {field: [message]}}``."""
    return 422, errors({refusal.field: [message]})


#: Every refusal of these endpoints as Shopify words it (the most specific key answers).
REFUSALS = Refusals({
    "unknown": lambda _: (404, errors("Not Found")),
    "missing": lambda refusal: (400, errors({refusal.field: "Required parameter missing or invalid"})),
    "transactions.amount:cap": lambda _: (422, errors({"base": [AMOUNT_TOO_HIGH]})),
    "refund_line_items.quantity:cap": QUANTITY_TOO_HIGH, "invalid": "is invalid", "least": "must be greater than 0",
    "initial_value:invalid": "must be greater than 0", "choices": "is not included in the list",
    "match": "must match the parent transaction's gateway", "taken": "has already been taken",
    "short": "is too short (minimum is 8 characters)", "long": "is too long (maximum is 20 characters)",
}, problem)


def next_id(state: ShopState, base: int) -> int:
    state.money_ids += 1
    return base + state.money_ids


def transaction(state: ShopState, order: Json, kind: Json, gateway: str, cents: int, parent_id: int | None,
                now: datetime) -> Json:
    return fixtures.fill("transaction", kind, id=next_id(state, TRANSACTION_ID_BASE), order_id=order["id"],
                         gateway=gateway, now=now, currency=order["currency"], amount=to_money(cents),
                         parent_id=parent_id)


def sale_transaction(state: ShopState, order: Json, gateway: str, now: datetime) -> Json:
    """The paid checkout: one successful ``sale`` for the order total, the refunds' parent."""
    sale = transaction(state, order, SALE, gateway, to_cents(order["total_price"]), None, now)
    state.transactions[order["id"]] = [sale]
    return sale


def context(state: ShopState, order: Json) -> tuple[Context, Context]:
    """What the order's lines (items) and its successful sales (cents) have left to refund."""
    done = [t for t in state.transactions.get(order["id"], []) if t["status"] == "success"]
    sales = {t["id"]: t for t in done if t["kind"] in ("sale", "capture")}
    known = {"lines": {line["id"]: line for line in order["line_items"]}, "sales": sales}
    returned = [r for refund in order["refunds"] for r in refund["refund_line_items"]]
    items = Ledger([(ln["id"], ln["quantity"]) for ln in order["line_items"]],
                   [(r["line_item_id"], r["quantity"]) for r in returned])
    cents = Ledger([(t["id"], to_cents(t["amount"])) for t in sales.values()],
                   [(t["parent_id"], to_cents(t["amount"])) for t in done if t["kind"] == "refund"])
    return Context(known, items), Context(known, cents)


def refund_lines(state: ShopState, spec: Json, lines: Context) -> list[Json]:
    """The ``refund_line_items`` as ``calculate`` answers them (a created refund keeps some fields)."""
    calculated = []
    for ask in read_each(spec.get("refund_line_items"), LINE, "refund_line_items", lines):
        line, restock_type = lines.known["lines"][ask["line_item_id"]], ask["restock_type"]
        calculated.append(fixtures.fill("refund_line", ask, price=line["price"],
                                        location_id=state.location_id if restock_type in RESTOCKING else None,
                                        subtotal=to_money(to_cents(line["price"]) * ask["quantity"])))
    return calculated


def calculation(state: ShopState, order_id: int, body: Any) -> Json:
    """``calculate.json``: the lines, and their total spread over what each sale has left."""
    spec, order = an_object(body, "refund", "refund"), found(state.find_order(order_id), "order")
    items, cents = context(state, order)
    lines = refund_lines(state, spec, items)
    suggested = [fixtures.fill("suggested_refund", order, order_id=order_id, parent_id=pid, amount=to_money(share),
                               gateway=cents.known["sales"][pid]["gateway"], maximum_refundable=to_money(room))
                 for pid, share, room in cents.ledger.spread(sum(to_cents(line["subtotal"]) for line in lines))]
    return fixtures.fill("refund_calculation", order, refund_line_items=lines, transactions=suggested)


def restock(state: ShopState, sku: str, quantity: int, now: datetime) -> list[Json]:
    """The line's items back in stock at the main location (when tracked and still sold)."""
    index = state.index_for_sku(str(sku))
    return take_stock(state, state.item(index) if index is not None else None, -quantity, now)


def record_refund(state: ShopState, order_id: int, body: Any) -> tuple[Json, list[tuple[str, Json]]]:
    """Store the refund on its order with its transactions, restock ``cancel``/``return`` lines; the webhooks."""
    spec, order = an_object(body, "refund", "refund"), found(state.find_order(order_id), "order")
    items, cents = context(state, order)
    lines = refund_lines(state, spec, items)
    now, sales = state.now(), cents.known["sales"]
    transactions = [transaction(state, order, REFUND, sales[t["parent_id"]]["gateway"], t["amount"], t["parent_id"],
                                now) for t in read_each(spec.get("transactions"), PAY_BACK, "transactions", cents)]
    stored = [{"id": next_id(state, REFUND_LINE_ID_BASE), **{k: line[k] for k in (*LINE, "location_id")},
               "subtotal": to_cents(line["subtotal"]) / 100, "total_tax": 0.0,
               "line_item": items.known["lines"][line["line_item_id"]]} for line in lines]
    refund = fixtures.fill("refund", id=next_id(state, REFUND_ID_BASE), order_id=order_id, now=now,
                           note=spec.get("note"), restock=any(line["location_id"] for line in lines),
                           refund_line_items=stored, transactions=transactions)
    order["refunds"].append(refund)
    state.transactions.setdefault(order_id, []).extend(transactions)
    if cents.ledger.given_back:
        full = cents.ledger.given_back >= to_cents(order["total_price"])
        order["financial_status"] = "refunded" if full else "partially_refunded"
    order["updated_at"] = ts(now)
    levels = [level for line in stored if line["location_id"]
              for level in restock(state, line["line_item"]["sku"], line["quantity"], now)]
    return refund, [("refunds/create", refund)] + [("inventory_levels/update", level) for level in levels]


def create_gift_card(state: ShopState, body: Any) -> Json:
    """``POST gift_cards.json``: the answer is the only time the full code is shown."""
    asked = read(an_object(body, "gift_card", "gift_card"), GIFT_CARD,
                 context=Context({"codes": {card["code"] for card in state.gift_cards}}))
    card = fixtures.fill("gift_card", asked, id=next_id(state, GIFT_CARD_ID_BASE), now=state.now(),
                         value=to_money(asked["initial_value"]), last=asked["code"][-4:])
    state.gift_cards.append(card)
    return card


def gift_cards(state: ShopState) -> list[Json]:
    """The cards as reads show them: never the code, only ``last_characters``."""
    return [shown(card, {"code"}) for card in state.gift_cards]


# --- endpoints ----------------------------------------------------------------------------------


def order(state: ShopState, order_id: int) -> Json:
    return found(state.find_order(order_id), "order")


@answers(kit.api.get("/orders/{order_id}.json"), REFUSALS)
def get_order(order_id: int, call: Call[ShopState] = kit.call) -> Json:
    return {"order": only_fields(order(call.state, order_id), call.query.get("fields"))}


@answers(kit.api.get("/orders/{order_id}/transactions.json"), REFUSALS)
def list_transactions(order_id: int, call: Call[ShopState] = kit.call) -> Json:
    return {"transactions": list(call.state.transactions.get(order(call.state, order_id)["id"], []))}


@answers(kit.api.get("/orders/{order_id}/refunds.json"), REFUSALS)
def list_refunds(order_id: int, call: Call[ShopState] = kit.call) -> Json:
    return {"refunds": list(order(call.state, order_id)["refunds"])}


@answers(kit.api.post("/orders/{order_id}/refunds/calculate.json"), REFUSALS)
def calculate(order_id: int, call: Call[ShopState] = kit.call) -> Json:
    return {"refund": calculation(call.state, order_id, call.body)}


@kit.api.post("/orders/{order_id}/refunds.json")
def create_refund(order_id: int, call: Call[ShopState] = kit.call) -> Response:
    with answering(REFUSALS, call.refuse), call.state.lock:
        refund, events = record_refund(call.state, order_id, call.body)
    deliver_all(call.state, call, events)
    return call.reply({"refund": refund}, 201)


@answers(kit.api.post("/gift_cards.json"), REFUSALS, 201)
def create_gift_card_route(call: Call[ShopState] = kit.call) -> Json:
    return {"gift_card": create_gift_card(call.state, call.body)}


@answers(kit.api.get("/gift_cards/search.json"), REFUSALS)
def search_gift_cards(call: Call[ShopState] = kit.call) -> Json:
    """``query=field:value`` over the fields this stand-in indexes."""
    name, _, value = call.query.get("query", "").partition(":")
    return {"gift_cards": [card for card in gift_cards(call.state)
                           if name in SEARCHABLE and str(card[name]).lower() == value.strip().lower()]}


@answers(kit.api.get("/gift_cards.json"), REFUSALS)
def list_gift_cards(call: Call[ShopState] = kit.call) -> Json:
    status = call.query.get("status")
    return {"gift_cards": [card for card in gift_cards(call.state)
                           if status is None or (status == "enabled") == (card["disabled_at"] is None)]}


@answers(kit.api.get("/gift_cards/{gift_card_id}.json"), REFUSALS)
def get_gift_card(gift_card_id: int, call: Call[ShopState] = kit.call) -> Json:
    return {"gift_card": found(next((c for c in gift_cards(call.state) if c["id"] == gift_card_id), None), "gift_card")}
