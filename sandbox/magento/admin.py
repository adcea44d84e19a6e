"""The Magento stand-in's admin endpoints (``/magento/{instance}/_admin/…``): seed products and
sources, credentials and switches (Multi-Source Inventory, input limits, standalone bearer
tokens), stock changed in the store's admin, orders placed at its checkout, and the views tests
assert on. The kit adds ``faults``, ``requests``, ``clock``, ``webhooks`` (list and subscribe: the
store's observer module posting to an address) and ``redeliver``. Listed in docs/sandbox.md.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Body

from sandbox.kit import admin as edits
from sandbox.magento.store import (StoreState, kit, new_product, order_json, stock_item_event, stock_item_json,
                                   utc_text, webhooks)


Payload = dict[str, Any]


def item_view(state: StoreState, product: dict[str, Any]) -> dict[str, Any]:
    item = stock_item_json(state, product)
    return {"sku": product["sku"], "product_id": str(product["entity_id"]), "updated_at": product["updated_at"],
            **{k: item[k] for k in ("item_id", "qty", "is_in_stock", "backorders", "use_config_backorders")},
            "sources": {code: i["quantity"] for (sku, code), i in state.source_items.items() if sku == product["sku"]},
            "salable": state.salable(product["sku"], 1), "reserved": state.reserved.get(product["sku"], 0)}


@kit.admin.post("/seed")
def seed(state: StoreState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"msi", "sources": [codes], "stocks": {"1": [codes by priority]}, "count", "sku_prefix", "qty",
    "items": [{"sku", "qty", "backorders", "manage_stock", "type_id", "sources": {code: quantity}}]}``."""
    with state.lock:
        if payload.get("reset", True):
            state.products, state.skus, state.stock, state.source_items, state.reserved = {}, {}, {}, {}, {}
            state.orders, state.creditmemos = [], []
        state.msi = bool(payload.get("msi", state.msi))
        if payload.get("sources"):
            state.sources = [{"source_code": c, "name": c.title(), "enabled": True, "country_id": "US"}
                             for c in payload["sources"]]
            state.stock_sources = {1: list(payload["sources"])}
        state.stock_sources.update({int(k): list(v) for k, v in (payload.get("stocks") or {}).items()})
        specs = [{"sku": f"{payload.get('sku_prefix', 'SKU-')}{n:06d}", "qty": payload.get("qty", 10)}
                 for n in range(int(payload.get("count", 0)))] + list(payload.get("items", []))
        added = [item_view(state, new_product(state, spec)) for spec in specs]
        return {"total": len(state.products), "items": added}


edits.add_config(kit, {
    "integration_token": edits.Setting("integration_token"), "bearer_integration": edits.Setting("bearer_integration", bool),
    "integration_acl": edits.Setting("integration_acl", list), "token_lifetime_h": edits.Setting("token_lifetime_h", float),
    "admins": edits.Setting("admins", dict, show=None), "input_limits": edits.Setting("input_limits", bool),
    "msi": edits.Setting("msi", bool), "revoke_admin_tokens": edits.Setting(
        "admin_tokens", show=None, apply=lambda state, value: state.admin_tokens.clear() if value else None)})


def change_stock(state: StoreState, pid: int, payload: Payload, now: datetime) -> tuple[Payload, edits.Events]:
    """A product saved in the admin: ``qty`` / ``backorders`` / ``manage_stock`` on its stock item,
    or ``quantity`` (and ``status``) at ``source_code``; the observer posts what was saved."""
    product = state.products[pid]
    product["updated_at"] = utc_text(now)
    if payload.get("source_code"):
        saved = state.set_source(product["sku"], payload["source_code"], float(payload["quantity"]), payload.get("status"))
        return item_view(state, product), [("source_items.updated", {"items": [saved]})]
    state.set_stock(product, **{k: payload[k] for k in ("qty", "backorders", "manage_stock") if k in payload})
    return item_view(state, product), [("stock_item.updated", {"items": [stock_item_event(state, product)]})]


def sell(state: StoreState, pid: int, qty: int, price: Any, now: datetime) -> tuple[Payload, edits.Events]:
    """A checkout's line: without MSI the stock item gives the units up at once, with MSI stock 1
    reserves them (``inventory_reservation``); the product's row is not touched either way."""
    product = state.products[pid]
    if state.msi:
        state.reserved[product["sku"]] = state.reserved.get(product["sku"], 0) + qty
    elif state.stock[pid]["manage_stock"]:
        state.set_stock(product, qty=state.qty(product) - qty)
    price = float(price if price is not None else product["price"])
    line = {"item_id": state.allocate(), "product_id": pid, "sku": product["sku"],
            "name": product["name"], "qty_ordered": float(qty), "qty_refunded": 0.0, "price": price,
            "row_total": round(price * qty, 2), "amount_refunded": 0.0, "created_at": utc_text(now),
            "updated_at": utc_text(now)}
    moved = [] if state.msi else [("stock_item.updated", {"items": [stock_item_event(state, product)]})]
    return line, moved


def place(state: StoreState, lines: list[Payload], payload: Payload, now: datetime,
          order_id: int) -> tuple[Payload, edits.Events]:
    """An invoiced (paid) ``processing`` order; the observer posts ``order.placed``."""
    total = round(sum(line["row_total"] for line in lines), 2)
    for line in lines:
        line["order_id"] = order_id
    order = {"entity_id": order_id, "increment_id": f"{order_id:09d}", "state": "processing", "status": "processing",
             "created_at": utc_text(now), "updated_at": utc_text(now), "total_refunded": 0.0, "items": lines,
             "customer_email": payload.get("email", "ada@example.com"), "subtotal": total, "grand_total": total,
             "customer_firstname": payload.get("firstname", "Ada"), "customer_lastname": payload.get("lastname", "Lovelace"),
             "telephone": payload.get("telephone", "+15005550006"), "total_paid": total,
             "total_qty_ordered": sum(line["qty_ordered"] for line in lines)}
    state.orders.append(order)
    return {"order": order_json(order)}, [("order.placed", {"items": [order_json(order)]})]


edits.add_set_stock(kit, lambda state, sku: state.skus.get(sku), change_stock, webhooks.deliver_all)
edits.add_checkout(kit, lambda state, sku: state.skus.get(sku), sell, place, webhooks.deliver_all,
                   begin=StoreState.allocate)
edits.add_item_state(kit, lambda state: list(state.products), lambda state, sku: state.skus.get(sku),
                     lambda state, pid: state.products[pid], item_view)
edits.add_state_view(kit, "creditmemos", lambda state: state.creditmemos)
edits.add_state_view(kit, "orders", lambda state: [order_json(o) for o in state.orders])
