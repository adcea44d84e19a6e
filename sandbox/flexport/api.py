"""Flexport API endpoints: the token exchange, shipments, shipment legs and the event list, each
list in the paginated envelope with an absolute ``next`` URL (``page`` from 1, ``per`` 1–100)."""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlencode

from fastapi.responses import Response

from sandbox.flexport.client import ClientState, envelope, error, issue_token, kit, read_iso
from sandbox.kit import Call


def paginated(call: Call[ClientState], rows: list[dict[str, Any]]) -> Response:
    """https://apidocs.flexport.com/v2/tag/Shipment : ``{"_object": "/api/collections/paginated",
    "prev", "next", "data"}`` inside the response envelope."""
    try:
        page, per = int(call.query.get("page", 1)), int(call.query.get("per", 20))
    except ValueError:
        raise call.refuse(error(400, "invalid_param", "page and per must be integers"), 400) from None
    if page < 1 or not 1 <= per <= 100:
        raise call.refuse(error(400, "invalid_param", "per should be between 1 and 100 (inclusive)"), 400)
    base = str(call.request.url).split("?")[0]

    def link(to: int) -> str:
        return f"{base}?{urlencode({**call.query, 'page': to})}"

    more = page * per < len(rows)
    return call.reply(envelope(call, {"_object": "/api/collections/paginated", "prev": link(page - 1) if page > 1
                                      else None, "next": link(page + 1) if more else None,
                                      "data": rows[(page - 1) * per: page * per]}))


def ordered(call: Call[ClientState], rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
            ) -> list[dict[str, Any]]:
    return sorted(rows, key=key, reverse=call.query.get("direction", "desc") == "desc")


@kit.api.post("/oauth/token")
def token(call: Call[ClientState] = kit.call) -> Response:
    with call.state.lock:
        status, body = issue_token(call.state, call.body if isinstance(call.body, dict) else {})
    return call.reply(body, status)


@kit.api.get("/shipments")
def list_shipments(call: Call[ClientState] = kit.call) -> Response:
    field = call.query.get("sort", "id")
    with call.state.lock:
        return paginated(call, ordered(call, list(call.state.shipments.values()), lambda s: str(s.get(field))))


@kit.api.get("/shipments/{shipment_id}")
def get_shipment(shipment_id: int, call: Call[ClientState] = kit.call) -> Response:
    shipment = call.state.shipments.get(shipment_id)
    if shipment is None:
        raise call.refuse(error(404, "not_found", f"Shipment {shipment_id} not found"), 404)
    return call.reply(envelope(call, shipment))


@kit.api.get("/shipment_legs")
def list_legs(call: Call[ClientState] = kit.call) -> Response:
    wanted = call.query.get("f.shipment.id")
    with call.state.lock:
        legs = [leg for leg in call.state.legs.values() if wanted in (None, str(leg["shipment"]["id"]))]
        return paginated(call, ordered(call, legs, lambda leg: leg["id"]))


@kit.api.get("/events")
def list_events(call: Call[ClientState] = kit.call) -> Response:
    """https://apidocs.flexport.com/v3/tag/Event/ : ``f.type``, ``f.occurred_at.gte`` / ``.lte``,
    ``f.data.shipment.id``."""
    q = call.query
    try:
        low, high = (read_iso(q[k]) if q.get(k) else None for k in ("f.occurred_at.gte", "f.occurred_at.lte"))
    except ValueError:
        raise call.refuse(error(400, "invalid_param", "f.occurred_at must be an ISO 8601 date-time"), 400) from None
    with call.state.lock:
        rows = [e for e in call.state.events if q.get("f.type") in (None, e["type"])
                and q.get("f.data.shipment.id") in (None, str(e["data"]["shipment"]["id"]))
                and (low is None or read_iso(e["occurred_at"]) >= low) and (high is None or read_iso(e["occurred_at"]) <= high)]
        return paginated(call, ordered(call, rows, lambda e: e["id"]))
