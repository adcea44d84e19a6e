"""Intercom over its REST API (``https://api.intercom.io``; ``api.eu.intercom.io`` and
``api.au.intercom.io`` for those regions) with ``requests``: conversations are its tickets.

* Auth: ``Authorization: Bearer <access token>`` and ``Intercom-Version`` (option
  ``api_version``, default 2.11) on every call
  (https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations).
* Polling: ``POST /conversations/search`` with ``{"query": {"field": "updated_at", "operator":
  ">", "value": <unix>}, "pagination": {"per_page", "starting_after"}}``, following
  ``pages.next.starting_after`` (https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/pagination/);
  the cursor saved is the newest ``updated_at`` seen, given with the last page only. Times are
  whole seconds, so the next poll asks for ``> cursor - 1``: a conversation updated later in that
  same second is not missed, and the newest one comes again.
* Webhooks: ``X-Hub-Signature: sha1=<hex>`` = HMAC-SHA1 of the raw body keyed with the app's
  client secret (https://developers.intercom.com/docs/webhooks/webhook-notifications ,
  https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications);
  the ``notification_event`` envelope is stored once under its ``id``; ``data.item`` is the
  conversation (topic ``conversation.user.created`` for a new one).
* Closed and re-opened: a conversation's ``state`` is ``open``, ``closed`` or ``snoozed``; topics
  ``conversation.admin.closed`` and ``conversation.admin.opened``
  (https://developers.intercom.com/docs/references/2.11/webhooks/webhook-models) carry the
  conversation. Who closed a closed one: ``statistics.last_closed_by_id``
  (https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/conversation).
* Write-back: tags by ``POST /tags`` ``{name}`` (creates or finds it) then ``POST
  /conversations/{id}/tags`` ``{id, admin_id}``; assignee and team by ``POST
  /conversations/{id}/parts`` ``{message_type: "assignment", type: "admin"|"team", admin_id,
  assignee_id}``; custom fields by ``PUT /conversations/{id}`` ``{custom_attributes}``
  (https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/updateconversation).
  Intercom documents no call that sets a conversation's own ``priority``, so ours goes in the
  custom attribute the ``priority_attribute`` option names (default ``Priority``). The note is
  ``POST /conversations/{id}/reply`` ``{message_type: "note", type: "admin", admin_id, body}`` —
  seen by teammates only; the conversation's parts (``GET /conversations/{id}``) are read first
  for a note carrying our marker.
* Rate limits: 429 ``rate_limit_exceeded`` with ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``
  and ``X-RateLimit-Reset`` (a unix time: waited until then)
  (https://developers.intercom.com/docs/references/2.11/rest-api/errors/rate-limiting).
"""
from __future__ import annotations

import hashlib
import hmac
import html
import re
import time
from typing import Any, ClassVar, Iterator, Mapping

import requests
from requests.auth import AuthBase

from connectors.auth import BearerToken
from connectors.errors import MalformedPayloadError, SignatureError
from connectors.helpdesk.common import body_json, note_once, start_time
from connectors.helpdesk.contract import (
    HelpdeskDelivery,
    TicketPage,
    TicketRecord,
    TicketUpdate,
    WriteOutcome,
    with_marker,
)
from connectors.http import RateLimitHeaders, RestConnector
from connectors.signing import constant_time_equals, header_value
from connectors.values import parse_timestamp

TAGS = re.compile(r"<[^>]+>")


class ResetAt(RateLimitHeaders):
    """``X-RateLimit-Reset`` is the unix time the window reopens: the wait is the time until then."""

    def named_wait(self, response: requests.Response) -> float | None:
        reset = response.headers.get("X-RateLimit-Reset")
        return max(1.0, float(reset) - time.time()) if reset and reset.isdigit() else super().named_wait(response)


def text(body: str | None) -> str:
    return html.unescape(TAGS.sub(" ", (body or "").replace("<br>", "\n"))).strip()


