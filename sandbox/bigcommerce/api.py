"""BigCommerce's catalog, inventory, order and webhook endpoints, with the refusals the references show.

* Catalog: ``GET /v3/catalog/products`` (``include=variants``, ``date_modified:min`` inclusive,
  ``id:in``, ``page``/``limit`` ≤ 250) and ``PUT /v3/catalog/products/{id}`` (``availability`` one
  of available | disabled | preorder, ``availability_description`` ≤ 255 characters):
  https://developer.bigcommerce.com/docs/rest-catalog/products
* Inventory: ``GET /v3/inventory/items`` (``product_id:in``, ``variant_id:in``, ``sku:in``,
  ``location_id:in``), ``GET /v3/inventory/locations``, ``PUT /v3/inventory/adjustments/absolute``
  and ``POST …/relative`` (1 to 2000 items, all checked before any applies; the two 422s the
  reference shows: "[Item with variant_id 106 is tracked by product, please update stock by
  product id]" and "Items with identity: [product_id 113] requires absolute adjustment before
  relative"): https://developer.bigcommerce.com/docs/rest-management/inventory
* Orders v2: ``GET /v2/orders`` (a bare array; ``min_date_modified`` RFC 2822 or ISO 8601,
  ``sort`` ``id`` | ``date_modified`` with ``:asc`` / ``:desc``, ``page``, ``limit`` ≤ 250; 204
  without a body past the end), ``GET /v2/orders/{id}`` and ``/products``; v2 errors are
  ``[{"status", "message"}]``: https://developer.bigcommerce.com/docs/rest-management/orders
* Webhooks: ``/v3/hooks`` (list, create answered 200 under ``data``, read, update, delete; "only
  one webhook is allowed per unique combination of … scope + destination"):
  https://developer.bigcommerce.com/docs/webhooks/webhooks
"""
from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.errors import problem, problem_schema
from sandbox.kit.pages import ArrayPages
from sandbox.kit.resources import Collection, ids, moment, since
from sandbox.kit.subscriptions import Subscriptions, web_url
from sandbox.kit.validation import MISSING, Rule, one_of
from sandbox.bigcommerce.store import StoreState, deliver, fixtures, inventory_event, kit, pages, product_json

INVALID = "JSON data is missing or invalid"
V2_INVALID = [{"status": 400, "message": "The request contains an invalid parameter."}]
V2_GONE = [{"status": 404, "message": "The requested resource was not found."}]
products = Collection("products", pages, lambda call: sorted(call.state.products), lambda s, pid: s.products.get(pid),
                      filters=(since("date_modified:min", lambda p: p["date_modified"], moment, status=422,
                                     detail="must be a date"), ids("id:in")))
PRODUCT = problem_schema(
    Rule("availability", one_of(("available", "disabled", "preorder")), "The field 'availability' is invalid."),
    Rule("availability_description", lambda v, h, s: v is MISSING or (isinstance(v, str) and len(v) <= 255),
         "The field 'availability_description' must be at most 255 characters."))


@kit.api.get("/v3/catalog/products")
def list_products(call: Call[StoreState] = kit.call) -> Response:
    with call.state.lock:
        keys, _ = products.select(call, call.query)
        return pages.answer(call, keys, lambda pid: product_json(call.state, call.state.products[pid],
                                                                 "variants" in call.query.get("include", "")))


@kit.api.put("/v3/catalog/products/{product_id}")
def update_product(product_id: int, call: Call[StoreState] = kit.call) -> Response:
    PRODUCT.enforce(call, call.body)
    with call.state.lock:
        product = products.find(call, product_id)
        product.update({k: call.body[k] for k in ("availability", "availability_description") if k in call.body})
        product["date_modified"] = call.state.now()
        return call.reply({"data": product_json(call.state, product), "meta": {}})


@kit.api.get("/v3/inventory/items")
def list_items(call: Call[StoreState] = kit.call) -> Response:
    state, wanted = call.state, {name: set(value.split(",")) for name, value in call.query.items() if name.endswith(":in")}

    def passes(name: str, value: Any) -> bool:
        return name not in wanted or str(value) in wanted[name]
    with state.lock:
        rows = [(p, v, item) for p, v, item in state.items() if passes("product_id:in", p["id"])
                and passes("variant_id:in", v["id"]) and passes("sku:in", v["sku"])]
        return pages.answer(call, rows, lambda row: fixtures.fill("item", row[1], product_id=row[0]["id"], locations=[
            fixtures.fill("item_location", location_id=loc, quantity=qty)
            for loc, qty in sorted(state.levels.get(row[2], {}).items()) if passes("location_id:in", loc)]))


