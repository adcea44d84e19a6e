"""Lightspeed Retail X-Series API endpoints: products, inventory and outlets (API 2.0 collections
paged by ``version``), and the inventory write-back ``PUT /api/2.1/products/{id}``.

``details.inventory`` sets ``current_amount`` (and the reorder fields) per outlet
(https://x-series-api.lightspeedhq.com/docs/inventory_updates); collections follow
https://x-series-api.lightspeedhq.com/docs/pagination.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.lightspeed.retailer import RetailerState, _ts, deliver, inventory_payload, kit, pages


def error(kind: str, message: str) -> dict[str, str]:
    return {"error": kind, "message": message}


pages.serve(kit, "/2.0/products", lambda state: state.products.values())
pages.serve(kit, "/2.0/inventory", lambda state: state.inventory.values())


@kit.api.get("/2.0/outlets")
def list_outlets(call: Call[RetailerState] = kit.call) -> Response:
    return call.reply({"data": [{"id": o, "name": f"Outlet {n}", "version": n + 1, "deleted_at": None}
                                for n, o in enumerate(call.state.outlets)]})


@kit.api.put("/2.1/products/{product_id}")
def update_product(product_id: str, call: Call[RetailerState] = kit.call) -> Response:
    payload: Any = call.body
    details = payload.get("details") if isinstance(payload, dict) else None
    levels = details.get("inventory") if isinstance(details, dict) else None
    if not isinstance(levels, list) or not levels:
        raise call.refuse(error("Bad Request", "details.inventory must be a non-empty list"), 400)
    state = call.state
    changed = []
    with state.lock:
        product = state.products.get(product_id)
        if product is None:
            raise call.refuse(error("Not Found", f"product {product_id} not found"), 404)
        for level in levels:
            outlet = str(level.get("outlet_id")) if isinstance(level, dict) else ""
            if outlet not in state.outlets:
                raise call.refuse(error("Unprocessable Entity", f"outlet {outlet or '(missing)'} does not exist"), 422)
            if not isinstance(level.get("current_amount", 0), (int, float)):
                raise call.refuse(error("Unprocessable Entity", "current_amount must be a number"), 422)
        for level in levels:
            current = state.inventory.get((product_id, str(level["outlet_id"])), {})
            extra = {k: level[k] for k in ("reorder_point", "reorder_amount") if k in level}
            amount = int(level.get("current_amount", current.get("current_amount", 0)))
            changed.append(state.set_amount(product_id, str(level["outlet_id"]), amount, **extra))
        product["version"] = state.bump()
        state.writes.append({"product_id": product_id, "sku": product["sku"], "body": payload,
                             "at": _ts(datetime.now(timezone.utc))})
        answer = {"data": {**product, "inventory": [dict(r) for r in changed]}}
    for row in changed:
        deliver(state, "inventory.update", inventory_payload(row))
    return call.reply(answer)
