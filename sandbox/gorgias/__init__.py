"""Gorgias stand-in, served at ``/gorgias/{instance}/api/…`` (the connector's base URL is
``/gorgias/{instance}``, standing for ``https://{account}.gorgias.com``).

Follows Gorgias' public API reference where the connector leans on it:

* Auth: HTTP Basic ``email:api_key`` (https://developers.gorgias.com/docs/access-tokens-api-keys);
  else 401 ``{"error": {"msg": …}}``.
* ``GET /api/tickets``: cursor paging (``limit`` ≤ 100, default 30; ``cursor``; answer ``{data,
  object: "list", uri, meta: {prev_cursor, next_cursor}}``), ``order_by`` ``created_datetime`` or
  ``updated_datetime`` with ``:asc`` / ``:desc`` (https://developers.gorgias.com/reference/pagination-1);
  ``GET /api/tickets/{id}`` with its ``messages``.
* ``PUT /api/tickets/{id}`` (``priority`` low|normal|high|critical, ``assignee_user``,
  ``assignee_team``, ``status``), ``POST /api/tickets/{id}/tags`` (``names``), ``PUT
  /api/tickets/{id}/custom-fields`` (``[{id, value}]``), ``GET|POST /api/tickets/{id}/messages``:
  a message needs ``channel``, ``via``, ``from_agent``; ``internal-note`` must be ``from_agent``
  (https://developers.gorgias.com/docs/create-a-new-message-in-ticket-via-api).
* Rate limit: a leaky bucket of 40 calls per 20 s (2 a second), 429 with ``Retry-after`` and
  ``X-Gorgias-Account-Api-Call-Limit: used/40`` (https://developers.gorgias.com/reference/limitations).
* HTTP integrations are unsigned: ``_admin/tickets`` creates a ticket as a customer would and
  POSTs ``{"event": "ticket-created", "ticket": {…}}`` to each subscription with the ``headers``
  it was made with (``_admin/webhooks`` ``{address, secret}`` → header ``X-Backorders-Token``).
* Closing and re-opening: ``status`` is ``open`` or ``closed``, with ``closed_datetime``
  (https://developers.gorgias.com/reference/the-ticket-object). ``_admin/tickets/{id}/status``
  ``{status, agent_id}`` is an agent closing (or re-opening) the ticket in Gorgias — an unassigned
  one is theirs first — and so is ``PUT /api/tickets/{id}`` with another ``status``; either POSTs
  the ``ticket-updated`` form (``{"event": "ticket-updated", "ticket": {…, "status",
  "assignee_user": {"id"}, "closed_datetime", "updated_datetime"}}``, the ticket's fields:
  https://developers.gorgias.com/reference/the-ticket-object) to its subscriptions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse, Response

from sandbox.kit import Answer, Bucket, Call, LeakyBucket, StandIn, add_action, add_state_view, known, post, subscribe
from sandbox.kit.auth import basic_credentials
from sandbox.kit.helpdesk import HelpdeskState, decode_cursor, encode_cursor, iso_z
from sandbox.kit.webhooks import echoing

DEFAULT_EMAIL, DEFAULT_KEY = "agent@futon.example", "gorgias_key_sandbox"
PRIORITIES = ("low", "normal", "high", "critical")
STATUSES = ("open", "closed")
CHANNELS = ("api", "email", "chat", "phone", "sms", "internal-note", "contact_form", "facebook", "instagram")


@dataclass
class GorgiasState(HelpdeskState):
    email: str = DEFAULT_EMAIL
    api_key: str = DEFAULT_KEY
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    bucket: Bucket = field(default_factory=lambda: Bucket(size=40, leak_rate=2.0))


def authenticate(call: Call[GorgiasState]) -> JSONResponse | None:
    user, key = basic_credentials(call.request)
    if (user, key) == (call.state.email, call.state.api_key):
        return None
    return JSONResponse({"error": {"msg": "Unauthorized"}}, status_code=401)


kit: StandIn[GorgiasState] = StandIn(
    "gorgias", "/api", GorgiasState, auth=authenticate,
    error_body=lambda status: {"error": {"msg": "Internal server error"}},
    limit=LeakyBucket("X-Gorgias-Account-Api-Call-Limit", retry_after="1",
                      body=lambda: {"error": {"msg": "Too many requests"}}),
    clock_view=lambda now: {"now": iso_z(now)}, webhook_admin=True, redeliver=post,
    subscribe=lambda state, payload: subscribe(state, {"topics": ["ticket-created", "ticket-updated"], **payload},
                                               headers={"X-Backorders-Token": payload["secret"]}))
install = kit.install


def public(ticket: dict[str, Any], messages: bool = True) -> dict[str, Any]:
    return {k: v for k, v in ticket.items() if not k.startswith("_") and (messages or k != "messages")}


def invalid(call: Call[GorgiasState], message: str, status: int = 400) -> Response:
    return call.reply({"error": {"msg": message}}, status)


def found(call: Call[GorgiasState], ticket_id: str) -> dict[str, Any]:
    ticket = call.state.tickets.get(ticket_id)
    if ticket is None:
        raise call.refuse({"error": {"msg": "Resource not found."}}, 404)
    return ticket


def touch(state: GorgiasState, ticket: dict[str, Any]) -> None:
    ticket["updated_datetime"] = state.now().isoformat()
    ticket["_updated"] = state.unix()


@kit.api.get("/tickets")
def list_tickets(call: Call[GorgiasState] = kit.call) -> Response:
    query = call.query
    limit = int(query.get("limit") or 30)
    field_name, _, direction = (query.get("order_by") or "created_datetime:desc").partition(":")
    if field_name not in ("created_datetime", "updated_datetime") or direction not in ("asc", "desc", ""):
        return invalid(call, f"Invalid order_by: {query.get('order_by')}")
    if not 1 <= limit <= 100:
        return invalid(call, "limit must be between 1 and 100")
    with call.state.lock:
        key = "_updated" if field_name == "updated_datetime" else "_created"
        ordered = sorted(call.state.tickets.values(), key=lambda t: (t[key], t["id"]), reverse=direction != "asc")
        start = 0
        if query.get("cursor"):
            position = decode_cursor(query["cursor"])
            if position is None:
                return invalid(call, "Invalid cursor")
            start = next((n + 1 for n, t in enumerate(ordered) if str(t["id"]) == position[1]), len(ordered))
        page = ordered[start:start + limit]
        more = start + limit < len(ordered)
        body = {"data": [public(t, messages=False) for t in page], "object": "list", "uri": "/api/tickets",
                "meta": {"prev_cursor": None, "next_cursor": encode_cursor(page[-1][key], page[-1]["id"])
                         if more and page else None}}
        return call.reply(json.loads(json.dumps(body)))


@kit.api.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: str, call: Call[GorgiasState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply(json.loads(json.dumps(public(found(call, ticket_id)))))


@kit.api.put("/tickets/{ticket_id}")
def update_ticket(ticket_id: str, call: Call[GorgiasState] = kit.call) -> Response:
    changes = call.body if isinstance(call.body, dict) else {}
    with call.state.lock:
        ticket = found(call, ticket_id)
        for name, allowed in (("priority", PRIORITIES), ("status", STATUSES)):
            if changes.get(name) not in (None, *allowed):
                return invalid(call, f"{name}: Must be one of: {', '.join(allowed)}.")
        previous = ticket["status"]
        for name in ("priority", "subject", "assignee_user", "assignee_team"):
            if name in changes:
                ticket[name] = changes[name]
        touch(call.state, ticket)
        if changes.get("status", previous) != previous:
            set_status(call.state, ticket, changes["status"])
        return call.reply(json.loads(json.dumps(public(ticket))))


@kit.api.post("/tickets/{ticket_id}/tags")
def add_tags(ticket_id: str, call: Call[GorgiasState] = kit.call) -> Response:
    names = (call.body or {}).get("names") if isinstance(call.body, dict) else None
    if not isinstance(names, list) or not names:
        return invalid(call, "names or ids: Missing data for required field.")
    with call.state.lock:
        ticket = found(call, ticket_id)
        have = [t["name"] for t in ticket["tags"]]
        ticket["tags"] += [{"id": call.state.next_id(), "name": n} for n in dict.fromkeys(names) if n not in have]
        touch(call.state, ticket)
    return call.answer(Response(status_code=204))


@kit.api.put("/tickets/{ticket_id}/custom-fields")
def set_custom_fields(ticket_id: str, call: Call[GorgiasState] = kit.call) -> Response:
    values = call.body
    if not isinstance(values, list) or not all(isinstance(v, dict) and isinstance(v.get("id"), int) for v in values):
        return invalid(call, "Expected a list of {id, value} objects")
    with call.state.lock:
        ticket = found(call, ticket_id)
        ticket["custom_fields"].update({str(v["id"]): {"id": v["id"], "value": v.get("value")} for v in values})
        return call.reply({"data": list(ticket["custom_fields"].values())})


@kit.api.get("/tickets/{ticket_id}/messages")
def list_messages(ticket_id: str, call: Call[GorgiasState] = kit.call) -> Response:
    with call.state.lock:
        messages = list(found(call, ticket_id)["messages"])
    return call.reply({"data": messages, "object": "list", "meta": {"prev_cursor": None, "next_cursor": None}})


@kit.api.post("/tickets/{ticket_id}/messages")
def create_message(ticket_id: str, call: Call[GorgiasState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    missing = [name for name in ("channel", "via", "from_agent") if name not in body]
    if missing:
        return invalid(call, "; ".join(f"{name}: Missing data for required field." for name in missing))
    if body["channel"] not in CHANNELS:
        return invalid(call, f"channel: Must be one of: {', '.join(CHANNELS)}.")
    if body["channel"] == "internal-note" and body["from_agent"] is not True:
        return invalid(call, "An internal note is always from an agent.")
    if not (body.get("body_text") or body.get("body_html")):
        return invalid(call, "body_text or body_html is required")
    with call.state.lock:
        ticket = found(call, ticket_id)
        message = {"id": call.state.next_id(), "ticket_id": int(ticket_id), "channel": body["channel"],
                   "via": body["via"], "from_agent": body["from_agent"], "sender": body.get("sender"),
                   "body_text": body.get("body_text"), "body_html": body.get("body_html"),
                   "public": body["channel"] != "internal-note", "created_datetime": call.state.now().isoformat()}
        ticket["messages"].append(message)
        touch(call.state, ticket)
    return call.reply(message, 201)


def create_ticket(state: GorgiasState, payload: dict[str, Any]) -> dict[str, Any]:
    """A customer writes in: ``email``, ``name``, ``subject``, ``body``, ``channel``, ``tags``,
    ``language``, ``age_s``. POSTs ``ticket-created`` to each subscription."""
    when = state.now() - timedelta(seconds=float(payload.get("age_s", 0)))
    ticket_id, body = state.next_id(), str(payload.get("body", "Where is my order?"))
    customer = {"id": state.next_id(), "email": payload.get("email", "ana@example.com"),
                "name": payload.get("name", "Ana Lima")}
    ticket = {"id": ticket_id, "subject": payload.get("subject", "Order"), "channel": payload.get("channel", "email"),
              "via": payload.get("channel", "email"), "status": "open", "priority": "normal", "customer": customer,
              "assignee_user": None, "assignee_team": None, "closed_datetime": None,
              "language": payload.get("language"), "excerpt": body[:100],
              "tags": [{"id": state.next_id(), "name": n} for n in payload.get("tags", [])], "custom_fields": {},
              "created_datetime": when.isoformat(), "updated_datetime": when.isoformat(),
              "messages": [{"id": state.next_id(), "ticket_id": ticket_id, "channel": payload.get("channel", "email"),
                            "via": "email", "from_agent": False, "sender": customer, "body_text": body,
                            "public": True, "created_datetime": when.isoformat()}],
              "_created": int(when.timestamp()), "_updated": int(when.timestamp())}
    state.tickets[str(ticket_id)] = ticket
    form = {"event": "ticket-created", "ticket": {k: public(ticket)[k] for k in (
        "id", "subject", "channel", "status", "priority", "customer", "tags", "language", "messages",
        "created_datetime", "updated_datetime")}}
    return {"ticket": public(ticket), "webhooks": echoing(state, "ticket-created", json.dumps(form).encode())}


def set_status(state: GorgiasState, ticket: dict[str, Any], status: str) -> list[dict[str, Any]]:
    """Close or re-open the ticket now; POSTs ``ticket-updated`` to each subscription."""
    ticket["status"], ticket["closed_datetime"] = status, state.now().isoformat() if status == "closed" else None
    touch(state, ticket)
    form = {"event": "ticket-updated", "ticket": {
        **{k: public(ticket)[k] for k in ("id", "subject", "channel", "status", "priority", "customer", "tags",
                                          "language", "closed_datetime", "created_datetime", "updated_datetime")},
        "assignee_user": {"id": (ticket["assignee_user"] or {}).get("id")},
        "assignee_team": {"id": (ticket["assignee_team"] or {}).get("id")}}}
    return echoing(state, "ticket-updated", json.dumps(form).encode())


@kit.admin.post("/tickets/{ticket_id}/status")
def change_status(ticket_id: str, state: GorgiasState = kit.state,
                  payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """An agent (``agent_id``) closes (``status: closed``) or re-opens (``open``) the ticket."""
    with state.lock:
        ticket = known(state.tickets.get(ticket_id), f"ticket {ticket_id}")
        status = str(payload.get("status", "closed"))
        if status not in STATUSES:
            raise Answer(JSONResponse({"error": f"status must be one of {', '.join(STATUSES)}"}, status_code=400))
        if ticket["assignee_user"] is None and payload.get("agent_id") is not None:
            ticket["assignee_user"] = {"id": int(payload["agent_id"]), "email": f"agent{payload['agent_id']}@futon.example"}
        sent = set_status(state, ticket, status) if status != ticket["status"] else []
        return json.loads(json.dumps({"ticket": public(ticket), "webhooks": sent}))


add_action(kit, "/tickets", create_ticket)
add_state_view(kit, "tickets", lambda state: [public(t) for t in state.tickets.values()])


@kit.admin.post("/config")
def config(state: GorgiasState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    with state.lock:
        state.bucket.size = float(payload.get("bucket_size", state.bucket.size))
        state.bucket.leak_rate = float(payload.get("leak_rate", state.bucket.leak_rate))
        state.bucket.fill(float(payload.get("level", state.bucket.level)))
        return {"bucket_size": state.bucket.size, "leak_rate": state.bucket.leak_rate}


@kit.admin.get("/state/tickets/{ticket_id}")
def ticket_state(ticket_id: str, state: GorgiasState = kit.state) -> dict[str, Any]:
    with state.lock:
        return json.loads(json.dumps(public(known(state.tickets.get(ticket_id), f"ticket {ticket_id}"))))
