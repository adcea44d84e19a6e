"""The Shopify stand-in's declarations: ids, the shop's state, JSON renderings, webhooks, the kit.

Ids are integers above 2**53 (a client that parses them as doubles loses digits); times are in
the shop's zone with an offset, second precision, as the resources show them
(https://shopify.dev/docs/api/admin-rest/latest/resources/product-variant). Webhooks carry
``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256``, ``X-Shopify-Webhook-Id`` and
``X-Shopify-Event-Id`` (https://shopify.dev/docs/apps/build/webhooks/delivery-structure).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import (Batch, Bucket, CatalogState, Endpoints, Fixtures, HeaderToken, Json, KitState, LazyCatalog,
                         LeakyBucket, LinkCursor, Locations, Refusals, Signed, StandIn, errors,
                         errors_invalid as invalid_params, errors_schema as schema, instant as parse_ts, post,
                         since, subscribe, to_cents, to_money)

PRODUCT_ID_BASE = 2**53 + 1_000_000
VARIANT_ID_BASE = 2**53 + 2_000_000_000
ITEM_ID_BASE = 2**53 + 4_000_000_000
ORDER_ID_BASE = 2**53 + 6_000_000_000
LINE_ID_BASE = 2**53 + 7_000_000_000
CUSTOMER_ID_BASE = ORDER_ID_BASE + 500_000
ITEM_IDS = {"product_id": PRODUCT_ID_BASE, "variant_id": VARIANT_ID_BASE, "inventory_item_id": ITEM_ID_BASE}
DEFAULT_LOCATION_ID = 655441491
DEFAULT_TOKEN = "shpat_sandbox"
DEFAULT_CLIENT_SECRET = "shpss_sandbox"
SHOP_TZ = timezone(timedelta(hours=-5))
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
MISSING_PARAM = "Required parameter missing or invalid"
TRANSACTION_ID_BASE = 2**53 + 8_000_000_000
#: What a sale and a refund's transaction say of themselves (the rest is ``fixtures/transaction.json``).
SALE = {"kind": "sale", "message": "Marked the manual payment as received", "source_name": "web"}
REFUND = {"kind": "refund", "message": "Refunded", "source_name": "external"}


def ts(value: datetime) -> str:
    """Shopify renders times in the shop's zone with an offset, second precision."""
    return value.astimezone(SHOP_TZ).replace(microsecond=0).isoformat()


#: The resources' JSON as the reference pages show it (``fixtures/*.json``).
fixtures = Fixtures(Path(__file__).parent / "fixtures", {"time": ts, "text": str})


def new_item(index: int, sku: str, title: str, available: int | None, policy: str, updated_at: datetime) -> Json:
    """The item at ``index``: one product with one variant and its inventory item at the instance's
    location; ``product_id``, ``variant_id`` and ``inventory_item_id`` are their bases plus ``index``."""
    return {"index": index, "sku": sku, "title": title, "available": available, "policy": policy,
            "updated_at": updated_at, **{name: base + index for name, base in ITEM_IDS.items()}}


def generated_item(batch: Batch, index: int) -> Json:
    return new_item(index, f"{batch.prefix}{index:06d}", f"Generated item {index}", batch.defaults["available"],
                    batch.defaults["policy"], batch.created_at)


@dataclass
class ShopState(CatalogState, KitState):
    """Everything one ``{instance}`` knows; created on first use with defaults."""

    token: str = DEFAULT_TOKEN
    #: The app's API secret key, which signs the deliveries of subscriptions made through the API.
    client_secret: str = DEFAULT_CLIENT_SECRET
    location_id: int = DEFAULT_LOCATION_ID
    #: Locations added beside ``location_id`` (``_admin/locations``) and what they stock.
    locations: Locations = field(default_factory=Locations)
    bucket: Bucket = field(default_factory=Bucket)
    catalog: LazyCatalog[Json] = field(default_factory=lambda: LazyCatalog(
        generated_item, lambda i: i["sku"], key_of=lambda i: i["index"], stamp=lambda i: i["updated_at"]))
    transactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    gift_cards: list[dict[str, Any]] = field(default_factory=list)
    draft_orders: list[dict[str, Any]] = field(default_factory=list)
    prices: dict[str, str] = field(default_factory=dict)
    returns: list[dict[str, Any]] = field(default_factory=list)


#: Every refusal of the endpoints as Shopify words it, ``[status, errors]`` (the most specific key
#: answers; ``{field}`` is the refused field): 422 ``{"errors": {field: [message]}}`` for a record
#: that does not validate (https://shopify.dev/docs/api/admin-rest#status-and-error-codes).
REFUSALS = Refusals(fixtures.shape("refusals"), lambda refusal, entry: (
    entry[0], errors(fixtures.fill_node(entry[1], field=refusal.field, **refusal.details))))
