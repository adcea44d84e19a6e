"""The Lightspeed stand-in's admin endpoints (``/lightspeed/{instance}/_admin/…``): seed outlets and
products, credentials and the rate-limit window, back-office stock changes and renames, the write
log. The kit adds ``faults`` (``retry_after_in_s`` becomes an HTTP-date), ``requests`` and
``webhooks`` (list, and ``POST``: a webhook made in the back office, ``retailer.add_hook``); every
endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit import Setting, add_config, known
from sandbox.lightspeed.retailer import (
    RetailerState,
    _ts,
    _uuid,
    admin_item,
    deliver,
    inventory_payload,
    kit,
    product_payload,
    reorder_levels,
)


@kit.admin.post("/seed")
def seed(state: RetailerState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"count": N, "sku_prefix", "current_amount", "outlets": K | "outlet_ids": [...], "items": [...]}``."""
    with state.lock:
        if payload.get("reset", True):
            state.products, state.sku_index, state.inventory = {}, {}, {}
            state.outlets = [str(o) for o in payload["outlet_ids"]] if payload.get("outlet_ids") else \
                [_uuid(state.name, f"outlet-{n}") for n in range(int(payload.get("outlets", 1)))]
        created = []
        prefix = payload.get("sku_prefix", "SKU-")
        for n in range(int(payload.get("count", 0))):
            state.add_product(f"{prefix}{n:06d}", f"Generated item {n}", int(payload.get("current_amount", 10)))
        for spec in payload.get("items", []):
            product = state.add_product(spec["sku"], spec.get("name", spec["sku"]),
                                        int(spec.get("current_amount", 0)), **reorder_levels(spec))
            created.append(admin_item(state, product))
        return {"total": len(state.products), "outlets": state.outlets, "items": created,
                "version": state.version}

add_config(kit, {
    "access_token": Setting("token"), "client_secret": Setting("client_secret"),
    "rate_limit": Setting("window.limit", int), "rate_window_s": Setting("window.seconds", float),
    "reset_window": Setting("window", show=None, apply=lambda state, reset: reset and state.window.restart()),
    "outlets": Setting("outlets", apply=lambda state, value: None)})  # shown, set by a seed only


@kit.admin.post("/set_stock")
def set_stock(state: RetailerState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """A sale or stocktake in the store: sets ``current_amount`` (and ``reorder_point`` /
    ``reorder_amount`` when given, as the back office does per outlet), emits ``inventory.update``."""
    with state.lock:
        product_id = known(state.sku_index.get(str(payload.get("sku"))), f"sku {payload.get('sku')}")
        outlet = str(payload.get("outlet_id") or state.outlets[0])
        known(outlet if outlet in state.outlets else None, f"outlet {outlet}")
        current = state.inventory.get((product_id, outlet), {}).get("current_amount", 0)
        row = dict(state.set_amount(product_id, outlet, int(payload.get("current_amount", current)),
                                    **reorder_levels(payload)))
    hooks = deliver(state, "inventory.update", inventory_payload(row))
    return JSONResponse({"inventory": row, "webhooks": hooks})


@kit.admin.post("/update_product")
def update_product_admin(state: RetailerState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """Renames a product (``name``/``new_sku``) in the back office: emits ``product.update``."""
    with state.lock:
        product = state.products[known(state.sku_index.get(str(payload.get("sku"))), f"sku {payload.get('sku')}")]
        if payload.get("new_sku"):
            del state.sku_index[product["sku"]]
            product["sku"] = str(payload["new_sku"])
            state.sku_index[product["sku"]] = product["id"]
        product["name"] = payload.get("name", product["name"])
        product["updated_at"] = _ts(datetime.now(timezone.utc))
        product["version"] = state.bump()
        body = product_payload(state, product)
    return JSONResponse({"product": body, "webhooks": deliver(state, "product.update", body)})

@kit.admin.get("/state/items")
def state_items(skus: str | None = None, state: RetailerState = kit.state) -> JSONResponse:
    with state.lock:
        ids = [state.sku_index[s] for s in skus.split(",") if s in state.sku_index] if skus \
            else list(state.products)
        return JSONResponse({"total": len(state.products),
                             "items": [admin_item(state, state.products[i]) for i in ids]})


@kit.admin.get("/writes")
def list_writes(state: RetailerState = kit.state) -> dict[str, Any]:
    return {"writes": state.writes}
