"""The SAP Business One stand-in's control endpoints (``/sap_b1/{company}/_admin/…``): seed the
company, set credentials and the session timeout, move stock, receive goods against a purchase
order, turn a purchase request into an order, read state. The kit adds ``faults``, ``requests``
and ``clock``; every endpoint is listed in docs/sandbox.md.

Receiving follows B1's document flow: a goods receipt PO (``PurchaseDeliveryNotes``) whose lines
are copied from the order's (``BaseType`` 22, ``BaseEntry`` its ``DocEntry``, ``BaseLine``) raises
the warehouse's ``InStock``, lowers its ``Ordered`` and the order line's ``RemainingOpenQuantity``,
and closes the order once nothing is open. An order copied from a request names it the same way
(``BaseType`` 1470000113). Neither touches the items' ``UpdateDate`` unless ``touch_item`` says so
(whether SAP does is not documented).
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import known
from sandbox.sapb1.company import DEFAULTS, OBJECT_TYPES, CompanyState, kit


def warehouse_row(code: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"WarehouseCode": code, "InStock": float(figures.get("in_stock", 0)),
            "Committed": float(figures.get("committed", 0)), "Ordered": float(figures.get("ordered", 0))}


@kit.admin.post("/seed")
def seed(state: CompanyState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"warehouses": [{"code", "name"}], "items": [{"sku", "name"?, "inventory"?: true, "warehouses":
    {"01": {"in_stock", "committed", "ordered"}}}], "partners": [{"card_code", "name"}],
    "item_fields": ["BackorderStatus"]}``; ``reset`` (default true) empties the company first."""
    with state.lock:
        if payload.get("reset", True):
            state.reset()
        for spot in payload.get("warehouses") or [{"code": "01", "name": "General Warehouse"}]:
            state.warehouses[str(spot["code"])] = {"WarehouseCode": str(spot["code"]), "Inactive": "tNO",
                                                   "WarehouseName": spot.get("name", spot["code"])}
        for spec in payload.get("items", []):
            figures = spec.get("warehouses") or {code: {} for code in state.warehouses}
            item = {"ItemCode": spec["sku"], "ItemName": spec.get("name", spec["sku"]), "Valid": "tYES",
                    "InventoryItem": "tYES" if spec.get("inventory", True) else "tNO", "User_Text": None,
                    "ItemWarehouseInfoCollection": [warehouse_row(code, f) for code, f in figures.items()]}
            state.stamp(item)
            state.items[item["ItemCode"]] = item
        for partner in payload.get("partners", []):
            state.partners[partner["card_code"]] = {"CardCode": partner["card_code"], "CardType": "cSupplier",
                                                    "CardName": partner.get("name", partner["card_code"])}
        state.item_fields |= {f"U_{name}" for name in payload.get("item_fields", [])}
        for item in state.items.values():
            item.update({name: item.get(name) for name in state.item_fields})
        return {"items": len(state.items), "warehouses": sorted(state.warehouses), "partners": sorted(state.partners),
                "item_fields": sorted(state.item_fields)}