kit: StandIn[ShopState] = StandIn(
    "shopify", "/admin/api/{version}", ShopState,
    auth=HeaderToken("X-Shopify-Access-Token", lambda: JSONResponse(errors(INVALID_TOKEN), status_code=401)),
    error_body=lambda status: errors("Internal Server Error"),
    limit=LeakyBucket("X-Shopify-Shop-Api-Call-Limit", "2.0", lambda: errors(THROTTLED)),
    clock_view=lambda now: {"now": ts(now)}, webhook_admin=True, redeliver=post,
    subscribe=lambda state, payload: {"webhook": subscribe(state, payload)},
    deliver=lambda call, events: webhooks.deliver_all(call.state, events, version=call.path_param("version")))
pages = LinkCursor(invalid_params)
#: ``updated_at_min`` as the orders and draft orders lists read it (inclusive).
updated_since = since("updated_at_min", lambda record: parse_ts(record["updated_at"]), lambda v, q: parse_ts(v))
#: Endpoints declared one a line (``api.one``, ``api.many``, ``api.write``), refused in Shopify's words.
api = Endpoints(kit, REFUSALS, invalid=invalid_params)
#: The delivery headers (``fixtures/webhook_headers.json``): topic, signature, shop, API version,
#: delivery and event ids, time triggered; deliveries no API request caused (admin changes) say 2025-01.
webhooks = Signed(fixtures.shape("webhook_headers"), {"webhook_id": "X-Shopify-Webhook-Id",
                  "event_id": "X-Shopify-Event-Id"}, lambda state, hook: {"version": "2025-01"})


# --- JSON renderings ----------------------------------------------------------------------------


def variant_json(item: Json) -> dict[str, Any]:
    return fixtures.fill("variant", item, management="shopify" if item["available"] is not None else None,
                         quantity=item["available"] or 0)


def product_json(item: Json) -> dict[str, Any]:
    return fixtures.fill("product", item, variant=variant_json(item))


def level_json(state: ShopState, item: Json, location_id: int | None = None, available: Any = None,
               updated_at: datetime | None = None) -> dict[str, Any]:
    """The item's level at the main location, or at ``location_id`` with its own figures."""
    return fixtures.fill("inventory_level", item, location_id=location_id or state.location_id,
                         available=item["available"] if location_id is None else available,
                         updated_at=updated_at or item["updated_at"])


def order_line(item: Json, quantity: int, price: str) -> dict[str, Any]:
    return fixtures.fill("order_line", item, quantity=quantity, price=price)


def admin_item(state: ShopState, item: Json) -> dict[str, Any]:
    """Admin view of an item: ids as strings so any client can compare them exactly."""
    return fixtures.fill("admin_item", item, location_id=state.location_id)


# --- what a sale does ---------------------------------------------------------------------------


def change_item(state: ShopState, item: Json, now: datetime, **changes: Any) -> Json:
    """Store ``item`` with ``changes`` and ``updated_at`` now."""
    state.store(item := {**item, **changes, "updated_at": now})
    return item


def take_stock(state: ShopState, item: Json | None, quantity: int, now: datetime) -> list[dict[str, Any]]:
    """A checkout takes ``quantity`` of a tracked item (a refund's restock a negative one): its new
    level at the main location, for the webhook (nothing when untracked or gone)."""
    return [] if item is None or item["available"] is None else [
        level_json(state, change_item(state, item, now, available=item["available"] - quantity))]


def transaction(state: ShopState, order: Json, kind: Json, gateway: str, cents: int, parent_id: int | None,
                now: datetime) -> Json:
    """One successful transaction of the order (``kind`` says what it is, ``fixtures/transaction.json`` the rest)."""
    return fixtures.fill("transaction", kind, id=TRANSACTION_ID_BASE + state.allocate(), order_id=order["id"],
                         gateway=gateway, now=now, currency=order["currency"], amount=to_money(cents),
                         parent_id=parent_id)


def place_order(state: ShopState, lines: list[Json], now: datetime, gateway: str | None, **fields: Any) -> Json:
    """The next order, numbered ``#1001`` on, with Shopify's defaults under ``fields``; stored with
    its transactions: the ``sale`` of its total through ``gateway`` when it was paid through one."""
    number = len(state.orders)
    order = {**fixtures.fill("order", id=ORDER_ID_BASE + number, number=1001 + number, now=now), **fields,
             "line_items": [{"id": LINE_ID_BASE + number * 100 + n, **line} for n, line in enumerate(lines)]}
    state.orders.append(order)
    state.transactions[order["id"]] = [] if gateway is None else [
        transaction(state, order, SALE, gateway, to_cents(order["total_price"]), None, now)]
    return order
