"""The warehouse app's API: stock rows paged by number, orders with a next link in the body, and
the stock write (``sandbox.warehouse`` lists the conventions and the public pages they follow)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.warehouse.app import WarehouseState, deliver, error, kit, pages, since_of, ts


def _since(call: Call[WarehouseState]) -> Any:
    try:
        return since_of(call.query.get("updated_since"))
    except ValueError:
        raise call.refuse(error("invalid_filter", "updated_since must be an ISO-8601 time"), 400) from None


@kit.api.get("/stock")
def list_stock(call: Call[WarehouseState] = kit.call) -> Response:
    since = _since(call)
    with call.state.lock:
        rows = [dict(row) for row in call.state.sorted_rows(since)]
    return pages.answer(call, rows, lambda row: row)


@kit.api.get("/orders")
def list_orders(call: Call[WarehouseState] = kit.call) -> Response:
    """``{"orders": [...], "meta": {"next": URL | null}}``; ``after`` is the position to go on from."""
    since = _since(call)
    try:
        limit, after = int(call.query.get("limit", 50)), int(call.query.get("after", 0))
    except ValueError:
        raise call.refuse(error("invalid_paging", "limit and after must be integers"), 400) from None
    with call.state.lock:
        chosen = [o for o in call.state.orders if since is None or since_of(o["updated_at"]) >= since]
    page = chosen[after:after + limit]
    next_url = None
    if after + limit < len(chosen):
        base = str(call.request.url).split("?")[0]
        next_url = f"{base}?{urlencode({**call.query, 'after': after + limit})}"
    return call.reply({"orders": page, "meta": {"next": next_url, "total": len(chosen)}})


@kit.api.put("/items/{item_id}/stock")
def set_item_stock(item_id: str, call: Call[WarehouseState] = kit.call) -> Response:
    """``{"location", "quantity", "allow_backorder"?}`` sets the available quantity there."""
    body = call.body if isinstance(call.body, dict) else {}
    quantity, location = body.get("quantity"), body.get("location")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise call.refuse(error("invalid_quantity", "quantity must be a whole number ≥ 0"), 422)
    state = call.state
    with state.lock:
        if location not in state.locations:
            raise call.refuse(error("unknown_location", f"location {location!r} does not exist"), 422)
        sku = next((s for s, i in state.item_ids.items() if i == item_id), None)
        if sku is None:
            raise call.refuse(error("not_found", f"item {item_id} not found"), 404)
        on_hand = state.rows.get((item_id, location), {}).get("quantity", {}).get("on_hand")
        row = dict(state.set_row(sku, location, quantity, on_hand))
        state.writes.append({"item_id": item_id, "sku": sku, "body": body, "at": ts(state.now())})
    deliver(state, "stock.updated", [row])
    return call.reply({"item": row})
