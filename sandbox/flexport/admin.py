"""The Flexport stand-in's admin endpoints (``/flexport/{instance}/_admin/…``): credentials and the
rate window, shipments booked, milestones (each an event delivered, signed, to every endpoint),
ageing a shipment so "no scan for N days" can be shown, and the state. The kit adds ``faults``,
``requests``, ``webhooks`` (list; ``POST webhooks {url, secret}`` sets up an endpoint, as Settings
does) and ``redeliver``; docs/sandbox.md lists them all.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.flexport.client import MILESTONES, ClientState, add_event, age, iso, kit, shipment_ref


@kit.admin.post("/config")
def config(state: ClientState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    with state.lock:
        state.api_key = payload.get("api_key", state.api_key)
        state.client_id = payload.get("client_id", state.client_id)
        state.client_secret = payload.get("client_secret", state.client_secret)
        state.window.limit = int(payload.get("rate_limit", state.window.limit))
        if payload.get("reset_window"):
            state.window.used = 0
        return {"rate_limit": state.window.limit, "token_requests": state.token_requests}


@kit.admin.post("/shipments")
def book(state: ClientState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{order_number?, skus?, name?, transportation_mode?, days_ago?}``: a shipment and its leg,
    with ``/shipment#schedule_confirmed``."""
    when = datetime.now(timezone.utc) - timedelta(days=float(payload.get("days_ago", 0)))
    with state.lock:
        state.next_id += 1
        metadata = {key: [str(v) for v in values] for key, values in
                    (("order_number", [payload["order_number"]] if payload.get("order_number") else []),
                     ("sku", payload.get("skus") or [])) if values}
        shipment = {"_object": "/shipments", "id": state.next_id, "name": payload.get("name", f"FLEX-{state.next_id}"),
                    "metadata": metadata, "transportation_mode": payload.get("transportation_mode", "truck"),
                    "freight_type": "door_to_door", "status": "seller_location", "created_date": iso(when),
                    "updated_at": iso(when)}
        state.shipments[shipment["id"]] = shipment
        state.next_id += 1
        state.legs[state.next_id] = {"_object": "/shipment_leg", "id": state.next_id, "shipment": shipment_ref(shipment),
                                     "origin": {"name": "Shenzhen warehouse"}, "destination": {"name": "Customer"}}
        event = add_event(state, MILESTONES["schedule_confirmed"], shipment, when, "Shenzhen warehouse")
    return {"shipment": shipment, "event": event, "deliveries": state.deliveries[-len(state.webhooks):]}


@kit.admin.post("/milestones")
def milestone(state: ClientState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """``{shipment_id, milestone: departed|arrived|out_for_delivery|delivered|exception|returned, hours_ago?,
    location?}``."""
    kind = MILESTONES.get(str(payload.get("milestone")))
    with state.lock:
        shipment = state.shipments.get(int(payload.get("shipment_id", 0)))
        if kind is None or shipment is None:
            return JSONResponse({"error": f"need a shipment_id and a milestone of {', '.join(MILESTONES)}"}, 400)
        when = datetime.now(timezone.utc) - timedelta(hours=float(payload.get("hours_ago", 0)))
        event = add_event(state, kind, shipment, when, str(payload.get("location", "Port of Oakland")))
    return JSONResponse({"event": event})


@kit.admin.post("/age")
def age_shipment(state: ClientState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    with state.lock:
        shipment = state.shipments.get(int(payload.get("shipment_id", 0)))
        if shipment is None:
            return JSONResponse({"error": "no such shipment"}, status_code=404)
        age(state, shipment, float(payload["days"]))
        return JSONResponse({"shipment": shipment})


@kit.admin.get("/state/events")
def events(state: ClientState = kit.state) -> dict[str, Any]:
    with state.lock:
        return {"events": state.events, "token_requests": state.token_requests}
