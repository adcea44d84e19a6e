"""The Lightspeed stand-in's admin endpoints (``/lightspeed/{instance}/_admin/…``): seed outlets and
products, credentials and the rate-limit window (the kit's ``add_config``), back-office stock
changes (``add_set_stock``) and renames, the items (``add_item_state``), the write log. The kit
adds ``faults`` (``retry_after_in_s`` becomes an HTTP-date), ``requests``, ``webhooks`` (list, and
``POST``: a webhook made in the back office, ``retailer.add_hook``) and ``redeliver``; sales rung up
at the till are ``sales``'. Every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Body

from sandbox.kit import Setting, add_config, add_item_state, add_set_stock, known
from sandbox.kit.admin import add_change
from sandbox.lightspeed.retailer import (
    RetailerState,
    _ts,
    _uuid,
    admin_item,
    deliver_all,
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
            state.products, state.sku_index, state.inventory, state.sales = {}, {}, {}, {}
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

add_config(kit, {"access_token": Setting("token"), "client_secret": Setting("client_secret"),
                 "rate_limit": Setting("window.limit", int), "rate_window_s": Setting("window.seconds", float),
                 "reset_window": Setting("window", show=None, apply=lambda state, on: on and state.window.restart())})


def stock_change(state: RetailerState, product_id: str, payload: dict[str, Any], now: datetime) -> tuple[Any, Any]:
    """A stocktake in the store: sets ``current_amount`` (and ``reorder_point`` / ``reorder_amount``
    when given, as the back office does per outlet), emits ``inventory.update``."""
    outlet = str(payload.get("outlet_id") or state.outlets[0])
    known(outlet if outlet in state.outlets else None, f"outlet {outlet}")
    current = state.inventory.get((product_id, outlet), {}).get("current_amount", 0)
    row = dict(state.set_amount(product_id, outlet, int(payload.get("current_amount", current)),
                                **reorder_levels(payload)))
    return row, [("inventory.update", inventory_payload(row))]


add_set_stock(kit, lambda state, sku: state.sku_index.get(sku), stock_change, deliver_all)
add_item_state(kit, lambda state: list(state.products), lambda state, sku: state.sku_index.get(sku),
               lambda state, product_id: state.products[product_id], admin_item)

def rename(state: RetailerState, product_id: str, payload: dict[str, Any], now: datetime) -> tuple[Any, Any]:
    """A product renamed (``name``/``new_sku``) in the back office: emits ``product.update``."""
    product = state.products[product_id]
    if payload.get("new_sku"):
        del state.sku_index[product["sku"]]
        product["sku"] = str(payload["new_sku"])
        state.sku_index[product["sku"]] = product_id
    product.update(name=payload.get("name", product["name"]), updated_at=_ts(now), version=state.bump())
    body = product_payload(state, product)
    return body, [("product.update", body)]


add_change(kit, "/update_product", lambda state, sku: state.sku_index.get(sku), rename, deliver_all, shown="product")


@kit.admin.get("/writes")
def list_writes(state: RetailerState = kit.state) -> dict[str, Any]:
    return {"writes": state.writes}
