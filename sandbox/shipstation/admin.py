"""The ShipStation stand-in's admin endpoints (``/shipstation/{instance}/_admin/…``): credentials and
rate windows, labels made (each batch notifies SHIP_NOTIFY subscribers), carrier scans, ageing a
label so "no scan for N days" can be shown, voiding, and the state. The kit adds ``faults``,
``requests``, ``webhooks`` (list) and ``redeliver``; docs/sandbox.md lists them all.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import Body, Request
from fastapi.responses import JSONResponse

from sandbox.shipstation.account import SCANS, AccountState, age, kit, notify, v1_time, v1_view, v2_time


@kit.admin.post("/config")
def config(state: AccountState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    with state.lock:
        state.api_key = payload.get("api_key", state.api_key)
        state.api_secret = payload.get("api_secret", state.api_secret)
        state.v2_key = payload.get("v2_api_key", state.v2_key)
        state.v1_window.limit = int(payload.get("rate_limit", state.v1_window.limit))
        state.v2_window.limit = int(payload.get("v2_rate_limit", state.v2_window.limit))
        if payload.get("reset_window"):
            state.v1_window.used = state.v2_window.used = 0
        return {"rate_limit": state.v1_window.limit, "v2_rate_limit": state.v2_window.limit}


@kit.admin.post("/labels")
def make_labels(request: Request, instance: str, state: AccountState = kit.state,
                payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{"labels": [{order_number, carrier_code, service_code, tracking_number?, items: [{sku, quantity,
    line_item_key?}], days_ago?}]}`` (or one label's keys at the top): one batch, one SHIP_NOTIFY."""
    now = datetime.now(timezone.utc)
    made = []
    with state.lock:
        batch = len(state.batches) + 1
        for spec in payload.get("labels") or [payload]:
            state.next_id += 1
            when = now - timedelta(days=float(spec.get("days_ago", 0)))
            number = spec.get("tracking_number") or f"1Z{state.next_id:016d}"
            state.shipments[state.next_id] = {
                "shipmentId": state.next_id, "orderId": 400_000 + state.next_id % 100_000,
                "orderKey": f"key-{spec['order_number']}", "orderNumber": spec["order_number"],
                "createDate": v1_time(when), "shipDate": when.date().isoformat(), "shipmentCost": 9.5,
                "insuranceCost": 0, "trackingNumber": number, "isReturnLabel": False, "batchNumber": str(batch),
                "carrierCode": spec.get("carrier_code", "ups"), "serviceCode": spec.get("service_code", "ups_ground"),
                "voided": False, "voidDate": None, "marketplaceNotified": True,
                "shipmentItems": [{"orderItemId": n + 1, "lineItemKey": item.get("line_item_key"), "sku": item["sku"],
                                   "name": item.get("name", item["sku"]), "quantity": int(item.get("quantity", 1)),
                                   "adjustment": False} for n, item in enumerate(spec.get("items", []))]}
            state.scans.setdefault(number, [])
            state.batches.setdefault(batch, []).append(state.next_id)
            made.append(v1_view(state.shipments[state.next_id], True))
    base = f"{str(request.base_url).rstrip('/')}/shipstation/{instance}"
    return {"shipments": made, "batch": batch, "deliveries": notify(state, base, batch)}


@kit.admin.post("/scans")
def add_scan(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{tracking_number, status: accepted|in_transit|out_for_delivery|delivered|exception|returned,
    description?, location?, hours_ago?}``: one carrier scan, as V2 tracking reports it."""
    if payload.get("status") not in SCANS:
        return JSONResponse({"error": f"status must be one of {', '.join(SCANS)}"}, status_code=400)
    code, detail, words, event = SCANS[payload["status"]]
    when = datetime.now(timezone.utc) - timedelta(hours=float(payload.get("hours_ago", 0)))
    city, _, region = str(payload.get("location", "MEMPHIS, TN")).partition(", ")
    scan = {"occurred_at": v2_time(when), "carrier_occurred_at": when.replace(tzinfo=None).isoformat(timespec="seconds"),
            "description": payload.get("description", words), "city_locality": city, "state_province": region,
            "postal_code": "", "country_code": "US", "company_name": "", "signer": "", "event_code": event,
            "carrier_detail_code": event, "status_code": code, "status_detail_code": detail,
            "latitude": None, "longitude": None}
    with state.lock:
        state.scans.setdefault(str(payload["tracking_number"]), []).append(scan)
    return JSONResponse({"scan": scan})


@kit.admin.post("/age")
def age_label(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{shipment_id | tracking_number, days}``: the label, its ship date and its scans move back."""
    with state.lock:
        row = next((r for r in state.shipments.values() if r["shipmentId"] == payload.get("shipment_id")
                    or r["trackingNumber"] == payload.get("tracking_number")), None)
        if row is None:
            return JSONResponse({"error": "no such label"}, status_code=404)
        age(state, row, float(payload["days"]))
        return JSONResponse({"shipment": v1_view(row, True), "scans": state.scans.get(row["trackingNumber"], [])})


@kit.admin.post("/void")
def void(state: AccountState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    with state.lock:
        row = state.shipments.get(int(payload["shipment_id"]))
        if row is None:
            return JSONResponse({"error": "no such label"}, status_code=404)
        row["voided"], row["voidDate"] = True, v1_time(datetime.now(timezone.utc))
        return JSONResponse({"shipment": v1_view(row, True)})


@kit.admin.get("/state/shipments")
def shipments(state: AccountState = kit.state) -> dict[str, Any]:
    with state.lock:
        return {"shipments": [v1_view(r, True) for r in state.shipments.values()], "scans": state.scans}
