"""Shopify's money endpoints: an order's transactions and refunds, and gift cards.

Refunds are calculated and created as the Refund resource documents: ``refund_line_items`` with
a ``restock_type`` and ``transactions`` against the order's sale, each capped at what it can
still refund (https://shopify.dev/docs/api/admin-rest/latest/resources/refund); the order's
transactions are listed by https://shopify.dev/docs/api/admin-rest/latest/resources/transaction;
gift card codes are 8-20 characters, shown in full only when created
(https://shopify.dev/docs/api/admin-rest/latest/resources/gift-card).

The rules (caps, field reading, unique codes) are ``sandbox.kit.ledger``'s and the reads are
declared on ``sandbox.kit.endpoints``; this module declares Shopify's fields and its JSON, and
serves the endpoints (``shop.REFUSALS`` words each refusal).
"""
from __future__ import annotations

import uuid
from typing import Any

from sandbox.kit import (Call, Codes, Context, Field, Filter, Issued, Json, Ledger, an_object, asked_lines,
                         read_each, to_cents, to_money)
from sandbox.shopify.shop import REFUND, ShopState, api, fixtures, take_stock, transaction, ts

REFUND_ID_BASE = 2**53 + 9_000_000_000
REFUND_LINE_ID_BASE = 2**53 + 10_000_000_000
GIFT_CARD_ID_BASE = 2**53 + 11_000_000_000
#: ``cancel`` and ``return`` put the items back at the shop's location (``location_id`` set).
RESTOCK_TYPES, RESTOCKING = ("no_restock", "cancel", "return", "legacy_restock"), ("cancel", "return")
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
#: Gift cards: the full code is shown only in the answer to ``POST gift_cards.json``.
GIFT_CARDS = Issued("gift_cards", {
    "initial_value": Field(to_cents, least=1), "code": Field(GIFT_CARD_CODES.read),
    **dict.fromkeys(("customer_id", "note", "expires_on", "template_suffix"), Field(default=None))},
    GIFT_CARD_CODES, lambda state, asked, now: fixtures.fill(
        "gift_card", asked, id=GIFT_CARD_ID_BASE + state.allocate(), now=now, value=to_money(asked["initial_value"]),
        last=asked["code"][-4:]), hidden=("code",), envelope="gift_card")


def refund_request(state: ShopState, order_id: int, body: Any) -> tuple[Json, Json, Context, Context, list[Json]]:
    """The ``refund`` asked for, its order, what the order's lines (items) and its successful sales
    (cents) have left to refund, and the refund lines asked for."""
    spec, order = an_object(body, "refund", "refund"), state.order(order_id)
    done = [t for t in state.transactions.get(order["id"], []) if t["status"] == "success"]
    sales = {t["id"]: t for t in done if t["kind"] in ("sale", "capture")}
    known = {"lines": {line["id"]: line for line in order["line_items"]}, "sales": sales}
    items = Ledger([(ln["id"], ln["quantity"]) for ln in order["line_items"]], [
        (r["line_item_id"], r["quantity"]) for refund in order["refunds"] for r in refund["refund_line_items"]])
    cents = Ledger([(t["id"], to_cents(t["amount"])) for t in sales.values()],
                   [(t["parent_id"], to_cents(t["amount"])) for t in done if t["kind"] == "refund"])
    lines = Context(known, items)
    return spec, order, lines, Context(known, cents), refund_lines(state, spec, lines)


def refund_lines(state: ShopState, spec: Json, lines: Context) -> list[Json]:
    """The ``refund_line_items`` as ``calculate`` answers them (a created refund keeps some fields)."""
    return asked_lines(spec, "refund_line_items", LINE, lines, "line_item_id", lambda ask, line: fixtures.fill(
        "refund_line", ask, price=line["price"], subtotal=to_money(to_cents(line["price"]) * ask["quantity"]),
        location_id=state.location_id if ask["restock_type"] in RESTOCKING else None))


def calculation(call: Call[ShopState], order_id: int) -> Json:
    """``calculate.json``: the lines, and their total spread over what each sale has left."""
    spec, order, items, cents, lines = refund_request(call.state, order_id, call.body)
    suggested = [fixtures.fill("suggested_refund", order, order_id=order_id, parent_id=pid, amount=to_money(share),
                               gateway=cents.known["sales"][pid]["gateway"], maximum_refundable=to_money(room))
                 for pid, share, room in cents.ledger.spread(sum(to_cents(line["subtotal"]) for line in lines))]
    return fixtures.fill("refund_calculation", order, refund_line_items=lines, transactions=suggested)


def record_refund(call: Call[ShopState], order_id: int) -> Json:
    """Store the refund on its order with its transactions, restock ``cancel``/``return`` lines; emit the webhooks."""
    state = call.state
    spec, order, items, cents, lines = refund_request(state, order_id, call.body)
    now, sales = state.now(), cents.known["sales"]
    transactions = [transaction(state, order, REFUND, sales[t["parent_id"]]["gateway"], t["amount"], t["parent_id"],
                                now) for t in read_each(spec.get("transactions"), PAY_BACK, "transactions", cents)]
    stored = [fixtures.fill("refunded_line", line, id=REFUND_LINE_ID_BASE + state.allocate(), amount=to_cents(
        line["subtotal"]) / 100, line_item=items.known["lines"][line["line_item_id"]]) for line in lines]
    refund = call.emit("refunds/create", fixtures.fill(
        "refund", id=REFUND_ID_BASE + state.allocate(), order_id=order_id, now=now, note=spec.get("note"),
        restock=any(line["location_id"] for line in lines), refund_line_items=stored, transactions=transactions))
    order["refunds"].append(refund)
    state.transactions.setdefault(order_id, []).extend(transactions)
    if cents.ledger.given_back:
        full = cents.ledger.given_back >= to_cents(order["total_price"])
        order["financial_status"] = "refunded" if full else "partially_refunded"
    order["updated_at"] = ts(now)
    call.emit("inventory_levels/update", *(level for line in stored if line["location_id"] for level in take_stock(
        state, state.by_sku(str(line["line_item"]["sku"])), -line["quantity"], now)))
    return refund


api.one("/orders/{order_id}.json", "order", ShopState.find_order, "order", fields="fields")
api.many("/orders/{order_id}/transactions.json", "transactions",
         lambda state, order_id: list(state.transactions.get(state.order(order_id)["id"], [])))
api.many("/orders/{order_id}/refunds.json", "refunds", lambda state, order_id: list(state.order(order_id)["refunds"]))
api.write("POST", "/orders/{order_id}/refunds/calculate.json", "refund", calculation)
api.write("POST", "/orders/{order_id}/refunds.json", "refund", record_refund, 201)
api.many("/gift_cards.json", "gift_cards", GIFT_CARDS.shown, Filter(
    "status", test=lambda card, status: (status == "enabled") == (card["disabled_at"] is None)))
api.write("POST", "/gift_cards.json", "gift_card", lambda call: GIFT_CARDS.issue(call.state, call.body), 201)


def searched(card: Json, query: str) -> bool:
    """``query=field:value`` over the fields this stand-in indexes (absent, it finds no card)."""
    name, _, value = query.partition(":")
    return name in SEARCHABLE and str(card[name]).lower() == value.strip().lower()


api.many("/gift_cards/search.json", "gift_cards", GIFT_CARDS.shown, Filter("query", test=searched, default=":"))


api.one("/gift_cards/{gift_card_id}.json", "gift_card", GIFT_CARDS.find, "gift_card")
