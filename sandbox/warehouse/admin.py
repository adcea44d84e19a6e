"""The warehouse stand-in's control endpoints (``/warehouse/{instance}/_admin/…``): seed items,
token and rate limit, back-office stock changes and orders (each emits its webhook), webhook
subscriptions, the items and the writes received. The kit adds ``faults``, ``requests``,
``clock``, ``webhooks`` (GET) and ``redeliver``."""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit import subscribe
from sandbox.warehouse.app import WarehouseState, deliver, kit, ts


@kit.admin.post("/seed")
def seed(state: WarehouseState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"locations": [...], "items": [{"sku", "name"?, "levels": {location: available}}]}``."""
    with state.lock:
        state.locations = [str(code) for code in payload.get("locations", state.locations)]
        state.rows, state.item_ids = {}, {}
        for spec in payload.get("items", []):
            for location, available in (spec.get("levels") or {}).items():
                state.set_row(spec["sku"], str(location), int(available), name=spec.get("name"))
        return {"items": len(state.item_ids), "rows": len(state.rows), "item_ids": dict(state.item_ids)}


@kit.admin.post("/config")
def config(state: WarehouseState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``token``, and the bucket: ``bucket_size``, ``leak_rate`` (calls per second)."""
    with state.lock:
        state.token = payload.get("token", state.token)
        state.bucket.size = float(payload.get("bucket_size", state.bucket.size))
        state.bucket.leak_rate = float(payload.get("leak_rate", state.bucket.leak_rate))
        state.bucket.fill(0.0)
        return {"token": state.token, "bucket_size": state.bucket.size, "leak_rate": state.bucket.leak_rate}


@kit.admin.post("/set_stock")
def set_stock(state: WarehouseState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """A back-office change: ``{"sku", "location", "available", "on_hand"?, "notify"?}``."""
    with state.lock:
        location = str(payload.get("location") or state.locations[0])
        if location not in state.locations or payload.get("sku") not in state.item_ids:
            return JSONResponse({"error": "unknown sku or location"}, status_code=404)
        row = dict(state.set_row(str(payload["sku"]), location, int(payload["available"]), payload.get("on_hand")))
    hooks = deliver(state, "stock.updated", [row]) if payload.get("notify", True) else []
    return JSONResponse({"row": row, "webhooks": [{"status": h["status"], "address": h["address"]} for h in hooks]})


@kit.admin.post("/orders")
def create_order(state: WarehouseState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """An order placed: ``{"id", "reference"?, "customer"?, "lines": [{"sku", "qty", "unit_price"}]}``."""
    with state.lock:
        order = {"reference": f"WH-{len(state.orders) + 1001}", "status": "open", "total": "0.00",
                 "customer": {}, "created_at": ts(state.now()), **payload, "updated_at": ts(state.now())}
        state.orders.append(order)
    return {"order": order, "webhooks": [h["status"] for h in deliver(state, "order.created", [order])]}


@kit.admin.post("/webhooks")
def add_webhook(state: WarehouseState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{"address", "secret", "topics": [...]}``."""
    with state.lock:
        return {"webhook": subscribe(state, payload)}


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, state: WarehouseState = kit.state) -> dict[str, Any]:
    wanted = set(skus.split(",")) if skus else None
    with state.lock:
        return {"items": [dict(r) for r in state.rows.values() if wanted is None or r["sku"] in wanted]}


@kit.admin.get("/writes")
def list_writes(state: WarehouseState = kit.state) -> dict[str, Any]:
    return {"writes": state.writes}
