"""Shopify Admin REST stand-in, served at ``/shopify/{instance}/admin/api/{version}/…``.

Follows the public docs the connector follows: ``X-Shopify-Access-Token`` auth answering 401
``{"errors": "[API] Invalid API key or access token …"}``; cursor pagination through ``Link``
with an opaque ``page_info`` (only ``limit``/``fields`` accepted next to it; the link carries
``page_info`` and ``limit`` only, as the documented link syntax shows, so a client re-sends
``fields``); at most 50 ids in ``inventory_item_ids`` and in ``location_ids``; a real leaky bucket
(40, 2/s by default, configurable per instance) with ``X-Shopify-Shop-Api-Call-Limit`` and
429 + ``Retry-After: 2.0``; ids above 2**53; signed webhooks (``X-Shopify-Hmac-Sha256``).

The catalog is lazy: a seeded ``count`` is a numbered range whose items are computed on demand,
and only touched items are stored, so 100,000 SKUs cost a few integers until paged through.
Admin endpoints (``/shopify/{instance}/_admin/…``) are documented in ``docs/sandbox.md``.
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Sequence

import requests
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common import (
    Instances,
    PlatformState,
    add_fault_routes,
    add_request_log_routes,
    any_fault,
    fault_answer,
    late_answer,
    to_cents,
    to_money,
)

PRODUCT_ID_BASE = 2**53 + 1_000_000
VARIANT_ID_BASE = 2**53 + 2_000_000_000
ITEM_ID_BASE = 2**53 + 4_000_000_000
ORDER_ID_BASE = 2**53 + 6_000_000_000
LINE_ID_BASE = 2**53 + 7_000_000_000
TRANSACTION_ID_BASE = 2**53 + 8_000_000_000
REFUND_ID_BASE = 2**53 + 9_000_000_000
REFUND_LINE_ID_BASE = 2**53 + 10_000_000_000
GIFT_CARD_ID_BASE = 2**53 + 11_000_000_000
RESTOCK_TYPES = ("no_restock", "cancel", "return", "legacy_restock")
QUANTITY_TOO_HIGH = "cannot refund more items than were purchased"
AMOUNT_TOO_HIGH = "Refund amount exceeds the maximum refundable amount of the transaction"
DEFAULT_LOCATION_ID = 655441491
DEFAULT_TOKEN = "shpat_sandbox"
SHOP_TZ = timezone(timedelta(hours=-5))
MAX_LIMIT = 250
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
#: ``inventory_levels.json`` takes at most 50 ids in ``inventory_item_ids`` and in ``location_ids``.
MAX_IDS_PER_LIST = 50
#: Inventory levels at the added locations sort after the main location's: key = ordinal × stride + index.
LOCATION_STRIDE = 2**40


def _ts(value: datetime) -> str:
    """Shopify renders times in the shop's zone with an offset, second precision."""
    return value.astimezone(SHOP_TZ).replace(microsecond=0).isoformat()


