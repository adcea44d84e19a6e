"""The BigCommerce stand-in's declarations: the store's state, its JSON, its webhooks, the kit.

Stock lives per item × location (an item is a variant of a product tracked by variant, else the
product itself), as the Inventory API keeps it; the catalog shows the default location's figure
(location 1: "The Catalog API returns the inventory for only the default location",
https://developer.bigcommerce.com/docs/rest-catalog/products ). Any change of a level or of the
product stamps its ``date_modified`` with the store's clock (the docs do not say whether a stock
change moves it; this stand-in assumes it does).

Webhooks (https://developer.bigcommerce.com/docs/integrations/webhooks): a JSON POST of
``{created_at, store_id, producer, scope, data, hash}`` carrying ids only, sent with the
subscription's custom ``headers`` and nothing signed; ``hash`` is the SHA-1 of the payload, so a
redelivery repeats it. Inventory changes made in the control panel or by the API are
``…/inventory/updated`` (``method: absolute``), those made by an order ``…/inventory/order/updated``
(``relative``); ``store/product/…`` for a product tracked by product, ``store/sku/…`` by variant.
Resource JSON is in ``fixtures/`` (shapes from the references; ``unauthorized.json`` is the 401 of
the Webhooks reference, https://developer.bigcommerce.com/docs/webhooks/webhooks ).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import KitState, StandIn
from sandbox.kit.auth import HeaderToken
from sandbox.kit.errors import problem
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.limits import Window, WindowLimit, quota_headers
from sandbox.kit.pages import MetaPages
from sandbox.kit.webhooks import echoing, post, subscribe

DEFAULT_TOKEN = "bc_sandbox_token"
Item = tuple[str, int]  # ("product", id) or ("variant", id)
Record = dict[str, Any]
fixtures = Fixtures(__file__, {"iso": datetime.isoformat, "rfc": format_datetime,
                               "epoch": lambda when: int(when.timestamp())})


@dataclass
class StoreState(KitState):
    """One store (``{instance}`` stands for its store hash)."""

    token: str = DEFAULT_TOKEN
    quota: Window = field(default_factory=lambda: Window(limit=10_000, seconds=30.0))
    next_id: int = 100
    products: dict[int, Record] = field(default_factory=dict)
    locations: list[int] = field(default_factory=lambda: [1])
    levels: dict[Item, dict[int, int]] = field(default_factory=dict)
    refunds: dict[int, list[Record]] = field(default_factory=dict)
    orders: dict[int, Record] = field(default_factory=dict)

    def allocate(self) -> int:
        self.next_id += 1
        return self.next_id

    def items(self) -> list[tuple[Record, Record, Item]]:
        """Every inventory item as (product, variant, item); an untracked product holds none."""
        return [(p, v, self.item_of(p, v)) for p in self.products.values() if p["inventory_tracking"] != "none"
                for v in (p["variants"] if p["inventory_tracking"] == "variant" else p["variants"][:1])]

    def item_of(self, product: Record, variant: Record) -> Item:
        return ("variant", variant["id"]) if product["inventory_tracking"] == "variant" else ("product", product["id"])

    def by_sku(self, sku: str) -> tuple[Record, Record] | None:
        return next(((p, v) for p in self.products.values() for v in p["variants"] if v["sku"] == sku), None)

    def level(self, item: Item, location: int = 1) -> int:
        return self.levels.get(item, {}).get(location, 0)

    def set_level(self, product: Record, item: Item, location: int, quantity: int) -> None:
        self.levels.setdefault(item, {})[location] = quantity
        product["date_modified"] = self.now()


def product_json(state: StoreState, product: Record, variants: bool = True) -> Record:
    """The v3 catalog product; its ``inventory_level`` is the default location's."""
    body = fixtures.fill("product", product, inventory_level=state.level(("product", product["id"])))
    return {**body, "variants": [fixtures.fill("variant", v, product_id=product["id"], inventory_level=state.level(
        ("variant", v["id"]))) for v in product["variants"]]} if variants else body


def deliver(state: StoreState, scope: str, data: Record) -> list[Record]:
    """POST the thin payload, its ``hash`` the SHA-1 of the rest, with each hook's own headers."""
    payload = fixtures.fill("webhook", now=state.now(), store=state.name, scope=scope, data=data)
    payload["hash"] = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return echoing(state, scope, json.dumps(payload).encode(), event_id=payload["hash"])


def inventory_event(product: Record, item: Item, value: int, by_order: bool = False) -> tuple[str, Record]:
    """``store/product|sku/inventory[/order]/updated`` for one item's change: (scope, data)."""
    data = {"type": "product", "id": product["id"], "inventory": {
        "product_id": product["id"], "method": "relative" if by_order else "absolute", "value": value}}
    if item[0] == "variant":
        data.update(type="sku", id=next(v["sku_id"] for v in product["variants"] if v["id"] == item[1]))
        data["inventory"]["variant_id"] = item[1]
    return f"store/{data['type']}/inventory/{'order/updated' if by_order else 'updated'}", data


def deliver_all(state: StoreState, events: list[tuple[str, Record]]) -> list[Record]:
    return [record for scope, data in events for record in deliver(state, scope, data)]


kit: StandIn[StoreState] = StandIn(
    "bigcommerce", "", StoreState, auth=HeaderToken("X-Auth-Token", lambda: JSONResponse(fixtures("unauthorized"), 401)),
    error_body=lambda status: problem(status, "Internal Server Error"),
    limit=WindowLimit(lambda: problem(429, "Too many requests"), quota_headers, None, "quota"),
    clock_view=lambda now: {"now": now.isoformat()}, webhook_admin=True, redeliver=post,
    subscribe=lambda state, body: {"webhook": subscribe(state, {"secret": None, **body}, headers=body.get("headers"))})
pages = MetaPages(lambda details: problem(422, "Invalid query parameters", details))
