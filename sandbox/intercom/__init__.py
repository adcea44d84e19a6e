"""Intercom stand-in, served at ``/intercom/{instance}/…`` (the connector's base URL, standing for
``https://api.intercom.io``).

Follows Intercom's public API reference where the connector leans on it:

* Auth: ``Authorization: Bearer <access token>``; else 401 ``{"type": "error.list", "errors":
  [{"code": "unauthorized", "message": "Access Token Invalid"}]}``. ``Intercom-Version`` must be a
  2.x version when sent (https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/api-versioning).
* ``POST /conversations/search``: ``query`` a single ``{field, operator, value}`` or ``{operator:
  AND|OR, value: [...]}``, fields ``updated_at``, ``created_at``, ``id``, ``state`` with ``= != > <``;
  ``pagination: {per_page ≤ 150, starting_after}``; answer ``{type: "conversation.list",
  conversations, total_count, pages: {type: "pages", page, per_page, total_pages, next?:
  {page, starting_after}}}`` (https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/searchconversations).
* ``GET|PUT /conversations/{id}`` (``custom_attributes``, ``read``), ``POST /conversations/{id}/reply``
  (``message_type`` comment|note, ``type`` admin|user; a note is teammates-only), ``POST
  /conversations/{id}/parts`` (``message_type: "assignment"``, ``type`` admin|team, ``admin_id``,
  ``assignee_id``), ``POST /tags`` (``{name}``: creates or finds), ``POST /conversations/{id}/tags``
  (``{id, admin_id}``). ``admin_id`` must name one of the workspace's admins.
* Rate limit: a window of 1000 calls a minute by default (checked per 10 s in Intercom; one window
  here); every answer carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (unix time); past
  it, 429 ``rate_limit_exceeded`` (https://developers.intercom.com/docs/references/2.11/rest-api/errors/rate-limiting).
* Webhooks: ``_admin/conversations`` starts a conversation as a user would and sends
  ``conversation.user.created`` to each subscription signed ``X-Hub-Signature: sha1=<hex
  HMAC-SHA1 of the body>`` with the subscription's secret (the app's client secret).
* Closing and re-opening: ``POST /conversations/{id}/parts`` ``{message_type: "close" | "open",
  type: "admin", admin_id}`` (https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/manageconversation),
  or ``_admin/conversations/{id}/state`` ``{state, admin_id}`` for a teammate doing it in the
  inbox, sets ``state`` / ``open``, adds a ``close`` / ``open`` part by that admin, keeps
  ``statistics.last_close_at`` / ``last_closed_by_id`` / ``count_reopens``, and sends
  ``conversation.admin.closed`` / ``conversation.admin.opened`` with the conversation
  (https://developers.intercom.com/docs/references/2.11/webhooks/webhook-models).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import operator
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse, Response

from sandbox.kit import Answer, Call, StandIn, Window, add_action, add_state_view, known, post, send, subscribe
from sandbox.kit.helpdesk import HelpdeskState, PathWindows, limit_settings

DEFAULT_TOKEN, ADMIN_ID, TEAM_ID = "intercom_token_sandbox", "814860", "5017"
OPS = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
CREATED = "conversation.user.created"
TOPICS = {"closed": "conversation.admin.closed", "open": "conversation.admin.opened"}


@dataclass
class IntercomState(HelpdeskState):
    token: str = DEFAULT_TOKEN
    admins: tuple[str, ...] = (ADMIN_ID, "814861")
    teams: tuple[str, ...] = (TEAM_ID,)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # name → id
    window: Window = field(default_factory=lambda: Window(1000, 60.0))


def errors(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "request_id": "sandbox", "errors": [{"code": code, "message": message}]}


def authenticate(call: Call[IntercomState]) -> JSONResponse | None:
    if call.request.headers.get("Authorization") != f"Bearer {call.state.token}":
        return JSONResponse(errors("unauthorized", "Access Token Invalid"), status_code=401)
    version = call.request.headers.get("Intercom-Version")
    if version is not None and not version.startswith("2."):
        return JSONResponse(errors("intercom_version_invalid", f"Requested version {version} is not valid"), 400)
    return None


def window_headers(window: Window, remaining: int, left: float) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(window.limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time() + left) + 1)}


kit: StandIn[IntercomState] = StandIn(
    "intercom", "", IntercomState, auth=authenticate,
    error_body=lambda status: errors("server_error", "Server error"),
    limit=PathWindows(lambda: errors("rate_limit_exceeded", "Exceeded rate limit"), lambda window, left: {},
                      every=window_headers),
    clock_view=lambda now: {"now": int(now.timestamp())}, webhook_admin=True, redeliver=post,
    subscribe=lambda state, payload: subscribe(state, {"topics": [CREATED, *TOPICS.values()], **payload}))
install = kit.install


def public(item: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in item.items() if not k.startswith("_")}))


def found(call: Call[IntercomState], conversation_id: str) -> dict[str, Any]:
    item = call.state.conversations.get(conversation_id)
    if item is None:
        raise call.refuse(errors("not_found", "Resource Not Found"), 404)
    return item


def an_admin(call: Call[IntercomState], admin_id: Any) -> None:
    if str(admin_id) not in call.state.admins:
        raise call.refuse(errors("parameter_invalid", "Admin not found" if admin_id else "admin_id is required"), 400)


def add_part(state: IntercomState, item: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    part = {"type": "conversation_part", "id": str(state.next_id()), "created_at": state.unix(), **part}
    item["conversation_parts"]["conversation_parts"].append(part)
    item["conversation_parts"]["total_count"] += 1
    item["updated_at"] = state.unix()
    return part


def matches(item: dict[str, Any], query: dict[str, Any]) -> bool:
    if query.get("operator") in ("AND", "OR"):
        results = [matches(item, q) for q in query.get("value") or []]
        return all(results) if query["operator"] == "AND" else any(results)
    if query.get("field") not in ("updated_at", "created_at", "id", "state") or query.get("operator") not in OPS:
        raise ValueError(f"unsupported query {query}")
    value = item[query["field"]]
    return bool(OPS[query["operator"]](value, type(value)(query.get("value"))))


@kit.api.post("/conversations/search")
def search(call: Call[IntercomState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    paging = body.get("pagination") or {}
    per_page = int(paging.get("per_page") or 20)
    if not isinstance(body.get("query"), dict) or not 1 <= per_page <= 150:
        return call.reply(errors("parameter_invalid", "query and a per_page of 1 to 150 are required"), 400)
    with call.state.lock:
        try:
            hits = sorted((c for c in call.state.conversations.values() if matches(c, body["query"])),
                          key=lambda c: (c["updated_at"], int(c["id"])))
        except (ValueError, TypeError) as exc:
            return call.reply(errors("parameter_invalid", str(exc)), 400)
        start = int(paging.get("starting_after") or 0) if str(paging.get("starting_after") or "0").isdigit() else -1
        if start < 0:
            return call.reply(errors("parameter_invalid", "starting_after is invalid"), 400)
        page = hits[start:start + per_page]
        pages: dict[str, Any] = {"type": "pages", "page": start // per_page + 1, "per_page": per_page,
                                 "total_pages": max(1, -(-len(hits) // per_page))}
        if start + per_page < len(hits):
            pages["next"] = {"page": pages["page"] + 1, "starting_after": str(start + per_page)}
        return call.reply({"type": "conversation.list", "conversations": [public(c) for c in page],
                           "total_count": len(hits), "pages": pages})


@kit.api.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: str, call: Call[IntercomState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply(public(found(call, conversation_id)))


@kit.api.put("/conversations/{conversation_id}")
def update_conversation(conversation_id: str, call: Call[IntercomState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    with call.state.lock:
        item = found(call, conversation_id)
        if "custom_attributes" in body and not isinstance(body["custom_attributes"], dict):
            return call.reply(errors("parameter_invalid", "custom_attributes must be an object"), 400)
        item["custom_attributes"].update(body.get("custom_attributes") or {})
        item["read"] = bool(body.get("read", item["read"]))
        item["updated_at"] = call.state.unix()
        return call.reply(public(item))


@kit.api.post("/conversations/{conversation_id}/reply")
def reply(conversation_id: str, call: Call[IntercomState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    if body.get("message_type") not in ("comment", "note", "quick_reply") or body.get("type") not in ("admin", "user"):
        return call.reply(errors("parameter_invalid", "message_type and type are required"), 400)
    with call.state.lock:
        item = found(call, conversation_id)
        if body["type"] == "admin":
            an_admin(call, body.get("admin_id"))
        if not body.get("body"):
            return call.reply(errors("parameter_not_found", "body is required"), 400)
        add_part(call.state, item, {"part_type": body["message_type"], "body": body["body"],
                                    "author": {"type": body["type"], "id": str(body.get("admin_id") or "")},
                                    "_customer_sees": body["message_type"] != "note"})
        return call.reply(public(item))


@kit.api.post("/conversations/{conversation_id}/parts")
def manage(conversation_id: str, call: Call[IntercomState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    with call.state.lock:
        item = found(call, conversation_id)
        an_admin(call, body.get("admin_id"))
        if body.get("message_type") in ("close", "open") and body.get("type", "admin") == "admin":
            set_state(call.state, item, "closed" if body["message_type"] == "close" else "open", str(body["admin_id"]))
            return call.reply(public(item))
        if body.get("message_type") != "assignment" or body.get("type") not in ("admin", "team"):
            return call.reply(errors("parameter_invalid", "message_type must be assignment, type admin or team"), 400)
        assignee = str(body.get("assignee_id") or "")
        if assignee not in (*(call.state.admins if body["type"] == "admin" else call.state.teams), "0"):
            return call.reply(errors("parameter_invalid", f"Assignee {assignee} not found"), 400)
        item["admin_assignee_id" if body["type"] == "admin" else "team_assignee_id"] = \
            None if assignee == "0" else int(assignee)
        add_part(call.state, item, {"part_type": "assignment", "body": body.get("body"),
                                    "assigned_to": {"type": body["type"], "id": assignee}})
        return call.reply(public(item))


@kit.api.post("/tags")
def create_tag(call: Call[IntercomState] = kit.call) -> Response:
    name = (call.body or {}).get("name") if isinstance(call.body, dict) else None
    if not name:
        return call.reply(errors("parameter_not_found", "name is required"), 400)
    with call.state.lock:
        tag_id = call.state.tags.setdefault(str(name), str(call.state.next_id()))
    return call.reply({"type": "tag", "id": tag_id, "name": name})


@kit.api.post("/conversations/{conversation_id}/tags")
def tag_conversation(conversation_id: str, call: Call[IntercomState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    with call.state.lock:
        item = found(call, conversation_id)
        an_admin(call, body.get("admin_id"))
        name = next((n for n, i in call.state.tags.items() if i == str(body.get("id"))), None)
        if name is None:
            return call.reply(errors("not_found", "Tag not found"), 404)
        tags = item["tags"]["tags"]
        if all(t["id"] != str(body["id"]) for t in tags):
            tags.append({"type": "tag", "id": str(body["id"]), "name": name})
        item["updated_at"] = call.state.unix()
    return call.reply({"type": "tag", "id": str(body["id"]), "name": name})


def start_conversation(state: IntercomState, payload: dict[str, Any]) -> dict[str, Any]:
    """A user writes in: ``email``, ``name``, ``subject``, ``body``, ``channel`` (source type:
    conversation, email…), ``age_s``. Sends conversation.user.created, signed."""
    when = int((state.now() - timedelta(seconds=float(payload.get("age_s", 0)))).timestamp())
    contact = {"type": "user", "id": f"6{state.next_id():023d}", "name": payload.get("name", "Ana Lima"),
               "email": payload.get("email", "ana@example.com")}
    item = {"type": "conversation", "id": str(state.next_id()), "created_at": when, "updated_at": when,
            "title": None, "state": "open", "open": True, "read": False, "priority": "not_priority",
            "admin_assignee_id": None, "team_assignee_id": None, "custom_attributes": {},
            "source": {"type": payload.get("channel", "conversation"), "id": str(state.next_id()),
                       "delivered_as": "customer_initiated", "subject": payload.get("subject", ""),
                       "body": f"<p>{payload.get('body', 'Where is my order?')}</p>", "author": contact},
            "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": contact["id"]}]},
            "tags": {"type": "tag.list", "tags": []}, "statistics": {
                "type": "conversation_statistics", "last_close_at": None, "last_closed_by_id": None,
                "count_reopens": 0},
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [], "total_count": 0}}
    state.conversations[item["id"]] = item
    return {"conversation": public(item), "webhooks": notify(state, CREATED, item)}


def notify(state: IntercomState, topic: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``notification_event`` for the conversation, signed, to each subscription of the topic."""
    event = {"type": "notification_event", "app_id": "sandbox", "id": f"notif_{state.next_id()}", "topic": topic,
             "created_at": state.unix(), "delivery_attempts": 1, "data": {"type": "notification_event_data",
                                                                          "item": public(item)}}
    raw = json.dumps(event).encode()
    return [send(state, hook, topic, raw, {"Content-Type": "application/json", "X-Hub-Signature": "sha1=" +
                 hmac.new(hook["secret"].encode(), raw, hashlib.sha1).hexdigest()}, event_id=event["id"])
            for hook in list(state.webhooks) if topic in hook["topics"]]


