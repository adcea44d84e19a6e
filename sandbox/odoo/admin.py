"""The Odoo stand-in's admin endpoints (``/odoo/{instance}/_admin/…``): seed vendors and products,
read purchase orders back, validate receipts. The kit adds ``faults`` and ``requests``; every
endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import add_state_view, known
from sandbox.odoo.database import DEFAULTS, MODELS, OdooState, kit
from sandbox.odoo.orm import read_view


@kit.admin.post("/seed")
def seed(state: OdooState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"reset": true, "database", "login", "api_key", "password", "partners": [{"name", "ref"}],
    "products": [{"default_code", "name"}], "warehouses": [{"name", "code"}], "version": "19.0",
    "denied_models": ["stock.warehouse", …]}`` → the records with their ids."""
    with state.lock:
        if payload.get("reset", True):
            state.records, state.sequence, state.denied = {m: {} for m in MODELS}, 0, set()
        state.denied |= set(payload.get("denied_models", []))
        state.credentials.update({key: str(payload[key]) for key in DEFAULTS if key in payload})
        state.password = str(payload.get("password", state.password))
        state.version = str(payload.get("version", state.version))
        partners = [state.add("res.partner", {"name": p.get("name") or p.get("ref") or "Vendor",
                                              "ref": p.get("ref") or False, "supplier_rank": 1,
                                              "email": p.get("email") or False})
                    for p in payload.get("partners", [])]
        products = [state.add("product.product", {"name": p.get("name") or p.get("default_code") or "Product",
                                                  "default_code": p.get("default_code") or False, "type": "consu"})
                    for p in payload.get("products", [])]
        warehouses = [state.add_warehouse(w["name"], w["code"]) for w in payload.get("warehouses", [])]
        return {"credentials": state.credentials, "partners": partners, "products": products,
                "warehouses": warehouses}


def order_view(state: OdooState, order: dict[str, Any]) -> dict[str, Any]:
    lines = state.records["purchase.order.line"]
    return {**read_view(state, order), "lines": [read_view(state, lines[i]) for i in order["order_line"]]}


add_state_view(kit, "purchase_orders", lambda state: [
    order_view(state, po) for _, po in sorted(state.records["purchase.order"].items())])


@kit.admin.post("/purchase_orders/receive")
def receive(state: OdooState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"partner_ref": "PO-…", "lines": {"SKU": qty}}``: validate a receipt (the incoming
    ``stock.picking``) against a confirmed order, raising each line's ``qty_received`` as Odoo
    does; without ``lines`` everything outstanding arrives."""
    with state.lock:
        order = known(next((po for po in state.records["purchase.order"].values()
                            if po.get("partner_ref") == payload.get("partner_ref")), None), "purchase.order")
        if order["state"] != "purchase":
            return JSONResponse({"error": f"{order['name']} is {order['state']}: confirm it before receiving"},
                                status_code=409)
        wanted = payload.get("lines")
        for line_id in order["order_line"]:
            line = state.records["purchase.order.line"][line_id]
            code = state.records["product.product"][line["product_id"]]["default_code"]
            outstanding = line["product_qty"] - line["qty_received"]
            line["qty_received"] += outstanding if wanted is None else min(float(wanted.get(code, 0)), outstanding)
        return JSONResponse({"purchase_order": order["name"], "lines": order_view(state, order)["lines"]})
