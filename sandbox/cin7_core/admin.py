"""The Cin7 Core stand-in's control endpoints (``/cin7_core/{account}/_admin/…``): seed the account,
set keys and the limit, move stock as a user would (firing ``Stock/AvailableStockLevelChanged`` to
each active webhook of that type with its ``ExternalHeaders`` and a bare JSON array of the changed
product's availability rows, nothing signed), receive stock against a purchase, void one, read
state. The kit adds ``faults``, ``requests``, ``clock`` and the delivery list.
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.cin7_core.account import ATTRIBUTES, DEFAULTS, AccountState, kit, new_id
from sandbox.kit.admin import known
from sandbox.kit.webhooks import send


@kit.admin.post("/seed")
def seed(state: AccountState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"locations": ["Main Warehouse"], "suppliers": ["Kyoto Frame Works"], "products": [{"sku",
    "type"?: "Stock", "stock": {"<location>": {"on_hand", "allocated"?, "bin"?}}}]}``; ``reset``
    (default true) empties the account first. Answers the ids made."""
    with state.lock:
        if payload.get("reset", True):
            state.locations, state.products, state.stock, state.suppliers, state.purchases = {}, {}, {}, {}, {}
        for name in payload.get("locations") or ([] if state.locations else ["Main Warehouse"]):
            state.locations[name] = {"ID": new_id(), "Name": name, "IsDefault": not state.locations,
                                     "IsDeprecated": False}
        for name in payload.get("suppliers", []):
            state.suppliers[new_id()] = name
        for spec in payload.get("products", []):
            pid = new_id()
            state.products[pid] = {"ID": pid, "SKU": spec["sku"], "Name": spec.get("name", spec["sku"]),
                                   "Type": spec.get("type", "Stock"), "Status": "Active",
                                   "LastModifiedOn": state.now().isoformat(), **{name: "" for name in ATTRIBUTES}}
            for place, figures in (spec.get("stock") or {}).items():
                state.stock[(pid, place, figures.get("bin", ""))] = [figures.get("on_hand", 0),
                                                                     figures.get("allocated", 0), 0]
        return {"products": {p["SKU"]: p["ID"] for p in state.products.values()}, "locations": list(state.locations),
                "suppliers": {name: sid for sid, name in state.suppliers.items()}}


@kit.admin.post("/config")
def config(state: AccountState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """The keys the account accepts and ``per_minute`` (the limit, 60)."""
    with state.lock:
        state.credentials.update({k: str(v) for k, v in payload.items() if k in DEFAULTS})
        state.window.limit = int(payload.get("per_minute", state.window.limit))
        return {"per_minute": state.window.limit}


def product_of(state: AccountState, sku: Any) -> dict[str, Any]:
    return known(next((p for p in state.products.values() if p["SKU"] == sku), None), f"sku {sku}")


def notify(state: AccountState, pid: str) -> list[dict[str, Any]]:
    """``Stock/AvailableStockLevelChanged`` to each active webhook of that type (lock released)."""
    with state.lock:
        body = json.dumps(state.rows(pid) or [{"ID": pid, "SKU": state.products[pid]["SKU"], "Available": 0.0}])
        hooks = [dict(h) for h in state.hooks if h["Type"] == "Stock/AvailableStockLevelChanged" and h["IsActive"]]
    return [send(state, {"address": h["ExternalURL"]}, h["Type"], body.encode(), {
        "Content-Type": "application/json", **{x["Key"]: x["Value"] for x in h.get("ExternalHeaders") or []}})
        for h in hooks]


@kit.admin.post("/set_stock")
def set_stock(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku", "location", "on_hand", "allocated"?, "bin"?}``; fires the stock webhook."""
    with state.lock:
        product = product_of(state, payload.get("sku"))
        key = (product["ID"], str(payload["location"]), str(payload.get("bin") or ""))
        on_order = state.stock.get(key, [0, 0, 0])[2]
        state.stock[key] = [int(payload["on_hand"]), int(payload.get("allocated", 0)), on_order]
    return JSONResponse({"webhooks": notify(state, product["ID"])})


@kit.admin.post("/purchases/receive")
def receive(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"order_number", "lines": {"SKU": qty}}``: stock received into the purchase's location."""
    with state.lock:
        made = known(next((p for p in state.purchases.values() if p["OrderNumber"] == payload.get("order_number")),
                          None), "purchase")
        for sku, quantity in payload.get("lines", {}).items():
            product = product_of(state, sku)
            made["StockReceived"]["Lines"].append({"ProductID": product["ID"], "SKU": sku, "Quantity": quantity,
                                                   "Location": made["Location"], "Received": True})
            state.stock.setdefault((product["ID"], made["Location"], ""), [0, 0, 0])[0] += int(quantity)
        made["StockReceived"]["Status"] = "AUTHORISED"
        return JSONResponse({"purchase": made})


@kit.admin.post("/purchases/void")
def void(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    with state.lock:
        made = known(next((p for p in state.purchases.values() if p["OrderNumber"] == payload.get("order_number")),
                          None), "purchase")
        made["Status"] = "VOIDED"
        return {"purchase": made}


@kit.admin.get("/state/purchase_orders")
def state_purchases(state: AccountState = kit.state) -> dict[str, Any]:
    with state.lock:
        return {"purchase_orders": list(state.purchases.values())}


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, state: AccountState = kit.state) -> dict[str, Any]:
    with state.lock:
        wanted = set(skus.split(",")) if skus else None
        return {"items": [p for p in state.products.values() if wanted is None or p["SKU"] in wanted]}


@kit.admin.get("/state/webhooks")
def state_webhooks(state: AccountState = kit.state) -> dict[str, Any]:
    with state.lock:
        return {"webhooks": list(state.hooks)}
