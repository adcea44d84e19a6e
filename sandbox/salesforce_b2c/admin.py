"""The B2C Commerce stand-in's admin endpoints (``/salesforce_b2c/{instance}/_admin/…``): seed the
inventory lists, the API client and the limit, Business Manager stock edits, storefront checkouts
and the state tests assert on. The kit adds ``faults``, ``requests`` and ``clock``; every endpoint
is listed in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body

from sandbox.kit import Setting, add_checkout, add_config, add_item_state, add_state_view, known, plain
from sandbox.kit.money import to_cents, to_money
from sandbox.salesforce_b2c.store import InstanceState, Record, kit, record_json

Key = tuple[str, str]  # (inventory list id, product id)


def add_record(state: InstanceState, list_id: str, spec: Record) -> Record:
    now = state.now()
    rec = {"product_id": str(spec["sku"]), "name": spec.get("name", spec["sku"]), "allocation": int(spec.get(
        "allocation", 0)), "turnover": 0, "pboa": int(spec.get("backorder_allocation", 0)), "reset_date": now,
        "handling": spec.get("handling", "none"), "in_stock_date": None, "perpetual": bool(spec.get("perpetual")),
        "created": now, "modified": now}
    state.records(list_id)[rec["product_id"]] = rec
    return rec


@kit.admin.post("/seed")
def seed(state: InstanceState = kit.state, payload: Record = Body(default_factory=dict)) -> Any:
    """``{"reset": true, "lists": [{"id", "sites": [...], "items": [{sku, allocation, handling?,
    backorder_allocation?, perpetual?, name?}]}]}``; ``items`` alone go to one list ``inventory``."""
    with state.lock:
        if payload.get("reset", True):
            state.lists, state.orders = {}, []
        lists = payload.get("lists") or [{"id": "inventory", "sites": ["RefArch"], "items": payload.get("items", [])}]
        for spec in lists:
            state.lists.setdefault(spec["id"], {"id": spec["id"], "assigned_sites": spec.get("sites", []),
                                                "description": spec.get("description", spec["id"]), "records": {}})
            for item in spec.get("items", []):
                add_record(state, spec["id"], item)
        return plain({"lists": {lid: sorted(inv["records"]) for lid, inv in state.lists.items()}})


add_config(kit, {"client_id": Setting("client_id"), "client_secret": Setting("client_secret", show=None),
                 "token_lifetime_s": Setting("token_lifetime_s", int), "limit": Setting("window.limit", int),
                 "window_s": Setting("window.seconds", float), "used": Setting("window.used", int),
                 "denied": Setting("denied", list)})


@kit.admin.post("/set_stock")
def set_stock(state: InstanceState = kit.state, payload: Record = Body(...)) -> Any:
    """A Business Manager edit: ``{sku, quantity, list?, handling?}`` resets the allocation."""
    with state.lock:
        list_id = payload.get("list") or known(state.by_sku(str(payload["sku"])), f"sku {payload['sku']}")[0]
        rec = known(state.records(list_id).get(str(payload["sku"])), f"sku {payload['sku']}")
        now = state.now()
        rec.update(allocation=int(payload["quantity"]), turnover=0, reset_date=now, modified=now,
                   handling=payload.get("handling", rec["handling"]))
        return plain({"item": record_json(state, list_id, rec)})


def sell(state: InstanceState, key: Key, quantity: int, price: Any, now: Any) -> tuple[Record, list[Any]]:
    """A storefront checkout: an inventory transaction adds to the record's turnover."""
    rec = state.records(key[0])[key[1]]
    rec.update(turnover=rec["turnover"] + quantity, modified=now)
    return {"product_id": key[1], "product_name": rec["name"], "quantity": quantity,
            "price": float(to_money(to_cents(price) * quantity)), "base_price": float(to_money(to_cents(price)))}, []


def place(state: InstanceState, lines: list[Record], payload: Record, now: Any, begun: Any) -> tuple[Record, list]:
    """``{"lines", "site"?, "email"?, "customer"?: {first_name, last_name, phone}}``: a new order."""
    state.next_order += 1
    customer = {"first_name": "Ada", "last_name": "Lovelace", "phone": "+15550100", **(payload.get("customer") or {})}
    for n, line in enumerate(lines):
        line["item_id"] = f"{state.next_order}-{n}"
    total = to_money(sum(to_cents(line["price"]) for line in lines))
    state.orders.append({"order_no": f"{state.next_order:08d}", "site": payload.get("site", "RefArch"),
                         "status": "new", "currency": "USD", "order_total": float(total), "product_items": lines,
                         "customer_info": {"email": payload.get("email", "ada@example.com"),
                                           "customer_name": f"{customer['first_name']} {customer['last_name']}"},
                         "billing_address": customer, "creation_date": now, "last_modified": now,
                         "payment_instruments": [{"payment_method_id": "CREDIT_CARD", "amount": float(total)}]})
    return {"order_no": state.orders[-1]["order_no"]}, []


add_checkout(kit, InstanceState.by_sku, sell, place, lambda state, events: [])
add_item_state(kit, lambda state: [(lid, pid) for lid, inv in state.lists.items() for pid in sorted(inv["records"])],
               InstanceState.by_sku, lambda state, key: key,
               lambda state, key: {"list": key[0], **record_json(state, key[0], state.records(key[0])[key[1]])})
add_state_view(kit, "token_requests", lambda state: state.token_requests)
