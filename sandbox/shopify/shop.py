"""The Shopify stand-in's declarations: ids, the shop's state, JSON renderings, webhooks, the kit.

Ids are integers above 2**53 (a client that parses them as doubles loses digits); times are in
the shop's zone with an offset, second precision, as the resources show them
(https://shopify.dev/docs/api/admin-rest/latest/resources/product-variant). Webhooks carry
``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256``, ``X-Shopify-Webhook-Id`` and
``X-Shopify-Event-Id`` (https://shopify.dev/docs/apps/build/webhooks/delivery-structure).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.auth import HeaderToken
from sandbox.kit.catalog import Batch, LazyCatalog
from sandbox.kit.limits import Bucket, LeakyBucket
from sandbox.kit.pages import LinkCursor
from sandbox.kit.webhooks import hmac_sha256_b64, post, send, subscribers

PRODUCT_ID_BASE = 2**53 + 1_000_000
VARIANT_ID_BASE = 2**53 + 2_000_000_000
ITEM_ID_BASE = 2**53 + 4_000_000_000
ORDER_ID_BASE = 2**53 + 6_000_000_000
LINE_ID_BASE = 2**53 + 7_000_000_000
DEFAULT_LOCATION_ID = 655441491
DEFAULT_TOKEN = "shpat_sandbox"
SHOP_TZ = timezone(timedelta(hours=-5))
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
#: Inventory levels at the added locations sort after the main location's: key = ordinal × stride + index.
LOCATION_STRIDE = 2**40


def ts(value: datetime) -> str:
    """Shopify renders times in the shop's zone with an offset, second precision."""
    return value.astimezone(SHOP_TZ).replace(microsecond=0).isoformat()


def parse_ts(value: str) -> datetime | None:
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


def generated_item(batch: Batch, index: int) -> Item:
    return Item(index, f"{batch.prefix}{index:06d}", f"Generated item {index}", batch.defaults["available"],
                batch.defaults["policy"], batch.created_at)


@dataclass
class ShopState(KitState):
    """Everything one ``{instance}`` knows; created on first use with defaults."""

    token: str = DEFAULT_TOKEN
    location_id: int = DEFAULT_LOCATION_ID
    #: Locations added beside ``location_id`` (``_admin/locations``), and the levels stocked there:
    #: location id → item index → (available, updated_at). An item has no level where none was set.
    extra_locations: list[int] = field(default_factory=list)
    extra_levels: dict[int, dict[int, tuple[int | None, datetime]]] = field(default_factory=dict)
    bucket: Bucket = field(default_factory=Bucket)
    catalog: LazyCatalog[Item] = field(default_factory=lambda: LazyCatalog(generated_item, lambda i: i.sku))
    orders: list[dict[str, Any]] = field(default_factory=list)
    transactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    gift_cards: list[dict[str, Any]] = field(default_factory=list)
    money_ids: int = 0
    draft_orders: list[dict[str, Any]] = field(default_factory=list)
    prices: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.catalog.batches[-1].stop if self.catalog.batches else 0

    def item(self, index: int) -> Item | None:
        return self.catalog.get(index)

    def index_for_sku(self, sku: str) -> int | None:
        return self.catalog.key_for_sku(sku)

    def store(self, item: Item) -> None:
        self.catalog.store(item.index, item)

    def indices_updated_since(self, since: datetime | None) -> Sequence[int]:
        """Sorted indices with ``updated_at >= since``; the full range when nothing filters."""
        if since is None:
            return range(self.total)
        picked = {i for i, it in self.catalog.stored.items() if it.updated_at >= since}
        return sorted(picked | self.catalog.generated_since(since))

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

    def find_order(self, order_id: int) -> dict[str, Any] | None:
        index = order_id - ORDER_ID_BASE
        return self.orders[index] if 0 <= index < len(self.orders) else None


def errors(content: Any) -> dict[str, Any]:
    return {"errors": content}


def invalid_params(details: dict[str, str]) -> dict[str, Any]:
    return errors({name: [detail] for name, detail in details.items()})


