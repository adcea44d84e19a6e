"""Zendesk Support stand-in, served at ``/zendesk/{instance}/api/v2/…`` (the connector's base URL
is ``/zendesk/{instance}``, standing for ``https://{subdomain}.zendesk.com``).

Follows Zendesk's public API reference where the connector leans on it:

* Auth: HTTP Basic ``{email}/token:{api_token}`` or ``Authorization: Bearer {oauth_token}``;
  anything else → 401 ``{"error": "Couldn't authenticate you"}``
  (https://developer.zendesk.com/api-reference/introduction/security-and-auth/).
* ``GET /api/v2/incremental/tickets/cursor.json`` with ``start_time`` (unix) or ``cursor``,
  ``per_page`` (≤ 1000), ``include=users``: tickets in update order, ``after_cursor`` /
  ``after_url``, ``end_of_stream``; tickets updated in the last minute are left out; 10 requests
  a minute (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/).
* ``GET|PUT /api/v2/tickets/{id}.json``: ``tags``, ``additional_tags``, ``priority`` (low, normal,
  high, urgent — else 422 ``RecordInvalid``), ``status``, ``assignee_id``, ``group_id``,
  ``custom_fields: [{id, value}]``, ``comment: {body, public}`` (a comment is public unless
  ``public: false``); answers ``{ticket, audit}``
  (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket).
* ``GET /api/v2/tickets/{id}/comments.json`` (``sort_order`` asc|desc)
  (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/).
* Rate limit: 700 requests a minute by default; 429 with ``Retry-After`` seconds
  (https://developer.zendesk.com/api-reference/introduction/rate-limits/).
* Webhooks: ``_admin/tickets`` creates a ticket as a customer would and sends
  ``zen:event-type:ticket.created`` to each subscription (``_admin/webhooks``; one made with
  ``"body": "trigger"`` gets what a trigger with ``connectors.helpdesk.zendesk.TRIGGER_BODY``
  sends, the placeholders filled: https://support.zendesk.com/hc/en-us/articles/4408886858138), signed
  ``X-Zendesk-Webhook-Signature`` = base64 HMAC-SHA256(secret, timestamp + body) with
  ``X-Zendesk-Webhook-Signature-Timestamp`` (https://developer.zendesk.com/documentation/webhooks/verifying/).
* Solving and re-opening: ``_admin/tickets/{id}/status`` ``{status, agent_id}`` is an agent
  changing the status in Zendesk (``new``, ``open``, ``pending``, ``hold``, ``solved``, ``closed``;
  solving gives an unassigned ticket to that agent, as Zendesk asks for an assignee first), and so
  is ``PUT …/tickets/{id}.json`` with another ``status`` (the API user, id 1, as actor). Either
  sends ``zen:event-type:ticket.status_changed`` — ``detail`` with the ids as strings,
  ``actor_id`` and the status in capitals, ``event: {current, previous}`` — to the subscriptions
  of that type, and ``connectors.helpdesk.zendesk.TRIGGER_BODY`` with ``"event":
  "ticket.status_changed"``, filled, to trigger subscriptions (``{{ticket.status}}`` renders
  ``Solved``, ``{{current_user.id}}`` the agent)
  (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse, Response

from sandbox.kit import Answer, Call, StandIn, Window, add_action, add_state_view, known, post, send, subscribe
from sandbox.kit.auth import basic_credentials
from sandbox.kit.helpdesk import (HelpdeskState, PathWindows, after, decode_cursor, encode_cursor, iso_z,
                                  limit_settings)
from sandbox.kit.limits import retry_after_seconds
from sandbox.kit.webhooks import hmac_sha256_b64

DEFAULT_EMAIL, DEFAULT_TOKEN, DEFAULT_OAUTH = "agent@futon.example", "zd_token_sandbox", "zd_oauth_sandbox"
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
CREATED = "zen:event-type:ticket.created"
STATUS_CHANGED = "zen:event-type:ticket.status_changed"
API_USER_ID = 1


@dataclass
class ZendeskState(HelpdeskState):
    email: str = DEFAULT_EMAIL
    api_token: str = DEFAULT_TOKEN
    oauth_token: str = DEFAULT_OAUTH
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    window: Window = field(default_factory=lambda: Window(700, 60.0))
    export_window: Window = field(default_factory=lambda: Window(10, 60.0))


def error(kind: str, description: str, status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": kind, "description": description, **extra}, status_code=status)


def authenticate(call: Call[ZendeskState]) -> JSONResponse | None:
    state, header = call.state, call.request.headers.get("Authorization", "")
    if header == f"Bearer {state.oauth_token}":
        return None
    user, password = basic_credentials(call.request)
    if user == f"{state.email}/token" and password == state.api_token:
        return None
    return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)


kit: StandIn[ZendeskState] = StandIn(
    "zendesk", "/api/v2", ZendeskState, auth=authenticate,
    error_body=lambda status: {"error": "InternalError", "description": "Something went wrong"},
    limit=PathWindows(lambda: {"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per "
                               "minute exceeded"}, retry_after_seconds, paths=(("/incremental/", "export_window"),)),
    clock_view=lambda now: {"now": iso_z(now)}, webhook_admin=True, redeliver=post,
    subscribe=lambda state, payload: subscribe(state, {"topics": [CREATED, STATUS_CHANGED], **payload},
                                               body=payload.get("body", "event")))
install = kit.install


def updated_key(ticket: dict[str, Any]) -> tuple[int, str]:
    return ticket["_updated"], str(ticket["id"])


def public(ticket: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ticket.items() if not k.startswith("_")}


def touch(state: ZendeskState, ticket: dict[str, Any]) -> None:
    ticket["updated_at"], ticket["_updated"] = iso_z(state.now()), state.unix()


@kit.api.get("/incremental/tickets/cursor.json")
def export(call: Call[ZendeskState] = kit.call) -> Response:
    query, state = call.query, call.state
    per_page = min(int(query.get("per_page") or 1000), 1000)
    with state.lock:
        if query.get("cursor"):
            position = decode_cursor(query["cursor"])
            if position is None:
                return call.reply({"error": "InvalidPaginationParameter", "description": "cursor is invalid"}, 422)
        elif query.get("start_time", "").isdigit():
            position = (int(query["start_time"]) - 1, str(2 ** 62))
        else:
            return call.reply({"error": "InvalidValue", "description": "start_time or cursor is required"}, 400)
        settled = [t for t in state.tickets.values() if t["_updated"] <= state.unix() - 60]
        rest = after(settled, position, updated_key)
        page = rest[:per_page]
        last = updated_key(page[-1]) if page else position
        cursor = encode_cursor(*last)
        body: dict[str, Any] = {"tickets": [public(t) for t in page], "after_cursor": cursor,
                                "after_url": f"{call.request.url.remove_query_params(['cursor', 'start_time'])}"
                                             f"&cursor={cursor}", "before_cursor": None, "before_url": None,
                                "end_of_stream": len(rest) <= per_page}
        if "users" in query.get("include", ""):
            body["users"] = [state.users[str(t["requester_id"])] for t in page if str(t["requester_id"]) in state.users]
    return call.reply(json.loads(json.dumps(body)))


@kit.api.get("/tickets/{ticket_id}.json")
def get_ticket(ticket_id: str, call: Call[ZendeskState] = kit.call) -> Response:
    with call.state.lock:
        ticket = call.state.tickets.get(ticket_id)
        if ticket is None:
            return call.reply({"error": "RecordNotFound", "description": "Not found"}, 404)
        users = [call.state.users[str(ticket["requester_id"])]] if "users" in call.query.get("include", "") else []
        return call.reply(json.loads(json.dumps({"ticket": public(ticket), "users": users})))


@kit.api.put("/tickets/{ticket_id}.json")
def update_ticket(ticket_id: str, call: Call[ZendeskState] = kit.call) -> Response:
    state, changes = call.state, (call.body or {}).get("ticket") if isinstance(call.body, dict) else None
    if not isinstance(changes, dict):
        return call.reply({"error": "InvalidEndpoint", "description": "Expected a ticket object"}, 400)
    with state.lock:
        ticket = state.tickets.get(ticket_id)
        if ticket is None:
            return call.reply({"error": "RecordNotFound", "description": "Not found"}, 404)
        for name, allowed in (("priority", PRIORITIES), ("status", STATUSES)):
            if changes.get(name) not in (None, *allowed):
                return call.reply({"error": "RecordInvalid", "description": "Record validation errors", "details": {
                    name: [{"description": f"{name.title()}: is not valid", "error": "InvalidValue"}]}}, 422)
        previous = ticket["status"]
        for name in ("priority", "status", "assignee_id", "group_id", "subject"):
            if name in changes:
                ticket[name] = changes[name]
        if "tags" in changes:
            ticket["tags"] = list(dict.fromkeys(changes["tags"]))
        ticket["tags"] = list(dict.fromkeys([*ticket["tags"], *changes.get("additional_tags", [])]))
        fields = {str(f["id"]): f.get("value") for f in ticket["custom_fields"]}
        fields.update({str(f["id"]): f.get("value") for f in changes.get("custom_fields", [])})
        ticket["custom_fields"] = [{"id": k, "value": v} for k, v in fields.items()]
        audit = {"id": state.next_id(), "ticket_id": int(ticket_id), "created_at": iso_z(state.now()), "events": []}
        comment = changes.get("comment")
        if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
            added = {"id": state.next_id(), "type": "Comment", "author_id": comment.get("author_id", 1),
                     "body": comment.get("body") or comment.get("html_body"), "public": comment.get("public", True),
                     "created_at": iso_z(state.now())}
            state.comments[ticket_id].append(added)
            audit["events"].append(added)
        touch(state, ticket)
        if ticket["status"] != previous:
            status_changed(state, ticket, previous, API_USER_ID)
        return call.reply(json.loads(json.dumps({"ticket": public(ticket), "audit": audit})))


@kit.api.get("/tickets/{ticket_id}/comments.json")
def list_comments(ticket_id: str, call: Call[ZendeskState] = kit.call) -> Response:
    with call.state.lock:
        if ticket_id not in call.state.tickets:
            return call.reply({"error": "RecordNotFound", "description": "Not found"}, 404)
        comments = list(call.state.comments[ticket_id])
    if call.query.get("sort_order") == "desc":
        comments.reverse()
    return call.reply({"comments": comments, "next_page": None, "previous_page": None, "count": len(comments)})


def sign(state: ZendeskState, hook: dict[str, Any], body: bytes) -> dict[str, str]:
    stamp = iso_z(state.now())
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Id": f"01H{hook['id']:020d}",
            "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4().int)[:19], "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Signature": hmac_sha256_b64(hook["secret"], stamp.encode() + body)}


def create_ticket(state: ZendeskState, payload: dict[str, Any]) -> dict[str, Any]:
    """A customer writes in: ``email``, ``name``, ``subject``, ``body``, ``channel`` (web, email,
    chat…), ``tags``, ``priority``, ``locale``, ``age_s`` (how long ago). Sends ticket.created."""
    when = state.now() - timedelta(seconds=float(payload.get("age_s", 0)))
    email = str(payload.get("email", "ana@example.com"))
    user = next((u for u in state.users.values() if u["email"] == email), None) or {
        "id": state.next_id(), "email": email, "name": payload.get("name", "Ana Lima"), "role": "end-user"}
    state.users[str(user["id"])] = user
    ticket_id, body = state.next_id(), str(payload.get("body", "Where is my order?"))
    ticket = {"id": ticket_id, "url": f"/api/v2/tickets/{ticket_id}.json", "subject": payload.get("subject", "Order"),
              "description": body, "status": "new", "priority": payload.get("priority"), "type": None,
              "requester_id": user["id"], "submitter_id": user["id"], "assignee_id": None, "group_id": None,
              "tags": list(payload.get("tags", [])), "custom_fields": [], "locale": payload.get("locale"),
              "via": {"channel": payload.get("channel", "web"), "source": {"from": {"address": email}}},
              "created_at": iso_z(when), "updated_at": iso_z(when), "_updated": int(when.timestamp())}
    state.tickets[str(ticket_id)] = ticket
    state.comments[str(ticket_id)] = [{"id": state.next_id(), "type": "Comment", "author_id": user["id"],
                                       "body": body, "public": True, "created_at": iso_z(when)}]
    detail = {k: public(ticket)[k] for k in ("id", "subject", "description", "status", "priority", "requester_id",
                                             "assignee_id", "group_id", "tags", "via", "created_at", "updated_at")}
    event = {"type": CREATED, "account_id": 1001, "id": str(uuid.uuid4()), "time": iso_z(state.now()),
             "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket_id}", "detail": detail, "event": {}}
    return {"ticket": public(ticket), "webhooks": deliver(state, CREATED, event, trigger_body(
        state, ticket, "ticket.created", user["id"]))}


def trigger_body(state: ZendeskState, ticket: dict[str, Any], event: str, actor_id: Any) -> dict[str, Any]:
    """What a trigger with ``TRIGGER_BODY`` (its ``event`` as given) sends: the placeholders filled."""
    user = state.users.get(str(ticket["requester_id"]), {})
    return {"event": event, "ticket": {
        **{k: public(ticket)[k] for k in ("id", "subject", "description", "priority", "requester_id", "via",
                                          "created_at", "updated_at")},
        "status": str(ticket["status"]).title(), "tags": " ".join(ticket["tags"]), "locale": ticket["locale"] or "",
        "requester_email": user.get("email", ""), "requester_name": user.get("name", ""), "actor_id": str(actor_id)}}


def deliver(state: ZendeskState, topic: str, event: dict[str, Any], trigger: dict[str, Any]) -> list[dict[str, Any]]:
    """The event to each subscription of its type (a trigger subscription gets the trigger's body)."""
    deliveries = []
    for hook in [hook for hook in list(state.webhooks) if topic in hook["topics"]]:
        raw = json.dumps(trigger if hook.get("body") == "trigger" else event).encode()
        deliveries.append(send(state, hook, topic, raw, sign(state, hook, raw), event_id=event["id"]))
    return deliveries


def status_changed(state: ZendeskState, ticket: dict[str, Any], previous: str, actor_id: Any) -> list[dict[str, Any]]:
    """Send ``ticket.status_changed`` for the ticket's new status (its ``updated_at`` already moved)."""
    detail = {k: (str(v) if k.endswith("id") and v is not None else v) for k, v in public(ticket).items() if k in (
        "id", "subject", "description", "priority", "requester_id", "submitter_id", "assignee_id", "group_id",
        "tags", "via", "created_at", "updated_at")}
    detail.update(status=ticket["status"].upper(), actor_id=str(actor_id), is_public=True)
    event = {"type": STATUS_CHANGED, "account_id": 1001, "id": str(uuid.uuid4()), "time": iso_z(state.now()),
             "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket['id']}", "detail": detail,
             "event": {"current": ticket["status"].upper(), "previous": previous.upper()}}
    return deliver(state, STATUS_CHANGED, event, trigger_body(state, ticket, "ticket.status_changed", actor_id))


add_action(kit, "/tickets", create_ticket)
add_action(kit, "/config", lambda state, payload: limit_settings(state, payload, "window", "export_window"))
add_state_view(kit, "tickets", lambda state: [{**public(t), "comments": state.comments[k]}
                                              for k, t in state.tickets.items()])


@kit.admin.post("/tickets/{ticket_id}/status")
def set_status(ticket_id: str, state: ZendeskState = kit.state,
               payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """An agent (``agent_id``) sets the ticket's ``status`` in Zendesk; the webhooks it sends."""
    with state.lock:
        ticket = known(state.tickets.get(ticket_id), f"ticket {ticket_id}")
        status, agent = str(payload.get("status", "solved")), int(payload.get("agent_id", 3721))
        if status not in STATUSES:
            raise Answer(JSONResponse({"error": f"status must be one of {', '.join(STATUSES)}"}, status_code=400))
        previous = ticket["status"]
        if status in ("solved", "closed") and ticket["assignee_id"] is None:
            ticket["assignee_id"] = agent
        ticket["status"] = status
        touch(state, ticket)
        sent = status_changed(state, ticket, previous, agent) if status != previous else []
        return json.loads(json.dumps({"ticket": public(ticket), "webhooks": sent}))


@kit.admin.get("/state/tickets/{ticket_id}")
def ticket_state(ticket_id: str, state: ZendeskState = kit.state) -> dict[str, Any]:
    with state.lock:
        ticket = known(state.tickets.get(ticket_id), f"ticket {ticket_id}")
        return json.loads(json.dumps({**public(ticket), "comments": state.comments[ticket_id]}))