def _parse_ts(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class Item:
    """One product with one variant and its inventory item at the instance's location."""

    index: int
    sku: str
    title: str
    available: int | None
    policy: str
    updated_at: datetime

    @property
    def product_id(self) -> int:
        return PRODUCT_ID_BASE + self.index

    @property
    def variant_id(self) -> int:
        return VARIANT_ID_BASE + self.index

    @property
    def inventory_item_id(self) -> int:
        return ITEM_ID_BASE + self.index


@dataclass(frozen=True)
class Batch:
    """A generated range of items: defaults computed from the index, nothing stored per item."""

    start: int
    stop: int
    prefix: str
    available: int
    policy: str
    created_at: datetime


@dataclass
class ShopState(PlatformState):
    """Everything one ``{instance}`` knows; created on first use with defaults."""

    token: str = DEFAULT_TOKEN
    location_id: int = DEFAULT_LOCATION_ID
    #: Locations added beside ``location_id`` (``_admin/locations``), and the levels stocked there:
    #: location id → item index → (available, updated_at). An item has no level where none was set.
    extra_locations: list[int] = field(default_factory=list)
    extra_levels: dict[int, dict[int, tuple[int | None, datetime]]] = field(default_factory=dict)
    bucket_size: float = 40.0
    leak_rate: float = 2.0
    bucket_level: float = 0.0
    bucket_at: float = field(default_factory=time.monotonic)
    clock_offset: timedelta = timedelta()
    total: int = 0
    batches: list[Batch] = field(default_factory=list)
    overrides: dict[int, Item] = field(default_factory=dict)
    sku_index: dict[str, int] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    transactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    gift_cards: list[dict[str, Any]] = field(default_factory=list)
    money_ids: int = 0
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    draft_orders: list[dict[str, Any]] = field(default_factory=list)
    prices: dict[str, str] = field(default_factory=dict)

    def now(self) -> datetime:
        return (datetime.now(timezone.utc) + self.clock_offset).replace(microsecond=0)

    # --- catalog ----------------------------------------------------------------------------

    def item(self, index: int) -> Item | None:
        if not 0 <= index < self.total:
            return None
        if index in self.overrides:
            return self.overrides[index]
        starts = [b.start for b in self.batches]
        batch = self.batches[bisect.bisect_right(starts, index) - 1]
        return Item(index, f"{batch.prefix}{index:06d}", f"Generated item {index}", batch.available,
                    batch.policy, batch.created_at)

    def index_for_sku(self, sku: str) -> int | None:
        if sku in self.sku_index:
            return self.sku_index[sku]
        for batch in self.batches:
            digits = sku[len(batch.prefix):]
            if sku.startswith(batch.prefix) and digits.isdigit() and batch.start <= int(digits) < batch.stop:
                index = int(digits)
                if index not in self.overrides or self.overrides[index].sku == sku:
                    return index
        return None

    def store(self, item: Item) -> None:
        self.overrides[item.index] = item
        self.sku_index[item.sku] = item.index

    def indices_updated_since(self, since: datetime | None) -> Sequence[int]:
        """Sorted indices with ``updated_at >= since``; the full range when nothing filters."""
        if since is None:
            return range(self.total)
        picked: set[int] = {i for i, it in self.overrides.items() if it.updated_at >= since}
        for batch in self.batches:
            if batch.created_at >= since:
                picked.update(i for i in range(batch.start, batch.stop) if i not in self.overrides)
        return sorted(picked)

    # --- locations --------------------------------------------------------------------------

    def location_ids(self) -> list[int]:
        return [self.location_id, *self.extra_locations]

    def extra_level_keys(self, location_ids: set[str], item_indices: set[int] | None,
                         since: datetime | None) -> list[int]:
        """Sort keys of the levels at added locations that pass the filters (empty set: any location)."""
        keys = []
        for ordinal, location in enumerate(self.extra_locations, start=1):
            if location_ids and str(location) not in location_ids:
                continue
            for index, (_, updated_at) in self.extra_levels.get(location, {}).items():
                if (item_indices is None or index in item_indices) and (since is None or updated_at >= since):
                    keys.append(ordinal * LOCATION_STRIDE + index)
        return sorted(keys)

    # --- rate limit -------------------------------------------------------------------------

    def take_call(self) -> tuple[bool, str]:
        """The leaky bucket: each call adds one, the bucket leaks ``leak_rate`` per second."""
        now = time.monotonic()
        self.bucket_level = max(0.0, self.bucket_level - (now - self.bucket_at) * self.leak_rate)
        self.bucket_at = now
        if self.bucket_level + 1 > self.bucket_size:
            return False, f"{int(self.bucket_size)}/{int(self.bucket_size)}"
        self.bucket_level += 1
        return True, f"{max(1, int(round(self.bucket_level)))}/{int(self.bucket_size)}"


# --- JSON renderings ----------------------------------------------------------------------------


def variant_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.variant_id, "product_id": item.product_id, "title": "Default Title", "sku": item.sku,
        "price": "10.00", "position": 1, "inventory_policy": item.policy, "inventory_management":
        "shopify" if item.available is not None else None, "inventory_item_id": item.inventory_item_id,
        "inventory_quantity": item.available or 0, "updated_at": _ts(item.updated_at),
        "admin_graphql_api_id": f"gid://shopify/ProductVariant/{item.variant_id}",
    }


def product_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.product_id, "title": item.title, "handle": f"item-{item.index}", "status": "active",
        "updated_at": _ts(item.updated_at), "variants": [variant_json(item)],
        "admin_graphql_api_id": f"gid://shopify/Product/{item.product_id}",
    }


def level_json(state: ShopState, item: Item) -> dict[str, Any]:
    return {
        "inventory_item_id": item.inventory_item_id, "location_id": state.location_id,
        "available": item.available, "updated_at": _ts(item.updated_at),
        "admin_graphql_api_id":
            f"gid://shopify/InventoryLevel/{state.location_id}?inventory_item_id={item.inventory_item_id}",
    }


def stocked_level_json(location_id: int, item: Item, available: int | None, updated_at: datetime) -> dict[str, Any]:
    """A level at one of the added locations: the same five fields as ``level_json``."""
    return {
        "inventory_item_id": item.inventory_item_id, "location_id": location_id, "available": available,
        "updated_at": _ts(updated_at),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item.inventory_item_id}",
    }


def level_for_key(state: ShopState, key: int) -> dict[str, Any]:
    """The level behind a sort key of ``inventory_levels.json`` (see ``LOCATION_STRIDE``)."""
    ordinal, index = divmod(key, LOCATION_STRIDE)
    item = state.item(index)
    if ordinal == 0:
        return level_json(state, item)
    location = state.extra_locations[ordinal - 1]
    available, updated_at = state.extra_levels[location][index]
    return stocked_level_json(location, item, available, updated_at)


def _only_fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return obj
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in obj.items() if k in wanted}


def _encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> dict[str, Any] | None:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None