@kit.api.get("/v3/inventory/locations")
def list_locations(call: Call[StoreState] = kit.call) -> Response:
    return pages.answer(call, list(call.state.locations), lambda loc: fixtures.fill("location", id=loc))


def adjust(call: Call[StoreState], relative: bool) -> Response:
    """Check every item first (a refused request changes nothing), then apply and notify."""
    state, asked = call.state, (call.body or {}).get("items") if isinstance(call.body, dict) else None
    if not isinstance(asked, list) or not 1 <= len(asked) <= 2000:
        raise call.refuse(problem(422, "Payload contains invalid fields", {"items": "1 to 2000 items"}), 422)
    changes = []
    with state.lock:
        index = {(key, str(value)): (p, item) for p, v, item in state.items()
                 for key, value in (("variant_id", v["id"]), ("product_id", p["id"]), ("sku", v["sku"]))}
        for entry in asked:
            key = next((k for k in ("variant_id", "product_id", "sku") if k in entry), "")
            found = index.get((key, str(entry.get(key))))
            if found is None or entry.get("location_id") not in state.locations:
                raise call.refuse(problem(422, "Payload contains invalid fields", {"items": f"unknown item {entry}"}), 422)
            if key != "sku" and found[1][0] != key[:-3]:
                raise call.refuse(problem(422, f"[Item with {key} {entry[key]} is tracked by {found[1][0]}, please "
                                               f"update stock by {found[1][0]} id]"), 422)
            if relative and entry["location_id"] not in state.levels.get(found[1], {}):
                raise call.refuse(problem(422, f"Items with identity: [{found[1][0]}_id {found[1][1]}] requires "
                                               f"absolute adjustment before relative"), 422)
            changes.append((*found, entry["location_id"], int(entry["quantity"])))
        for product, item, location, quantity in changes:
            state.set_level(product, item, location, state.level(item, location) * relative + quantity)
    for product, item, _, quantity in changes:
        deliver(state, *inventory_event(product, item, quantity))
    return call.reply({"transaction_id": str(uuid.uuid4())})


@kit.api.put("/v3/inventory/adjustments/absolute")
def absolute(call: Call[StoreState] = kit.call) -> Response:
    return adjust(call, relative=False)


@kit.api.post("/v3/inventory/adjustments/relative")
def relative(call: Call[StoreState] = kit.call) -> Response:
    return adjust(call, relative=True)


def by_sort(call: Call[StoreState]) -> list[int]:
    """Order ids in ``sort`` order (``id`` or ``date_modified``, ``:asc`` or ``:desc``)."""
    field, _, direction = call.query.get("sort", "id").partition(":")
    if field not in ("id", "date_modified"):
        raise call.refuse(V2_INVALID, 400)
    return sorted(call.state.orders, key=lambda oid: (call.state.orders[oid]["modified"] if field != "id" else oid, oid),
                  reverse=direction == "desc")


orders = Collection("orders", ArrayPages(lambda details: V2_INVALID), by_sort, lambda s, oid: s.orders.get(oid),
                    lambda order: fixtures.fill("order", order), missing=lambda: V2_GONE,
                    filters=(since("min_date_modified", lambda order: order["modified"], moment, status=400),))
orders.listing(kit, "/v2/orders")
orders.reading(kit, "/v2/orders/{order_id}", "order_id")


@kit.api.get("/v2/orders/{order_id}/products")
def order_products(order_id: int, call: Call[StoreState] = kit.call) -> Response:
    return call.reply(orders.find(call, order_id)["lines"])


def unique(body: Any, holder: Any, state: StoreState) -> bool:
    return not any(h.get("via") == "api" and h["topics"] == [body.get("scope")] and h["address"] == body.get(
        "destination") for h in state.webhooks)


HEADERS = Rule("headers", lambda v, h, s: v is MISSING or v is None or isinstance(v, dict), INVALID)
Subscriptions(
    lambda hook: fixtures.fill("hook", hook, scope=hook["topics"][0], store="sandbox"), pages,
    {"scope": "topic", "destination": "address", "is_active": "is_active", "headers": "headers"},
    create=problem_schema(Rule("scope", lambda v, h, s: isinstance(v, str) and v.startswith("store/"), INVALID),
                          Rule("destination", lambda v, h, s: web_url(v), INVALID), HEADERS,
                          Rule("", unique, "A webhook with this scope and destination already exists", field="")),
    update=problem_schema(HEADERS), new=lambda state, body, now: {"is_active": body.get("is_active", True),
                                                                  "headers": body.get("headers")},
    unknown=lambda deleting: (problem(404, "Webhook not found"), 404), single="data",
    created_status=200).serve(kit, "/v3/hooks")
