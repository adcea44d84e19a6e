"""The NetSuite stand-in's admin endpoints (``/netsuite/{account}/_admin/…``): seed items,
locations and vendors, set credentials, change stock, receive purchase orders, read state.

The kit adds ``faults`` (the options Lightspeed and NetSuite accept), ``requests`` and ``clock``;
every endpoint is listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit import add_action, add_state_view, known
from sandbox.netsuite.account import DEFAULTS, ITEM_ID_BASE, VENDOR_ID_BASE, AccountState, kit
from sandbox.netsuite.records import po_view, receive_po


@kit.admin.post("/seed")
def seed(state: AccountState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"locations": K, "count": N, "sku_prefix", "on_hand", "available", "items": [{"sku",
    "on_hand", "available", "committed", "locations": {"<id>": {...}}}]}``."""
    with state.lock:
        if payload.get("reset", True):
            state.reset()
        db = state.db
        location_ids = [n + 1 for n in range(int(payload.get("locations", 1)))]
        db.executemany("INSERT OR IGNORE INTO location VALUES (?, ?, 'F')",
                       [(lid, f"Warehouse {lid}") for lid in location_ids])
        next_id = (db.execute("SELECT MAX(id) FROM item").fetchone()[0] or ITEM_ID_BASE - 1) + 1
        specs = [{"sku": f"{payload.get('sku_prefix', 'SKU-')}{n:06d}",
                  "on_hand": payload.get("on_hand", 10), "available": payload.get("available")}
                 for n in range(int(payload.get("count", 0)))] + list(payload.get("items", []))
        for offset, vendor in enumerate(payload.get("vendors", [])):
            vendor_id = (db.execute("SELECT MAX(id) FROM vendor").fetchone()[0] or VENDOR_ID_BASE - 1) + 1
            external = vendor.get("external_id") or vendor.get("externalid")
            db.execute("INSERT INTO vendor VALUES (?, ?, ?, ?, 'F')",
                       (vendor_id, vendor.get("entityid", external or f"V{vendor_id}"),
                        vendor.get("name", external or ""), external))
        created = []
        now = state.stamp()
        generated = int(payload.get("count", 0))
        for offset, spec in enumerate(specs):
            item_id = next_id + offset
            db.execute("INSERT INTO item VALUES (?, ?, ?, ?, 'F', ?)",
                       (item_id, spec["sku"], spec.get("name", spec["sku"]), spec.get("itemtype", "InvtPart"),
                        now))
            per_location = spec.get("locations") or {str(lid): spec for lid in location_ids}
            for lid, qty in per_location.items():
                on_hand = int(qty.get("on_hand", 0))
                committed = int(qty.get("committed", 0))
                available = qty.get("available")
                available = on_hand - committed if available is None else int(available)
                db.execute("INSERT INTO inventoryitemlocations VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
                           (item_id, int(lid), on_hand, available, committed))
            if offset >= generated:
                created.append(admin_item(state, item_id))
        db.commit()
        total = db.execute("SELECT COUNT(*) FROM item").fetchone()[0]
        vendors = [{"id": str(r[0]), "entityid": r[1], "companyname": r[2], "externalid": r[3]}
                   for r in db.execute("SELECT id, entityid, companyname, externalid FROM vendor ORDER BY id")]
        return {"total": total, "locations": [str(x) for x in location_ids], "items": created,
                "vendors": vendors}


def config(state: AccountState, payload: dict[str, Any]) -> dict[str, Any]:
    """Sets the TBA credentials the account accepts, the timestamp tolerance, and the SuiteQL tables
    the token's role may not see (``hidden_records``: a role without Lists → Locations, say)."""
    for key in DEFAULTS:
        if key in payload:
            state.credentials[key] = str(payload[key])
    state.timestamp_tolerance_s = float(payload.get("timestamp_tolerance_s", state.timestamp_tolerance_s))
    state.hidden = {str(table).lower() for table in payload.get("hidden_records", state.hidden)}
    return {"credentials": state.credentials, "timestamp_tolerance_s": state.timestamp_tolerance_s,
            "hidden_records": sorted(state.hidden)}


add_action(kit, "/config", config)


@kit.admin.post("/set_stock")
def set_stock(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """Changes one item's quantities at one location and touches its ``lastmodifieddate``."""
    with state.lock:
        row = known(state.item_row(str(payload.get("sku"))), f"sku {payload.get('sku')}")
        location = int(payload.get("location_id", 1))
        on_hand = int(payload["on_hand"])
        committed = int(payload.get("committed", 0))
        available = int(payload.get("available", on_hand - committed))
        state.db.execute("INSERT OR REPLACE INTO inventoryitemlocations VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
                         (row[0], location, on_hand, available, committed))
        if payload.get("touch_item", True):
            state.db.execute("UPDATE item SET lastmodifieddate = ? WHERE id = ?", (state.stamp(), row[0]))
        state.db.commit()
        return JSONResponse({"item": admin_item(state, row[0])})


@kit.admin.post("/purchase_orders/receive")
def receive(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"external_id": "PO-…", "lines": {"SKU": qty}, "location_id": 1}``: an item receipt
    (without ``lines``, everything outstanding arrives)."""
    with state.lock:
        po = state.po_by_external_id(str(payload.get("external_id")))
        if po is None:
            return JSONResponse({"error": f"no purchaseOrder eid:{payload.get('external_id')}"}, status_code=404)
        location = int(payload.get("location_id") or po.get("location") or 1)
        booked = receive_po(state, po, payload.get("lines"), location)
        return JSONResponse({"purchase_order": po["tranId"], "status": po["status"], "received": booked})


@kit.admin.get("/state/items")
def state_items(skus: str | None = None, state: AccountState = kit.state) -> JSONResponse:
    with state.lock:
        if skus:
            ids = [r[0] for s in skus.split(",") if (r := state.item_row(s))]
        else:
            ids = [r[0] for r in state.db.execute("SELECT id FROM item ORDER BY id")]
        return JSONResponse({"items": [admin_item(state, i) for i in ids]})

#: Every purchase order with its lines, ids as strings (how tests count what was created).
add_state_view(kit, "purchase_orders", lambda state: [po_view(po, "", True)
                                                       for _, po in sorted(state.purchase_orders.items())])


def admin_item(state: AccountState, item_id: int) -> dict[str, Any]:
    """Admin view: the item's ids and quantities per location, ids as strings."""
    sku, modified = state.db.execute("SELECT itemid, lastmodifieddate FROM item WHERE id = ?", (item_id,)).fetchone()
    levels = state.db.execute("SELECT location, quantityonhand, quantityavailable, quantitycommitted "
                              "FROM inventoryitemlocations WHERE item = ? ORDER BY location", (item_id,)).fetchall()
    return {"sku": sku, "item_id": str(item_id), "lastmodifieddate": modified,
            "locations": {str(loc): {"on_hand": int(oh), "available": int(av), "committed": int(cm)}
                          for loc, oh, av, cm in levels}}