def set_state(state: IntercomState, item: dict[str, Any], to: str, admin_id: str) -> list[dict[str, Any]]:
    """An admin closes (``closed``) or re-opens (``open``) the conversation; the notifications sent."""
    if item["state"] == to:
        return []
    statistics = item["statistics"]
    if to == "closed":
        statistics.update(last_close_at=state.unix(), last_closed_by_id=admin_id)
    else:
        statistics["count_reopens"] += 1
    item["state"], item["open"] = to, to != "closed"
    add_part(state, item, {"part_type": "close" if to == "closed" else "open", "body": None,
                           "author": {"type": "admin", "id": admin_id}})
    return notify(state, TOPICS[to], item)


@kit.admin.post("/conversations/{conversation_id}/state")
def change_state(conversation_id: str, state: IntercomState = kit.state,
                 payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """A teammate (``admin_id``) closes (``state: closed``) or re-opens (``open``) it in the inbox."""
    with state.lock:
        item = known(state.conversations.get(conversation_id), f"conversation {conversation_id}")
        to, admin = str(payload.get("state", "closed")), str(payload.get("admin_id", ADMIN_ID))
        if to not in TOPICS or admin not in state.admins:
            raise Answer(JSONResponse({"error": "state must be closed or open, admin_id one of the workspace's "
                                                "admins"}, status_code=400))
        sent = set_state(state, item, to, admin)
        return {"conversation": public(item), "webhooks": sent}


add_action(kit, "/conversations", start_conversation)
add_action(kit, "/config", lambda state, payload: limit_settings(state, payload, "window"))
add_state_view(kit, "conversations", lambda state: list(state.conversations.values()))


@kit.admin.get("/state/conversations/{conversation_id}")
def conversation_state(conversation_id: str, state: IntercomState = kit.state) -> dict[str, Any]:
    with state.lock:
        item = known(state.conversations.get(conversation_id), f"conversation {conversation_id}")
        return json.loads(json.dumps(item))
