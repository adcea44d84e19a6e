"""The Zoho Inventory stand-in's control endpoints (``/zoho_inventory/{org}/_admin/…``): seed the
organization, set credentials and limits, move stock as a user would (each change moves the item's
``last_modified_time`` unless ``touch`` is false and fires the workflow webhooks set up with
``POST _admin/webhooks {"address", "headers"}``, which post ``{"item": …}`` with those headers and
nothing signed), cancel a purchase order, read state. The kit adds ``faults``, ``requests``,
``clock`` and the webhook list.
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import known
from sandbox.kit.webhooks import echoing
from sandbox.zoho_inventory.org import DEFAULTS, OrgState, kit


def places(state: OrgState, item: dict[str, Any]) -> None:
    """The item's per-location rows, named as the organization names them, and its totals."""
    prefix = "warehouse" if state.warehouses else "location"
    rows = []
    for where, name in state.locations.items():
        on_hand, committed = item["stock"].get(where, (0, 0))
        rows.append({f"{prefix}_id": where, f"{prefix}_name": name, "status": "active",
                     "is_primary": where == next(iter(state.locations)), f"{prefix}_stock_on_hand": on_hand,
                     f"{prefix}_committed_stock": committed, f"{prefix}_available_stock": on_hand,
                     f"{prefix}_available_for_sale_stock": on_hand - committed})
    item.pop("locations", None), item.pop("warehouses", None)
    item[f"{prefix}s"] = rows
    item["stock_on_hand"] = sum(on for on, _ in item["stock"].values())
    item["available_stock"] = item["stock_on_hand"]


@kit.admin.post("/seed")
def seed(state: OrgState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"locations": [{"id", "name"}], "warehouses": false, "vendors": ["…"], "custom_fields":
    ["Backorder Status"], "items": [{"sku", "name"?, "service"?, "reorder_level"?, "stock":
    {"<location id>": {"on_hand", "committed"}}}]}``; ``reset`` (default true) empties it first."""
    with state.lock:
        if payload.get("reset", True):
            state.items, state.locations, state.custom_fields, state.vendors = {}, {}, {}, set()
            state.purchaseorders = {}
        state.warehouses = bool(payload.get("warehouses", state.warehouses))
        for place in payload.get("locations") or ([] if state.locations else [{"id": "460000000038080",
                                                                               "name": "Main"}]):
            state.locations[str(place["id"])] = place.get("name", place["id"])
        state.vendors |= {str(v) for v in payload.get("vendors", [])}
        for label in payload.get("custom_fields", []):
            state.custom_fields[state.new_id()] = label
        for spec in payload.get("items", []):
            item = {"item_id": state.new_id(), "name": spec.get("name", spec["sku"]), "sku": spec["sku"],
                    "status": "active", "product_type": "service" if spec.get("service") else "goods",
                    "track_inventory": not spec.get("service"), "reorder_level": spec.get("reorder_level", 0),
                    "stock": {str(k): (v.get("on_hand", 0), v.get("committed", 0))
                              for k, v in (spec.get("stock") or {}).items()},
                    "custom_fields": [{"customfield_id": cid, "label": label, "value": False,
                                       "data_type": "check_box"} for cid, label in state.custom_fields.items()]}
            places(state, item)
            state.touch(item)
            state.items[item["item_id"]] = item
        return {"items": {i["sku"]: i["item_id"] for i in state.items.values()}, "locations": list(state.locations),
                "custom_fields": {label: cid for cid, label in state.custom_fields.items()}}


@kit.admin.post("/config")
def config(state: OrgState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """Credentials, ``token_lifetime_s``, ``per_minute`` (the limit), ``expire_tokens``."""
    with state.lock:
        state.credentials.update({k: str(v) for k, v in payload.items() if k in DEFAULTS})
        state.token_lifetime_s = float(payload.get("token_lifetime_s", state.token_lifetime_s))
        state.window.limit = int(payload.get("per_minute", state.window.limit))
        if payload.get("expire_tokens"):
            state.tokens.clear()
        return {"token_requests": state.token_requests, "per_minute": state.window.limit}


@kit.admin.post("/set_stock")
def set_stock(state: OrgState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku", "location", "on_hand", "committed"?, "touch"?: true}``; fires the item webhooks."""
    with state.lock:
        item = known(next((i for i in state.items.values() if i["sku"] == payload.get("sku")), None),
                     f"sku {payload.get('sku')}")
        item["stock"][str(payload["location"])] = (int(payload["on_hand"]), int(payload.get("committed", 0)))
        places(state, item)
        if payload.get("touch", True):
            state.touch(item)
        body = json.dumps({"item": {k: v for k, v in item.items() if k != "stock"}}).encode()
    return JSONResponse({"item": item, "webhooks": echoing(state, "item", body)})


@kit.admin.post("/webhooks")
def add_webhook(state: OrgState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """A workflow rule's webhook on items: ``{"address", "headers": {…}}``."""
    hook = {"id": len(state.webhooks) + 1, "address": payload["address"], "topics": ["item"],
            "headers": dict(payload.get("headers") or {})}
    state.webhooks.append(hook)
    return hook


@kit.admin.post("/items/delete")
def delete_item(state: OrgState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{"sku"}``: the item deleted in Zoho (its detail answers 404 from now on)."""
    with state.lock:
        item = known(next((i for i in state.items.values() if i["sku"] == payload.get("sku")), None), "sku")
        return {"deleted": state.items.pop(item["item_id"])["item_id"]}


@kit.admin.post("/purchaseorders/cancel")
def cancel(state: OrgState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    with state.lock:
        po = known(next((p for p in state.purchaseorders.values()
                         if p["reference_number"] == payload.get("reference_number")), None), "purchase order")
        po["status"] = "cancelled"
        return {"purchaseorder": po}


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, state: OrgState = kit.state) -> dict[str, Any]:
    with state.lock:
        wanted = set(skus.split(",")) if skus else None
        return {"items": [i for i in state.items.values() if wanted is None or i["sku"] in wanted]}


@kit.admin.get("/state/purchase_orders")
def state_purchase_orders(state: OrgState = kit.state) -> dict[str, Any]:
    with state.lock:
        return {"purchase_orders": list(state.purchaseorders.values())}