# --- money: transactions, refunds, gift cards ---------------------------------------------------


def next_money_id(state: ShopState) -> int:
    state.money_ids += 1
    return state.money_ids


def sale_transaction(state: ShopState, order: dict[str, Any], gateway: str, now: datetime) -> dict[str, Any]:
    """The paid checkout: one successful ``sale`` for the order total, the refunds' parent."""
    sale = {"id": TRANSACTION_ID_BASE + next_money_id(state), "order_id": order["id"], "kind": "sale",
            "gateway": gateway, "status": "success", "message": "Marked the manual payment as received",
            "created_at": _ts(now), "processed_at": _ts(now), "test": False, "authorization": None,
            "currency": order["currency"], "amount": order["total_price"], "parent_id": None,
            "source_name": "web", "error_code": None,
            "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{TRANSACTION_ID_BASE + state.money_ids}"}
    state.transactions[order["id"]] = [sale]
    return sale


def find_order(state: ShopState, order_id: int) -> dict[str, Any] | None:
    index = order_id - ORDER_ID_BASE
    return state.orders[index] if 0 <= index < len(state.orders) else None


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
            "message": "Refunded", "created_at": _ts(now), "processed_at": _ts(now), "test": False,
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
    refund = {"id": rid, "order_id": order["id"], "created_at": _ts(now), "processed_at": _ts(now),
              "note": body.get("note"), "user_id": None, "restock": any(line["location_id"] for line in lines),
              "duties": [], "additional_fees": [], "order_adjustments": [], "return": None,
              "refund_line_items": refund_lines_json, "transactions": transactions,
              "admin_graphql_api_id": f"gid://shopify/Refund/{rid}"}
    order["refunds"].append(refund)
    state.transactions.setdefault(order["id"], []).extend(transactions)
    refunded = sum(to_cents(t["amount"]) for t in state.transactions[order["id"]] if t["kind"] == "refund")
    if refunded:
        order["financial_status"] = "refunded" if refunded >= to_cents(order["total_price"]) else "partially_refunded"
    order["updated_at"] = _ts(now)
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
    card = {"id": gid, "balance": to_money(cents), "created_at": _ts(now), "updated_at": _ts(now), "currency": "USD",
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


# --- the app ------------------------------------------------------------------------------------


def _internal_error(status: int) -> dict[str, Any]:
    """The body of an injected fault that brings none."""
    return {"errors": "Internal Server Error"}


def _error(status: int, errors: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(state: ShopState, topic: str, payload: dict[str, Any], api_version: str = "2025-01") -> list[dict]:
    """POST the topic's payload to every subscribed address, signed as Shopify signs it."""
    results = []
    body = json.dumps(payload).encode()
    for hook in list(state.webhooks):
        if topic not in hook["topics"]:
            continue
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(hook["secret"], body),
            "X-Shopify-Shop-Domain": f"{state.name}.myshopify.com", "X-Shopify-API-Version": api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": state.now().isoformat().replace("+00:00", "Z"),
        }
        record = {"topic": topic, "address": hook["address"], "status": post_delivery(hook["address"], body, headers),
                  "webhook_id": headers["X-Shopify-Webhook-Id"], "event_id": headers["X-Shopify-Event-Id"],
                  "body": body.decode(), "headers": headers}
        state.deliveries.append(record)
        results.append(record)
    return results


def post_delivery(address: str, body: bytes, headers: dict[str, str]) -> int | str:
    try:
        return requests.post(address, data=body, headers=headers, timeout=5).status_code
    except requests.RequestException as exc:
        return f"error: {exc.__class__.__name__}"


def install(app: FastAPI) -> None:
    sandbox = Instances(ShopState)
    app.state.shopify = sandbox
    api = APIRouter(prefix="/shopify/{instance}/admin/api/{version}")
    admin = APIRouter(prefix="/shopify/{instance}/_admin")

    def guard(request: Request, instance: str, body: Any = None) -> tuple[ShopState, dict, Response | None]:
        """Faults, then auth, then the leaky bucket, in the order a real request meets them."""
        state = sandbox.get(instance)
        entry = state.requests.record(request, body, state.now().isoformat())
        with state.lock:
            faulted = fault_answer(state, request, entry, _internal_error)
            if faulted:
                return state, entry, faulted
            if request.headers.get("X-Shopify-Access-Token") != state.token:
                entry["status"] = 401
                return state, entry, _error(401, INVALID_TOKEN)
            ok, call_limit = state.take_call()
        entry["call_limit"] = call_limit
        if not ok:
            entry["status"] = 429
            return state, entry, _error(429, THROTTLED, {"Retry-After": "2.0",
                                                         "X-Shopify-Shop-Api-Call-Limit": call_limit})
        return state, entry, None

    def reply(entry: dict, content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        content, status, headers = late_answer(entry, content, status, headers, _internal_error)
        entry["status"] = status
        all_headers = {"X-Shopify-Shop-Api-Call-Limit": entry.get("call_limit", "1/40"), **(headers or {})}
        return JSONResponse(content, status_code=status, headers=all_headers)

    def paged(request: Request, entry: dict, key: str, seq: Sequence[int], render: Any,
              cursor: dict[str, Any], limit: int, fields: str | None) -> Response:
        """One page of ``seq`` (sorted ints) after/before the cursor, with Shopify's Link header."""
        if "before" in cursor:
            end = bisect.bisect_left(seq, cursor["before"])
            start = max(0, end - limit)
        else:
            start = bisect.bisect_right(seq, cursor["after"]) if "after" in cursor else 0
            end = min(len(seq), start + limit)
        chosen = [seq[i] for i in range(start, end)]
        items = [_only_fields(render(i), fields) for i in chosen]
        links = []
        base = str(request.url).split("?")[0]
        filters = cursor.get("f", {})
        # The documented link syntax: ``page_info`` and ``limit``; ``fields`` is the client's to re-send.
        if start > 0 and chosen:
            token = _encode_cursor({"k": key, "f": filters, "before": chosen[0]})
            links.append(f'<{base}?limit={limit}&page_info={token}>; rel="previous"')
        if end < len(seq) and chosen:
            token = _encode_cursor({"k": key, "f": filters, "after": chosen[-1]})
            links.append(f'<{base}?limit={limit}&page_info={token}>; rel="next"')
        return reply(entry, {key: items}, headers={"Link": ", ".join(links)} if links else None)

    def page_args(request: Request, key: str) -> tuple[dict[str, Any] | None, dict[str, Any], int, str | None,
                                                       Response | None]:
        """Validate ``limit``, ``fields`` and ``page_info`` the way Shopify does."""
        query = dict(request.query_params)
        try:
            limit = int(query.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return None, {}, 0, None, _error(400, {"limit": ["must be between 1 and 250"]})
        fields = query.get("fields")
        if "page_info" in query:
            extra = set(query) - {"page_info", "limit", "fields"}
            if extra:
                return None, {}, 0, None, _error(
                    400, {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}; only limit "
                                        f"and fields are allowed with page_info"]})
            cursor = _decode_cursor(query["page_info"])
            if not cursor or cursor.get("k") != key:
                return None, {}, 0, None, _error(400, {"page_info": ["Invalid value."]})
            return cursor, cursor.get("f", {}), limit, fields, None
        filters = {k: v for k, v in query.items() if k not in ("limit", "fields")}
        return {"f": filters}, filters, limit, fields, None

    @api.get("/products.json")
    def list_products(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        cursor, filters, limit, fields, bad = page_args(request, "products")
        if bad:
            entry["status"] = bad.status_code
            return bad
        since = _parse_ts(filters["updated_at_min"]) if filters.get("updated_at_min") else None
        with state.lock:
            seq = state.indices_updated_since(since)
            return paged(request, entry, "products", seq, lambda i: product_json(state.item(i)),
                         cursor, limit, fields)

    @api.get("/locations.json")
    def list_locations(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        return reply(entry, {"locations": [
            {"id": location, "name": "Warehouse" if n == 0 else f"Location {n + 1}", "active": True,
             "legacy": False, "country_code": "US"} for n, location in enumerate(state.location_ids())]})

    @api.get("/inventory_levels.json")
    def list_levels(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        cursor, filters, limit, fields, bad = page_args(request, "inventory_levels")
        if bad:
            entry["status"] = bad.status_code
            return bad
        item_ids = [x for x in str(filters.get("inventory_item_ids", "")).split(",") if x]
        location_ids = [x for x in str(filters.get("location_ids", "")).split(",") if x]
        if not item_ids and not location_ids:
            entry["status"] = 422
            return _error(422, {"base": ["inventory_item_ids or location_ids must be present"]})
        for name, ids in (("inventory_item_ids", item_ids), ("location_ids", location_ids)):
            if len(ids) > MAX_IDS_PER_LIST:
                entry["status"] = 422
                return _error(422, {name: [f"must have at most {MAX_IDS_PER_LIST} ids"]})
        since = _parse_ts(filters["updated_at_min"]) if filters.get("updated_at_min") else None
        wanted = {int(x) - ITEM_ID_BASE for x in item_ids if x.isdigit()} if item_ids else None
        with state.lock:
            if location_ids and str(state.location_id) not in location_ids:
                seq: Sequence[int] = []
            else:
                seq = state.indices_updated_since(since)
                if wanted is not None:
                    seq = sorted(i for i in wanted if 0 <= i < state.total and (since is None or i in seq))
            elsewhere = state.extra_level_keys(set(location_ids), wanted, since)
            if elsewhere:
                seq = [*seq, *elsewhere]
            return paged(request, entry, "inventory_levels", seq, lambda key: level_for_key(state, key),
                         cursor, limit, fields)

    @api.get("/orders.json")
    def list_orders(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        cursor, filters, limit, fields, bad = page_args(request, "orders")
        if bad:
            entry["status"] = bad.status_code
            return bad
        since = _parse_ts(filters["updated_at_min"]) if filters.get("updated_at_min") else None
        status = filters.get("status", "open")
        with state.lock:
            seq = [n for n, o in enumerate(state.orders)
                   if (since is None or _parse_ts(o["updated_at"]) >= since)
                   and (status == "any" or (status == "open" and not o["cancelled_at"]))]
            return paged(request, entry, "orders", seq, lambda n: state.orders[n], cursor, limit, fields)

    @api.post("/inventory_levels/set.json")
    def set_level(request: Request, instance: str, version: str, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        if not isinstance(payload, dict) or "available" not in payload or "inventory_item_id" not in payload:
            return reply(entry, {"errors": {"inventory_item_id": ["Required parameter missing or invalid"]}}, 400)
        if int(payload.get("location_id") or 0) != state.location_id:
            return reply(entry, {"errors": ["Inventory item does not have inventory tracking enabled at "
                                            "the location"]}, 422)
        with state.lock:
            item = state.item(int(payload["inventory_item_id"]) - ITEM_ID_BASE)
            if item is None:
                return reply(entry, {"errors": "Not Found"}, 404)
            item = replace(item, available=int(payload["available"]), updated_at=state.now())
            state.store(item)
            level = level_json(state, item)
        deliver(state, "inventory_levels/update", level, version)
        return reply(entry, {"inventory_level": level})

    @api.put("/variants/{variant_id}.json")
    def update_variant(request: Request, instance: str, version: str, variant_id: int,
                       payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        variant = (payload or {}).get("variant") if isinstance(payload, dict) else None
        if not isinstance(variant, dict):
            return reply(entry, {"errors": {"variant": "Required parameter missing or invalid"}}, 400)
        policy = variant.get("inventory_policy")
        if policy is not None and policy not in ("deny", "continue"):
            return reply(entry, {"errors": {"inventory_policy": ["is not included in the list"]}}, 422)
        with state.lock:
            item = state.item(variant_id - VARIANT_ID_BASE)
            if item is None:
                return reply(entry, {"errors": "Not Found"}, 404)
            item = replace(item, policy=policy or item.policy, sku=variant.get("sku", item.sku),
                           updated_at=state.now())
            state.store(item)
            product = product_json(item)
        deliver(state, "products/update", product, version)
        return reply(entry, {"variant": variant_json(item)})

    # --- orders' money: transactions, refunds, gift cards ------------------------------------

    def order_or_404(state: ShopState, entry: dict, order_id: int) -> tuple[dict[str, Any] | None, Response | None]:
        order = find_order(state, order_id)
        return (order, None) if order is not None else (None, reply(entry, {"errors": "Not Found"}, 404))

    @api.get("/orders/{order_id}.json")
    def get_order(request: Request, instance: str, version: str, order_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            order, missing = order_or_404(state, entry, order_id)
            body = {"order": _only_fields(order, request.query_params.get("fields"))} if order else None
        return missing or reply(entry, body)

    @api.get("/orders/{order_id}/transactions.json")
    def list_transactions(request: Request, instance: str, version: str, order_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            order, missing = order_or_404(state, entry, order_id)
            body = {"transactions": list(state.transactions.get(order_id, []))} if order else None
        return missing or reply(entry, body)

    @api.get("/orders/{order_id}/refunds.json")
    def list_refunds(request: Request, instance: str, version: str, order_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            order, missing = order_or_404(state, entry, order_id)
            body = {"refunds": list(order["refunds"])} if order else None
        return missing or reply(entry, body)

    @api.post("/orders/{order_id}/refunds/calculate.json")
    def calculate(request: Request, instance: str, version: str, order_id: int, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        spec = payload.get("refund") if isinstance(payload, dict) else None
        if not isinstance(spec, dict):
            return reply(entry, {"errors": {"refund": "Required parameter missing or invalid"}}, 400)
        with state.lock:
            order, missing = order_or_404(state, entry, order_id)
            if missing:
                return missing
            lines, errors = refund_lines(state, order, spec.get("refund_line_items"))
            body = {"errors": errors} if errors else {"refund": calculate_refund(state, order, lines)}
        return reply(entry, body, 422 if errors else 200)

    @api.post("/orders/{order_id}/refunds.json")
    def create_refund(request: Request, instance: str, version: str, order_id: int,
                      payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        spec = payload.get("refund") if isinstance(payload, dict) else None
        if not isinstance(spec, dict):
            return reply(entry, {"errors": {"refund": "Required parameter missing or invalid"}}, 400)
        with state.lock:
            order = find_order(state, order_id)
            if order is None:
                errors: Any = "Not Found"
            else:
                lines, errors = refund_lines(state, order, spec.get("refund_line_items"))
                transactions: list[dict[str, Any]] = []
                if not errors:
                    transactions, errors = refund_transactions(state, order, spec.get("transactions"))
            if not errors:
                refund, restocked = record_refund(state, order, spec, lines, transactions)
                levels = [level_json(state, item) for item in restocked]
        if errors:
            return reply(entry, {"errors": errors}, 404 if order is None else 422)
        deliver(state, "refunds/create", refund, version)
        for level in levels:
            deliver(state, "inventory_levels/update", level, version)
        return reply(entry, {"refund": refund}, 201)

    @api.post("/gift_cards.json")
    def create_gift_card_route(request: Request, instance: str, version: str, payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        with state.lock:
            status, body = create_gift_card(state, payload.get("gift_card") if isinstance(payload, dict) else None)
        return reply(entry, body, status)

    @api.get("/gift_cards/search.json")
    def search_gift_cards_route(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            found = search_gift_cards(state, request.query_params.get("query", ""))
        return reply(entry, {"gift_cards": found})

    @api.get("/gift_cards.json")
    def list_gift_cards(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        status = request.query_params.get("status")
        with state.lock:
            cards = [gift_card_json(c) for c in state.gift_cards
                     if status is None or (status == "enabled") == (c["disabled_at"] is None)]
        return reply(entry, {"gift_cards": cards})

    @api.get("/gift_cards/{gift_card_id}.json")
    def get_gift_card(request: Request, instance: str, version: str, gift_card_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            card = next((gift_card_json(c) for c in state.gift_cards if c["id"] == gift_card_id), None)
        return reply(entry, {"gift_card": card}) if card else reply(entry, {"errors": "Not Found"}, 404)

    # --- admin ------------------------------------------------------------------------------

    @admin.post("/seed")
    def seed(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        with state.lock:
            if payload.get("reset", True):
                state.total, state.batches, state.overrides, state.sku_index = 0, [], {}, {}
                state.orders, state.transactions, state.gift_cards = [], {}, []
                state.extra_levels = {}  # the added locations stay; what they stocked went with the catalog
            now = state.now()
            created = []
            count = int(payload.get("count", 0))
            if count:
                state.batches.append(Batch(state.total, state.total + count, payload.get("sku_prefix", "SKU-"),
                                           int(payload.get("available", 10)),
                                           payload.get("inventory_policy", "deny"), now))
                state.total += count
            for spec in payload.get("items", []):
                index = state.total
                state.batches.append(Batch(index, index + 1, "\0", 0, "deny", now))
                state.total += 1
                item = Item(index, spec["sku"], spec.get("title", spec["sku"]),
                            spec.get("available", 0) if spec.get("tracked", True) else None,
                            spec.get("inventory_policy", "deny"), now)
                state.store(item)
                created.append(admin_item(state, item))
            return {"total": state.total, "items": created}

    @admin.post("/config")
    def config(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        with state.lock:
            state.token = payload.get("access_token", state.token)
            state.bucket_size = float(payload.get("bucket_size", state.bucket_size))
            state.leak_rate = float(payload.get("leak_rate", state.leak_rate))
            if "bucket_level" in payload:
                state.bucket_level, state.bucket_at = float(payload["bucket_level"]), time.monotonic()
            state.location_id = int(payload.get("location_id", state.location_id))
            return {"access_token": state.token, "bucket_size": state.bucket_size, "leak_rate": state.leak_rate,
                    "location_id": str(state.location_id)}

    @admin.post("/clock")
    def clock(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        state.clock_offset += timedelta(seconds=float(payload.get("advance_s", 0)))
        return {"now": _ts(state.now())}

    @admin.post("/locations")
    def add_locations(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Add ``count`` active locations beside the main one (a shop with many stores or warehouses)."""
        state = sandbox.get(instance)
        with state.lock:
            for _ in range(int(payload.get("count", 1))):
                state.extra_locations.append(max(state.location_ids()) + 1)
            return {"location_ids": [str(location) for location in state.location_ids()]}

    @admin.post("/set_stock")
    def set_stock(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        state = sandbox.get(instance)
        if int(payload.get("location_id") or state.location_id) != state.location_id:
            return set_stock_elsewhere(state, payload)
        with state.lock:
            index = state.index_for_sku(str(payload.get("sku")))
            if index is None:
                return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
            old = state.item(index)
            item = replace(old, available=int(payload["available"]) if "available" in payload else old.available,
                           policy=payload.get("inventory_policy", old.policy), updated_at=state.now())
            state.store(item)
        hooks = deliver(state, "inventory_levels/update", level_json(state, item))
        if item.policy != old.policy:
            hooks += deliver(state, "products/update", product_json(item))
        return JSONResponse({"item": admin_item(state, item), "webhooks": hooks})

    def set_stock_elsewhere(state: ShopState, payload: dict[str, Any]) -> JSONResponse:
        """``set_stock`` at an added location: stocks the item there and emits its level's webhook."""
        location = int(payload["location_id"])
        with state.lock:
            index = state.index_for_sku(str(payload.get("sku")))
            if index is None or location not in state.extra_locations:
                missing = f"sku {payload.get('sku')}" if index is None else f"location {location}"
                return JSONResponse({"error": f"unknown {missing}"}, status_code=404)
            item = state.item(index)
            levels = state.extra_levels.setdefault(location, {})
            available = int(payload["available"]) if "available" in payload else levels.get(index, (0, None))[0]
            now = state.now()
            levels[index] = (available, now)
            level = stocked_level_json(location, item, available, now)
        hooks = deliver(state, "inventory_levels/update", level)
        return JSONResponse({"item": {**admin_item(state, item), "location_id": str(location), "available": available},
                             "webhooks": hooks})

    @admin.post("/create_order")
    def create_order(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        """Creates an order, decrements tracked stock like checkout does, emits the webhooks."""
        state = sandbox.get(instance)
        levels = []
        with state.lock:
            number = len(state.orders)
            now = state.now()
            lines = []
            for n, spec in enumerate(payload.get("lines", [])):
                index = state.index_for_sku(str(spec["sku"]))
                if index is None:
                    return JSONResponse({"error": f"unknown sku {spec['sku']}"}, status_code=404)
                item = state.item(index)
                quantity = int(spec.get("quantity", 1))
                if item.available is not None:
                    item = replace(item, available=item.available - quantity, updated_at=now)
                    state.store(item)
                    levels.append(level_json(state, item))
                lines.append({"id": LINE_ID_BASE + number * 100 + n, "variant_id": item.variant_id,
                              "product_id": item.product_id, "sku": item.sku, "title": item.title,
                              "quantity": quantity, "price": str(spec.get("price", "10.00"))})
            customer = payload.get("customer", {"first_name": "Ada", "last_name": "Lovelace"})
            total = sum(to_cents(line["price"]) * line["quantity"] for line in lines) / 100
            gateway = str(payload.get("gateway", "manual"))
            order = {
                "id": ORDER_ID_BASE + number, "name": f"#{1001 + number}", "order_number": 1001 + number,
                "email": payload.get("email", "ada@example.com"), "phone": payload.get("phone"),
                "created_at": _ts(now), "updated_at": _ts(now), "cancelled_at": None, "closed_at": None,
                "currency": payload.get("currency", "USD"), "total_price": f"{total:.2f}",
                "financial_status": "paid", "fulfillment_status": None, "payment_gateway_names": [gateway],
                "refunds": [],
                "customer": {"id": ORDER_ID_BASE + 500_000 + number, "email": payload.get("email", "ada@example.com"),
                             "phone": payload.get("phone"), **customer},
                "line_items": lines, "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID_BASE + number}",
            }
            state.orders.append(order)
            sale = sale_transaction(state, order, gateway, now)
        hooks = deliver(state, "orders/create", order)
        for level in levels:
            hooks += deliver(state, "inventory_levels/update", level)
        return JSONResponse({"order": {**order, "id": str(order["id"]), "transactions": [sale]}, "webhooks": hooks})

    @admin.post("/webhooks")
    def add_webhook(instance: str, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        state = sandbox.get(instance)
        hook = {"id": len(state.webhooks) + 1, "address": payload["address"], "secret": payload["secret"],
                "topics": list(payload.get("topics") or [payload.get("topic")])}
        state.webhooks.append(hook)
        return {"webhook": hook}

    @admin.get("/webhooks")
    def list_webhooks(instance: str) -> dict[str, Any]:
        state = sandbox.get(instance)
        return {"webhooks": state.webhooks, "deliveries": state.deliveries}

    @admin.post("/redeliver")
    def redeliver(instance: str, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """Send a past delivery again, byte for byte with the same ids, as Shopify's retries do."""
        state = sandbox.get(instance)
        original = state.deliveries[int(payload.get("index", -1))]
        times = int(payload.get("times", 1))
        statuses = [post_delivery(original["address"], original["body"].encode(), original["headers"])
                    for _ in range(times)]
        return {"statuses": statuses, "event_id": original["event_id"]}

    @admin.get("/state/items")
    def state_items(instance: str, skus: str | None = None, offset: int = 0, limit: int = 100) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            if skus:
                found = [state.index_for_sku(s) for s in skus.split(",")]
                items = [state.item(i) for i in found if i is not None]
            else:
                items = [state.item(i) for i in range(offset, min(state.total, offset + limit))]
            return JSONResponse({"total": state.total, "items": [admin_item(state, it) for it in items]})

    @admin.get("/state/orders/{order_id}")
    def state_order(instance: str, order_id: int) -> JSONResponse:
        """An order with its refunds and transactions, ids as strings, for tests to assert on."""
        state = sandbox.get(instance)
        with state.lock:
            order = find_order(state, order_id)
            if order is None:
                return JSONResponse({"error": f"unknown order {order_id}"}, status_code=404)
            view = {**order, "id": str(order["id"]), "transactions": state.transactions.get(order_id, [])}
            return JSONResponse(json.loads(json.dumps(view, default=str)))

    @admin.get("/state/gift_cards")
    def state_gift_cards(instance: str) -> JSONResponse:
        """Every gift card with its full code (the API never shows it again after creation)."""
        state = sandbox.get(instance)
        with state.lock:
            return JSONResponse({"gift_cards": [{**c, "id": str(c["id"])} for c in state.gift_cards]})

    install_draft_orders(api, admin, sandbox, guard, reply)
    add_fault_routes(admin, sandbox, any_fault)
    add_request_log_routes(admin, sandbox)
    app.include_router(api)
    app.include_router(admin)


def admin_item(state: ShopState, item: Item) -> dict[str, Any]:
    """Admin view of an item: ids as strings so any client can compare them exactly."""
    return {"sku": item.sku, "available": item.available, "inventory_policy": item.policy,
            "product_id": str(item.product_id), "variant_id": str(item.variant_id),
            "inventory_item_id": str(item.inventory_item_id), "location_id": str(state.location_id),
            "updated_at": _ts(item.updated_at)}


# --- draft orders -------------------------------------------------------------------------------

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
        "created_at": _ts(now), "updated_at": _ts(now), "completed_at": None, "invoice_sent_at": None,
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
        "email": draft.get("email"), "phone": (earlier or {}).get("phone"), "created_at": _ts(now),
        "updated_at": _ts(now), "cancelled_at": None, "closed_at": None, "currency": draft["currency"],
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
    draft.update(status="completed", order_id=order["id"], completed_at=_ts(now), updated_at=_ts(now))
    return order, levels


def install_draft_orders(api: APIRouter, admin: APIRouter, sandbox: Instances, guard: Any,
                         reply: Any) -> None:
    """``draft_orders.json`` (create, list, read) and ``complete.json``, plus an admin price setter."""

    def find(state: ShopState, draft_id: int) -> dict[str, Any] | None:
        index = draft_id - DRAFT_ORDER_ID_BASE
        return state.draft_orders[index] if 0 <= index < len(state.draft_orders) else None

    @api.post("/draft_orders.json")
    def create_draft_order(request: Request, instance: str, version: str,
                           payload: Any = Body(None)) -> Response:
        state, entry, denied = guard(request, instance, payload)
        if denied:
            return denied
        spec = payload.get("draft_order") if isinstance(payload, dict) else None
        with state.lock:
            status, errors = draft_order_errors(state, spec)
            if errors is None:
                draft = build_draft_order(state, spec)
                state.draft_orders.append(draft)
        if errors is not None:
            return reply(entry, {"errors": errors}, status)
        return reply(entry, {"draft_order": draft}, 201)

    @api.get("/draft_orders.json")
    def list_draft_orders(request: Request, instance: str, version: str) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        query = request.query_params
        status = query.get("status", "open")
        if status not in DRAFT_STATUSES:
            return reply(entry, {"errors": {"status": ["is not included in the list"]}}, 422)
        try:
            limit = int(query.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return reply(entry, {"errors": {"limit": ["must be between 1 and 250"]}}, 400)
        since = _parse_ts(query["updated_at_min"]) if query.get("updated_at_min") else None
        with state.lock:
            drafts = [d for d in state.draft_orders if d["status"] == status
                      and (since is None or _parse_ts(d["updated_at"]) >= since)][:limit]
        return reply(entry, {"draft_orders": drafts})

    @api.get("/draft_orders/{draft_id}.json")
    def get_draft_order(request: Request, instance: str, version: str, draft_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        with state.lock:
            draft = find(state, draft_id)
        return reply(entry, {"draft_order": draft}) if draft else reply(entry, {"errors": "Not Found"}, 404)

    @api.put("/draft_orders/{draft_id}/complete.json")
    def complete(request: Request, instance: str, version: str, draft_id: int) -> Response:
        state, entry, denied = guard(request, instance)
        if denied:
            return denied
        pending = request.query_params.get("payment_pending", "false").lower() == "true"
        with state.lock:
            draft = find(state, draft_id)
            if draft is None:
                return reply(entry, {"errors": "Not Found"}, 404)
            if draft["status"] == "completed":
                return reply(entry, {"errors": {"base": ["This order has been paid"]}}, 422)
            order, levels = complete_draft_order(state, draft, pending)
            body = {"draft_order": dict(draft)}
        deliver(state, "orders/create", order, version)
        for level in levels:
            deliver(state, "inventory_levels/update", level, version)
        return reply(entry, body)

    @admin.post("/set_price")
    def set_price(instance: str, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """The shop's price for a SKU (draft order lines use it; 10.00 otherwise)."""
        state = sandbox.get(instance)
        with state.lock:
            state.prices[str(payload["sku"])] = to_money(to_cents(payload["price"]))
            return {"sku": payload["sku"], "price": state.prices[str(payload["sku"])]}

    @admin.get("/state/draft_orders")
    def state_draft_orders(instance: str) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            return JSONResponse(json.loads(json.dumps({"draft_orders": state.draft_orders}, default=str)))
