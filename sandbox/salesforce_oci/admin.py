"""The OCI stand-in's admin endpoints (``/salesforce_oci/{instance}/_admin/…``): seed the locations,
groups and the API client, change stock as an order or a warehouse feed would, and the state tests
assert on. The kit adds ``faults``, ``requests`` and ``clock``; every endpoint is listed in
docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body

from sandbox.kit import Setting, add_config, add_state_view, known, plain
from sandbox.salesforce_oci.store import Record, TenantState, kit


def stocked(state: TenantState, spec: Record) -> Record:
    return {"onHand": spec.get("onHand", 0), "reserved": spec.get("reserved", 0),
            "safetyStockCount": spec.get("safetyStockCount", 0), "futures": list(spec.get("futures") or []),
            "effectiveDate": state.now().strftime("%Y-%m-%dT%H:%M:%SZ")}


@kit.admin.post("/seed")
def seed(state: TenantState = kit.state, payload: Record = Body(default_factory=dict)) -> Any:
    """``{"locations": {id: {sku: {onHand, reserved?, safetyStockCount?, futures?}}}, "groups": {id:
    [location ids]}}``; seeding is no change (a delta token taken after it reads none of it)."""
    with state.lock:
        state.locations = {loc: {sku: stocked(state, spec) for sku, spec in skus.items()}
                           for loc, skus in (payload.get("locations") or {}).items()}
        state.groups = {g: list(locs) for g, locs in (payload.get("groups") or {}).items()}
        state.changes, state.delta_tokens, state.applied = [], {}, set()
        return plain({"locations": {loc: sorted(skus) for loc, skus in state.locations.items()}})


@kit.admin.post("/set_stock")
def set_stock(state: TenantState = kit.state, payload: Record = Body(...)) -> Any:
    """``{location, sku, onHand?, reserved?, futures?, delete?}``: a change OCI records as a delta."""
    with state.lock:
        skus = known(state.locations.get(payload["location"]), f"location {payload['location']}")
        if payload.get("delete"):
            skus.pop(payload["sku"], None)
        else:
            row = skus.setdefault(payload["sku"], stocked(state, {}))
            row.update({k: payload[k] for k in ("onHand", "reserved", "safetyStockCount", "futures") if k in payload},
                       effectiveDate=state.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        state.change(payload["location"], payload["sku"], bool(payload.get("delete")))
        return plain({"changes": len(state.changes)})


add_config(kit, {"client_id": Setting("client_id"), "client_secret": Setting("client_secret", show=None),
                 "tenant_id": Setting("tenant_id"), "token_lifetime_s": Setting("token_lifetime_s", int),
                 "delta_page": Setting("delta_page", int), "limit": Setting("window.limit", int),
                 "window_s": Setting("window.seconds", float), "used": Setting("window.used", int)})
add_state_view(kit, "token_requests", lambda state: state.token_requests)
add_state_view(kit, "locations", lambda state: state.locations)