kit: StandIn[ShopState] = StandIn(
    "shopify", "/admin/api/{version}", ShopState,
    auth=HeaderToken("X-Shopify-Access-Token", lambda: JSONResponse(errors(INVALID_TOKEN), status_code=401)),
    error_body=lambda status: errors("Internal Server Error"),
    limit=LeakyBucket("X-Shopify-Shop-Api-Call-Limit", "2.0", lambda: errors(THROTTLED)),
    clock_view=lambda now: {"now": ts(now)}, webhook_admin=True, redeliver=post)
pages = LinkCursor(invalid_params)


def not_found(call: Call[ShopState]) -> Exception:
    return call.refuse(errors("Not Found"), 404)


# --- JSON renderings ----------------------------------------------------------------------------


def variant_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.variant_id, "product_id": item.product_id, "title": "Default Title", "sku": item.sku,
        "price": "10.00", "position": 1, "inventory_policy": item.policy, "inventory_management":
        "shopify" if item.available is not None else None, "inventory_item_id": item.inventory_item_id,
        "inventory_quantity": item.available or 0, "updated_at": ts(item.updated_at),
        "admin_graphql_api_id": f"gid://shopify/ProductVariant/{item.variant_id}",
    }


def product_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.product_id, "title": item.title, "handle": f"item-{item.index}", "status": "active",
        "updated_at": ts(item.updated_at), "variants": [variant_json(item)],
        "admin_graphql_api_id": f"gid://shopify/Product/{item.product_id}",
    }


def stocked_level_json(location_id: int, item: Item, available: int | None, updated_at: datetime) -> dict[str, Any]:
    return {
        "inventory_item_id": item.inventory_item_id, "location_id": location_id, "available": available,
        "updated_at": ts(updated_at),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item.inventory_item_id}",
    }


def level_json(state: ShopState, item: Item) -> dict[str, Any]:
    """The item's level at the main location."""
    return stocked_level_json(state.location_id, item, item.available, item.updated_at)


def level_for_key(state: ShopState, key: int) -> dict[str, Any]:
    """The level behind a sort key of ``inventory_levels.json`` (see ``LOCATION_STRIDE``)."""
    ordinal, index = divmod(key, LOCATION_STRIDE)
    item = state.item(index)
    if ordinal == 0:
        return level_json(state, item)
    location = state.extra_locations[ordinal - 1]
    available, updated_at = state.extra_levels[location][index]
    return stocked_level_json(location, item, available, updated_at)


def admin_item(state: ShopState, item: Item) -> dict[str, Any]:
    """Admin view of an item: ids as strings so any client can compare them exactly."""
    return {"sku": item.sku, "available": item.available, "inventory_policy": item.policy,
            "product_id": str(item.product_id), "variant_id": str(item.variant_id),
            "inventory_item_id": str(item.inventory_item_id), "location_id": str(state.location_id),
            "updated_at": ts(item.updated_at)}


def as_json(value: Any) -> JSONResponse:
    """Admin views of stored records (which may hold datetimes) as plain JSON."""
    return JSONResponse(json.loads(json.dumps(value, default=str)))


def deliver(state: ShopState, topic: str, payload: dict[str, Any], api_version: str = "2025-01") -> list[dict]:
    """POST the topic's payload to every subscribed address, signed as Shopify signs it."""
    body = json.dumps(payload).encode()
    results = []
    for hook in subscribers(state, topic):
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": hmac_sha256_b64(hook["secret"], body),
            "X-Shopify-Shop-Domain": f"{state.name}.myshopify.com", "X-Shopify-API-Version": api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": state.now().isoformat().replace("+00:00", "Z"),
        }
        results.append(send(state, hook, topic, body, headers, webhook_id=headers["X-Shopify-Webhook-Id"],
                            event_id=headers["X-Shopify-Event-Id"]))
    return results


def deliver_all(state: ShopState, call: Call[ShopState] | None, events: list[tuple[str, dict[str, Any]]]
                ) -> list[dict]:
    """Deliver each (topic, payload) in order, under the API version of ``call`` when there is one."""
    version = call.path_param("version") if call is not None else "2025-01"
    return [record for topic, payload in events for record in deliver(state, topic, payload, version)]
