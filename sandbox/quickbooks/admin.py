"""Control endpoints under ``/quickbooks/{instance}/_admin`` (docs/sandbox.md lists them): the app's
keys, verifier token, throttle and webhook format (``config``), the company's items and vendors
(``seed``), a quantity changed in QuickBooks (``set_stock``, with its webhook), an item deleted
(``delete_item``), webhook endpoints (``webhooks``), a refresh token handed out by a new connection
(``connect``), and views of what the stand-in holds.
"""
from __future__ import annotations

import secrets
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import Setting, add_config, add_state_view, known
from sandbox.quickbooks.company import RealmState, kit

add_config(kit, {"client_id": Setting("client_id"), "client_secret": Setting("client_secret", show=None),
                 "verifier_token": Setting("verifier_token", show=None), "rate_limit": Setting("rate_limit", int),
                 "token_lifetime_s": Setting("token_lifetime_s", int), "webhook_format": Setting("webhook_format"),
                 "realm_id": Setting("realm_id"), "revoke_access_tokens": Setting(
                     "access_tokens", show=None, apply=lambda state, _: state.access_tokens.clear())})


def add_item(state: RealmState, spec: dict[str, Any]) -> dict[str, Any]:
    item = state.touch({"Id": state.new_id(), "Name": spec.get("name") or spec["sku"], "Sku": spec["sku"],
                        "Type": spec.get("type", "Inventory"), "TrackQtyOnHand": spec.get("type", "Inventory") ==
                        "Inventory", "QtyOnHand": spec.get("qty", 0), "Active": True,
                        "UnitPrice": spec.get("price", 0), "PurchaseCost": spec.get("cost", 0),
                        **({"ReorderPoint": spec["reorder_point"]} if "reorder_point" in spec else {})}, created=True)
    state.items[item["Id"]] = item
    return item


@kit.admin.post("/seed")
def seed(state: RealmState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
    """``{"reset": true, "realm_id"?, "items": [{"sku", "name"?, "qty", "reorder_point"?, "type"?}],
    "vendors": [{"key", "name"}]}``: a vendor's ``key`` is its ``AcctNum``; a ``realm_id`` a
    configuration names is adopted (default: the instance's name)."""
    with state.lock:
        state.realm_id = str(payload.get("realm_id") or state.realm_id)
        if payload.get("reset", True):
            state.items, state.vendors, state.purchase_orders, state.answered = {}, {}, {}, {}
        vendors = [state.touch({"Id": state.new_id(), "DisplayName": v.get("name") or v["key"], "AcctNum": v["key"],
                                "Active": True}, created=True) for v in payload.get("vendors") or []]
        state.vendors.update({v["Id"]: v for v in vendors})
        items = [add_item(state, spec) for spec in payload.get("items") or []]
        return JSONResponse({"realm_id": state.realm_id, "items": items, "vendors": vendors})


def by_sku(state: RealmState, sku: str) -> dict[str, Any]:
    return known(next((i for i in state.items.values() if i.get("Sku") == sku), None), f"sku {sku}")


@kit.admin.post("/set_stock")
def set_stock(state: RealmState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku", "quantity", "notify": true}``: the quantity on hand set in QuickBooks (an inventory
    adjustment), the item's ``LastUpdatedTime`` moved, and its webhook sent."""
    with state.lock:
        item = by_sku(state, str(payload["sku"]))
        item["QtyOnHand"] = int(payload["quantity"])
        state.touch(item)
    sent = state.entity_events("Item", [item["Id"]]) if payload.get("notify", True) else []
    return JSONResponse({"item": item, "webhooks": sent})


@kit.admin.post("/delete_item")
def delete_item(state: RealmState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"sku"}``: the item made inactive (QuickBooks never deletes an item): CDC reports it as deleted."""
    with state.lock:
        item = by_sku(state, str(payload["sku"]))
        state.touch(item)
        item.update({"Active": False, "status": "Deleted"})
    return JSONResponse({"item": item, "webhooks": state.entity_events("Item", [item["Id"]], "Delete")})


@kit.admin.post("/webhooks")
def add_webhook(state: RealmState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{"address"}``: an endpoint that gets every change (the app's webhook configuration)."""
    with state.lock:
        state.webhooks.append({"id": len(state.webhooks) + 1, "address": payload["address"], "secret": "",
                               "topics": ["*"]})
    return JSONResponse({"webhooks": state.webhooks})


@kit.admin.post("/connect")
def connect(state: RealmState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
    """The customer connects the app again: a new first refresh token (the old ones stop working
    unless ``keep`` is true)."""
    token = payload.get("refresh_token") or f"AB11-{secrets.token_urlsafe(16)}"
    with state.lock:
        state.refresh_tokens = (state.refresh_tokens if payload.get("keep") else set()) | {token}
    return JSONResponse({"refresh_token": token})


add_state_view(kit, "items", lambda state: [{"sku": i.get("Sku"), "id": i["Id"], "qty": i.get("QtyOnHand")}
                                            for i in state.items.values()])
add_state_view(kit, "purchase_orders", lambda state: list(state.purchase_orders.values()))
add_state_view(kit, "token_requests", lambda state: state.token_requests)
add_state_view(kit, "refresh_tokens", lambda state: sorted(state.refresh_tokens))
