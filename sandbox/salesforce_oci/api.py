"""OCI Inventory Availability endpoints under ``/organizations/{tenantGroupId}/availability-records``.

Shapes from the public RAML (version 1.1.14, connectors/salesforce_oci.py cites it):

* ``actions/get-availability`` ``{"skus", "locations" | "groups"}``: SKUs × places above 100 → 400
  ``InvalidRequestParameter`` (``parameterName: "skus"``); an unknown location or group → 400
  ``LocationDoesNotExist`` / ``GroupDoesNotExist``; each place answers the SKUs stocked there (an
  unknown SKU is left out: **assumed**), a group's figures summed over its locations.
* ``delta-token`` ``{"placeType": "group" | "location", "places"}`` → ``{"deltaToken"}``
  (**second-hand**, see the connector); ``actions/get-deltas`` ``{"deltaToken"}`` → ``{nextDeltaToken,
  shouldQueryAgain, records}`` with each place's figures as they are now for every SKU changed there
  since the token (``deltaType`` ``Change`` or ``Delete``), ``delta_page`` changes an answer; an unknown
  token → 400 ``InvalidRequestParameter``, one older than 23.5 hours → 410 ``ExpiredDeltaLink``.
* ``actions/batch-update`` ``{"records": [≤100 {id, sku, location, onHand, effectiveDate,
  futureStock}]}`` → 204; a record whose ``id`` was applied before is skipped (idempotence); an
  unknown location → 400 ``LocationDoesNotExist``.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.salesforce_oci.store import Record, TenantState, kit, oci_error

ACTIONS = "/organizations/{org}/availability-records"
MOST = 100


def bad(call: Call[TenantState], code: str, message: str, status: int = 400, **extra: Any) -> Exception:
    return call.refuse(oci_error(code, message, **extra), status)


def places(call: Call[TenantState], body: Record, kind: str) -> list[str]:
    wanted = [str(p) for p in body.get(f"{kind}s") or []]
    known = call.state.groups if kind == "group" else call.state.locations
    missing = [p for p in wanted if p not in known]
    if missing:
        raise bad(call, "GroupDoesNotExist" if kind == "group" else "LocationDoesNotExist",
                  f"A {kind} provided in the request does not exist: {missing[0]}.")
    return wanted


@kit.api.post(ACTIONS + "/actions/get-availability")
def get_availability(org: str, call: Call[TenantState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    skus = [str(s) for s in body.get("skus") or []]
    with call.state.lock:
        asked = {kind: places(call, body, kind) for kind in ("location", "group")}
        if not skus or len(skus) * (len(asked["location"]) + len(asked["group"])) > MOST:
            raise bad(call, "InvalidRequestParameter", "The total of SKUs per location and SKUs per group must be "
                      f"between 1 and {MOST}.", parameterName="skus")
        answer = {f"{kind}s": [{"id": place, "records": [row for sku in skus if (row := call.state.figures(
            place, kind, sku)) is not None]} for place in ids] for kind, ids in asked.items() if ids}
        return call.reply(answer)


@kit.api.post(ACTIONS + "/delta-token")
def delta_token(org: str, call: Call[TenantState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    kind = body.get("placeType")
    if kind not in ("group", "location") or not body.get("places"):
        raise bad(call, "InvalidRequestParameter", "'placeType' must be group or location and 'places' given.")
    with call.state.lock:
        ids = places(call, {f"{kind}s": body["places"]}, kind)
        return call.reply({"deltaToken": issue(call.state, kind, ids, len(call.state.changes))})


def issue(state: TenantState, kind: str, ids: list[str], position: int) -> str:
    token = secrets.token_urlsafe(32)
    state.delta_tokens[token] = {"kind": kind, "places": ids, "at": position, "issued": state.now()}
    return token


@kit.api.post(ACTIONS + "/actions/get-deltas")
def get_deltas(org: str, call: Call[TenantState] = kit.call) -> Response:
    token = (call.body or {}).get("deltaToken") if isinstance(call.body, dict) else None
    with call.state.lock:
        state, found = call.state, call.state.delta_tokens.get(str(token))
        if found is None:
            raise bad(call, "InvalidRequestParameter", "The delta token provided is invalid.")
        if found["issued"] + timedelta(seconds=state.delta_lifetime_s) <= state.now():
            raise bad(call, "ExpiredDeltaLink", "The delta token provided has expired.", 410)
        upto = min(len(state.changes), found["at"] + state.delta_page)
        records: dict[tuple[str, str], Record] = {}
        for location, sku, deleted in state.changes[found["at"]:upto]:
            for place in ([g for g in found["places"] if location in state.groups[g]] if found["kind"] == "group"
                          else [location] if location in found["places"] else []):
                row = state.figures(place, found["kind"], sku)
                records[(place, sku)] = {"id": place, "deltaType": "Delete" if row is None else "Change",
                                         **(row or {"sku": sku})}
        return call.reply({"nextDeltaToken": issue(state, found["kind"], found["places"], upto),
                           "shouldQueryAgain": upto < len(state.changes), "records": list(records.values())})


@kit.api.post(ACTIONS + "/actions/batch-update")
def batch_update(org: str, call: Call[TenantState] = kit.call) -> Response:
    rows = (call.body or {}).get("records") if isinstance(call.body, dict) else None
    if not isinstance(rows, list) or not 1 <= len(rows) <= MOST or not all(
            isinstance(r, dict) and r.get("id") and r.get("sku") and r.get("location") for r in rows):
        raise bad(call, "InvalidRequestParameter", f"'records' takes 1 to {MOST} records with id, sku and location.")
    with call.state.lock:
        state = call.state
        places(call, {"locations": [r["location"] for r in rows]}, "location")
        for row in rows:
            if row["id"] in state.applied:
                continue
            state.applied.add(row["id"])
            held = state.locations[row["location"]].setdefault(row["sku"], {
                "onHand": 0, "reserved": 0, "safetyStockCount": 0, "futures": [], "effectiveDate": None})
            held.update({k: row[k] for k in ("onHand", "safetyStockCount") if k in row},
                        effectiveDate=row.get("effectiveDate") or state.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
            if "futureStock" in row:
                held["futures"] = list(row["futureStock"])
            state.change(row["location"], row["sku"])
        return call.answer(Response(status_code=204, headers=call.headers))