class IntercomHelpdesk(RestConnector):
    platform: ClassVar[str] = "intercom"
    rate_limits: ClassVar[RateLimitHeaders] = ResetAt()
    option_defaults: ClassVar[Mapping[str, Any]] = {"api_version": "2.11", "priority_attribute": "Priority"}

    def build_auth(self) -> AuthBase:
        self.session.headers["Intercom-Version"] = str(self.options["api_version"])
        return BearerToken(self.config.credentials["access_token"])

    def poll(self, cursor: str | None) -> Iterator[TicketPage]:
        since = int(cursor) if cursor else start_time(self.options)
        body: dict[str, Any] = {"query": {"field": "updated_at", "operator": ">", "value": since - 1},
                                "pagination": {"per_page": int(self.options.get("page_size", 50))}}
        newest = since
        while True:
            answer = self.decode(self.request("POST", "/conversations/search", json_body=body, retry=True))
            records = [self._record(c) for c in answer.get("conversations") or []]
            newest = max([newest, *(int(r.raw.get("updated_at") or 0) for r in records)])
            after = ((answer.get("pages") or {}).get("next") or {}).get("starting_after")
            yield TicketPage(records, None if after else str(newest))
            if not after:
                return
            body["pagination"] = {**body["pagination"], "starting_after": after}

    def fetch_ticket(self, ticket_id: str) -> TicketRecord:
        return self._record(self.get_json(f"/conversations/{ticket_id}"))

    def _record(self, item: Mapping[str, Any]) -> TicketRecord:
        source, custom = item.get("source") or {}, item.get("custom_attributes") or {}
        author, closer = source.get("author") or {}, (item.get("statistics") or {}).get("last_closed_by_id")
        return TicketRecord(
            "intercom", str(item["id"]), text(source.get("subject") or item.get("title")), text(source.get("body")),
            str(author.get("email") or ""), str(author.get("name") or ""), str(author.get("id") or ""),
            str(source.get("type") or ""), tuple(str(t.get("name")) for t in (item.get("tags") or {}).get("tags") or []),
            str(custom.get(self.options["priority_attribute"]) or item.get("priority") or ""), str(item.get("state") or ""),
            str(item.get("admin_assignee_id") or ""), str(item.get("team_assignee_id") or ""),
            str(custom.get("language") or ""), parse_timestamp(item.get("created_at")),
            parse_timestamp(item.get("updated_at")), dict(item), str(closer or "") if item.get("state") == "closed" else "")

    def verify_delivery(self, headers: Mapping[str, str], body: bytes) -> HelpdeskDelivery:
        signature, secret = header_value(headers, "X-Hub-Signature") or "", self.config.webhook_secret
        if not secret or not signature.startswith("sha1="):
            raise SignatureError("intercom: X-Hub-Signature missing or no client secret configured")
        if not constant_time_equals(hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(), signature[5:].lower()):
            raise SignatureError("intercom: X-Hub-Signature does not match the body")
        data = body_json(body)
        if not data.get("id"):
            raise MalformedPayloadError("intercom: the notification names no id")
        item = (data.get("data") or {}).get("item") or {}
        ticket = self._record(item) if item.get("type") == "conversation" and item.get("id") else None
        return HelpdeskDelivery("intercom", f"intercom:{data['id']}", str(data.get("topic") or ""), ticket, data)

    def write_back(self, update: TicketUpdate) -> WriteOutcome:
        path, admin, fields = f"/conversations/{update.ticket_id}", str(self.options["admin_id"]), []
        for name in update.tags:
            tag = self.decode(self.request("POST", "/tags", json_body={"name": name}, retry=True))
            self.request("POST", f"{path}/tags", json_body={"id": str(tag["id"]), "admin_id": admin}, retry=True)
        fields += ["tags"] if update.tags else []
        for kind, assignee in (("admin", update.assignee_id), ("team", update.group_id)):
            if assignee:
                self.request("POST", f"{path}/parts", json_body={"message_type": "assignment", "type": kind,
                                                                 "admin_id": admin, "assignee_id": assignee})
                fields.append("assignee_id" if kind == "admin" else "group_id")
        custom = {**update.custom_fields, **({self.options["priority_attribute"]: update.priority} if update.priority else {})}
        if custom:
            self.request("PUT", path, json_body={"custom_attributes": custom}, retry=True)
            fields.append("custom_fields")

        def existing() -> Iterator[tuple[str, str]]:
            parts = (self.get_json(path).get("conversation_parts") or {}).get("conversation_parts") or []
            return ((str(p["id"]), text(p.get("body"))) for p in parts if p.get("part_type") == "note")

        def post() -> str:
            body = "<p>" + html.escape(with_marker(update.note, update.idempotency_key)).replace("\n", "<br>") + "</p>"
            answer = self.decode(self.request("POST", f"{path}/reply", json_body={
                "message_type": "note", "type": "admin", "admin_id": admin, "body": body}))
            parts = ((answer or {}).get("conversation_parts") or {}).get("conversation_parts") or [{}]
            return str(parts[-1].get("id") or "")
        return note_once(update, existing, post, tuple(fields))