@kit.admin.post("/config")
def config(state: CompanyState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """Credentials the company accepts, ``session_timeout`` (minutes), the node's ``route``."""
    with state.lock:
        state.credentials.update({k: str(v) for k, v in payload.items() if k in DEFAULTS})
        state.session_timeout = int(payload.get("session_timeout", state.session_timeout))
        state.route = str(payload.get("route", state.route))
        return {"session_timeout": state.session_timeout, "route": state.route, "sessions": len(state.sessions)}


@kit.admin.post("/set_stock")
def set_stock(state: CompanyState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku", "warehouse", "in_stock", "committed"?, "ordered"?, "touch_item"?: true}``."""
    with state.lock:
        item = known(state.items.get(str(payload.get("sku"))), f"sku {payload.get('sku')}")
        rows = [r for r in item["ItemWarehouseInfoCollection"] if r["WarehouseCode"] != str(payload["warehouse"])]
        item["ItemWarehouseInfoCollection"] = sorted(rows + [warehouse_row(str(payload["warehouse"]), payload)],
                                                     key=lambda row: row["WarehouseCode"])
        if payload.get("touch_item", True):
            state.stamp(item)
        return JSONResponse({"item": item})


def copy_lines(state: CompanyState, base: dict[str, Any], collection: str, lines: dict[str, float] | None,
               ) -> list[dict[str, Any]]:
    """Lines copied from ``base``'s open lines (``lines``: SKU → quantity, else all that is open)."""
    copied = []
    for line in base["DocumentLines"]:
        wanted = line["RemainingOpenQuantity"] if lines is None else lines.get(line["ItemCode"], 0)
        quantity = min(float(wanted), line["RemainingOpenQuantity"])
        if quantity > 0:
            line["RemainingOpenQuantity"] -= quantity
            line["LineStatus"] = "bost_Open" if line["RemainingOpenQuantity"] > 0 else "bost_Close"
            copied.append({"ItemCode": line["ItemCode"], "Quantity": quantity, "WarehouseCode": line.get(
                "WarehouseCode") or next(iter(state.warehouses)), "BaseType": OBJECT_TYPES[collection],
                "BaseEntry": base["DocEntry"], "BaseLine": line["LineNum"], "UnitPrice": line.get("UnitPrice")})
    if all(line["LineStatus"] == "bost_Close" for line in base["DocumentLines"]):
        base["DocumentStatus"] = "bost_Close"
    return copied


def find(state: CompanyState, collection: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A document by ``doc_entry`` or by ``num_at_card`` (the oldest with that reference)."""
    docs = state.documents[collection].values()
    found = next((d for d in docs if d["DocEntry"] == payload.get("doc_entry")
                  or (payload.get("num_at_card") and d.get("NumAtCard") == payload["num_at_card"])), None)
    return known(found, f"{collection} {payload.get('doc_entry') or payload.get('num_at_card')}")


@kit.admin.post("/purchase_orders/receive")
def receive(state: CompanyState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"num_at_card" | "doc_entry", "lines"?: {"SKU": qty}, "touch_item"?: false}``: a goods
    receipt PO for the order; stock arrives in each line's warehouse."""
    with state.lock:
        order = find(state, "PurchaseOrders", payload)
        lines = copy_lines(state, order, "PurchaseOrders", payload.get("lines"))
        for line in lines:
            item = state.items[line["ItemCode"]]
            row = next((r for r in item["ItemWarehouseInfoCollection"] if r["WarehouseCode"] == line["WarehouseCode"]),
                       None) or warehouse_row(line["WarehouseCode"], {})
            if row not in item["ItemWarehouseInfoCollection"]:
                item["ItemWarehouseInfoCollection"].append(row)
            row["InStock"] += line["Quantity"]
            row["Ordered"] = max(0.0, row["Ordered"] - line["Quantity"])
            if payload.get("touch_item"):
                state.stamp(item)
        note = state.add_document("PurchaseDeliveryNotes", {"CardCode": order.get("CardCode"), "DocumentLines": lines})
        return JSONResponse({"receipt": note, "order_status": order["DocumentStatus"]})


@kit.admin.post("/purchase_requests/order")
def order_request(state: CompanyState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"num_at_card" | "doc_entry", "card_code"?}``: the buyer copies a purchase request to a
    purchase order (for the lines' ``LineVendor``, else ``card_code``)."""
    with state.lock:
        request = find(state, "PurchaseRequests", payload)
        lines = copy_lines(state, request, "PurchaseRequests", None)
        vendor = payload.get("card_code") or request["DocumentLines"][0].get("LineVendor")
        order = state.add_document("PurchaseOrders", {"CardCode": vendor, "DocDueDate": request.get("RequriedDate"),
                                                      "DocumentLines": lines})
        return JSONResponse({"order": order})


@kit.admin.post("/documents/cancel")
def cancel(state: CompanyState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"collection", "doc_entry"}``: cancelled in SAP (``Cancelled`` tYES, ``CancelStatus``
    csCancelled), as a cancellation document would leave it."""
    with state.lock:
        doc = find(state, str(payload.get("collection")), payload)
        doc.update({"Cancelled": "tYES", "CancelStatus": "csCancelled", "DocumentStatus": "bost_Close"})
        return JSONResponse({"document": doc})


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, state: CompanyState = kit.state) -> JSONResponse:
    with state.lock:
        wanted = skus.split(",") if skus else sorted(state.items)
        return JSONResponse({"items": [state.items[sku] for sku in wanted if sku in state.items]})


@kit.admin.get("/state/documents/{collection}")
def state_documents(collection: str, state: CompanyState = kit.state) -> JSONResponse:
    """Every document of one type with its lines (how tests count what was created)."""
    with state.lock:
        return JSONResponse({"documents": list(state.documents.get(collection, {}).values())})
