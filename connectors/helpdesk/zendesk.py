"""Zendesk Support over its REST API (``https://{subdomain}.zendesk.com``) with ``requests``.

* Auth: an API token as HTTP Basic ``{email}/token:{api_token}``, or an OAuth access token as
  ``Authorization: Bearer`` (https://developer.zendesk.com/api-reference/introduction/security-and-auth/).
* Polling: cursor-based incremental ticket export, ``GET /api/v2/incremental/tickets/cursor.json``
  with ``start_time`` (unix) the first time and ``cursor`` (the saved ``after_cursor``) after;
  pages until ``end_of_stream``; ``include=users`` side-loads the requesters. Items changed in the
  last minute are left for the next poll; the endpoint allows 10 requests a minute
  (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/).
* Webhooks: ``X-Zendesk-Webhook-Signature`` = base64 HMAC-SHA256 of
  ``X-Zendesk-Webhook-Signature-Timestamp`` + raw body with the webhook's signing secret
  (https://developer.zendesk.com/documentation/webhooks/verifying/); the event-subscription
  envelope ``{type: "zen:event-type:ticket.created", id, subject: "zen:ticket:{id}", detail}``
  (https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/) is
  stored once under its event ``id``. Zendesk's reference says ticket activity reaches a webhook
  through a trigger or automation (https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/):
  give that trigger :data:`TRIGGER_BODY`, stored once per ticket, event and ``updated_at``.
* Solved and re-opened: ``status`` is ``new``, ``open``, ``pending``, ``hold``, ``solved`` or
  ``closed`` (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/); the event
  ``zen:event-type:ticket.status_changed`` carries ``event: {current, previous}`` in capitals and
  ``detail.actor_id``, the user who changed it
  (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/), read as
  ``status_by``; a trigger on "Status changed" gets :data:`TRIGGER_BODY` with ``"event":
  "ticket.status_changed"``, its ``{{current_user.id}}`` the agent who made the change (the
  ticket's own trigger key keeps the two apart). The incremental export says no who:
  the ticket's assignee stands for it (Zendesk asks for one before a ticket is solved).
* Write-back: one ``PUT /api/v2/tickets/{id}.json`` with ``additional_tags``, ``priority``
  (low, normal, high, urgent), ``assignee_id``, ``group_id``, ``custom_fields: [{id, value}]`` and
  the note as ``comment: {body, public: false}`` — an internal note, never a public reply
  (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket,
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/). Before the
  note, ``GET /api/v2/tickets/{id}/comments.json`` is read for one carrying our marker.
* Rate limits: 429 with ``Retry-After`` seconds
  (https://developer.zendesk.com/api-reference/introduction/rate-limits/), waited and retried.
"""
from __future__ import annotations

from typing import Any, ClassVar, Iterator, Mapping

from requests.auth import AuthBase

from connectors.auth import BasicAuth, BearerToken
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
from connectors.http import RestConnector
from connectors.signing import constant_time_equals, hmac_sha256_base64, header_value
from connectors.values import parse_timestamp

EXPORT = "/api/v2/incremental/tickets/cursor.json"
#: The JSON body to give the webhook a trigger ("Ticket is Created") notifies, in Zendesk's
#: placeholders (https://support.zendesk.com/hc/en-us/articles/4408886858138): a webhook connected
#: to a trigger sends what the trigger says. Stored once per ticket, event and update time.
TRIGGER_BODY = {"event": "ticket.created", "ticket": {
    "id": "{{ticket.id}}", "subject": "{{ticket.title}}", "description": "{{ticket.description}}",
    "status": "{{ticket.status}}", "priority": "{{ticket.priority}}", "tags": "{{ticket.tags}}",
    "requester_id": "{{ticket.requester.id}}", "requester_email": "{{ticket.requester.email}}",
    "requester_name": "{{ticket.requester.name}}", "via": {"channel": "{{ticket.via}}"},
    "locale": "{{ticket.requester.language}}", "created_at": "{{ticket.created_at_with_timestamp}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}", "actor_id": "{{current_user.id}}"}}


def tags(value: Any) -> tuple[str, ...]:
    """A list of tags, or a trigger placeholder's space-separated string of them."""
    return tuple(value.split()) if isinstance(value, str) else tuple(str(tag) for tag in value or ())


class ZendeskHelpdesk(RestConnector):
    platform: ClassVar[str] = "zendesk"

    def build_auth(self) -> AuthBase:
        creds = self.config.credentials
        if creds.get("oauth_token"):
            return BearerToken(creds["oauth_token"])
        return BasicAuth(f"{creds['email']}/token", creds["api_token"])

    def poll(self, cursor: str | None) -> Iterator[TicketPage]:
        params: dict[str, Any] = {"include": "users", "per_page": int(self.options.get("page_size", 100))}
        params.update({"cursor": cursor} if cursor else {"start_time": start_time(self.options)})
        while True:
            body = self.get_json(EXPORT, params)
            users = {str(u["id"]): u for u in body.get("users") or []}
            records = [self._record(t, users) for t in body.get("tickets") or []]
            yield TicketPage(records, body.get("after_cursor") or cursor)
            cursor = body.get("after_cursor") or cursor
            if body.get("end_of_stream") or not body.get("after_cursor"):
                return
            params = {"include": "users", "per_page": params["per_page"], "cursor": cursor}

    def fetch_ticket(self, ticket_id: str) -> TicketRecord:
        body = self.get_json(f"/api/v2/tickets/{ticket_id}.json", {"include": "users"})
        return self._record(body["ticket"], {str(u["id"]): u for u in body.get("users") or []})

    @staticmethod
    def _record(ticket: Mapping[str, Any], users: Mapping[str, Any]) -> TicketRecord:
        requester = users.get(str(ticket.get("requester_id")), {})
        return TicketRecord(
            "zendesk", str(ticket["id"]), str(ticket.get("subject") or ""), str(ticket.get("description") or ""),
            str(requester.get("email") or requester.get("requester_email") or ""),
            str(requester.get("name") or requester.get("requester_name") or ""), str(ticket.get("requester_id") or ""),
            str((ticket.get("via") or {}).get("channel") or ""), tags(ticket.get("tags")),
            str(ticket.get("priority") or ""), str(ticket.get("status") or ""), str(ticket.get("assignee_id") or ""),
            str(ticket.get("group_id") or ""), str(ticket.get("locale") or ""), parse_timestamp(ticket.get("created_at")),
            parse_timestamp(ticket.get("updated_at")), dict(ticket), str(ticket.get("actor_id") or ""))

    def verify_delivery(self, headers: Mapping[str, str], body: bytes) -> HelpdeskDelivery:
        signature = header_value(headers, "X-Zendesk-Webhook-Signature")
        stamp = header_value(headers, "X-Zendesk-Webhook-Signature-Timestamp")
        if not self.config.webhook_secret or not signature or not stamp:
            raise SignatureError("zendesk: signature headers missing or no signing secret configured")
        if not constant_time_equals(hmac_sha256_base64(self.config.webhook_secret, stamp.encode() + body), signature):
            raise SignatureError("zendesk: signature does not match the timestamp and body")
        data = body_json(body)
        if isinstance(data.get("ticket"), dict) and data["ticket"].get("id"):  # a trigger's JSON body (TRIGGER_BODY)
            found = self._record(data["ticket"], {str(data["ticket"].get("requester_id")): data["ticket"]})
            topic, event_id = str(data.get("event") or "ticket.trigger"), f"{found.external_id}:{data['ticket'].get('updated_at')}"
            return HelpdeskDelivery("zendesk", f"zendesk:{topic}:{event_id}", topic, found, data)
        if not data.get("id"):
            raise MalformedPayloadError("zendesk: the delivery is neither an event nor a ticket")
        detail = data.get("detail") if isinstance(data.get("detail"), dict) else None
        ticket = self._record(detail, {}) if detail and detail.get("id") else None
        return HelpdeskDelivery("zendesk", f"zendesk:{data['id']}", str(data.get("type") or ""), ticket, data)

    def write_back(self, update: TicketUpdate) -> WriteOutcome:
        ticket: dict[str, Any] = {"additional_tags": list(update.tags), "priority": update.priority,
                                  "assignee_id": update.assignee_id, "group_id": update.group_id,
                                  "custom_fields": [{"id": k, "value": v} for k, v in update.custom_fields.items()]}
        ticket = {k: v for k, v in ticket.items() if v}
        path = f"/api/v2/tickets/{update.ticket_id}.json"
        if ticket:
            self.request("PUT", path, json_body={"ticket": ticket}, retry=True)  # values set, safe to repeat

        def existing() -> Iterator[tuple[str, str]]:
            body = self.get_json(f"/api/v2/tickets/{update.ticket_id}/comments.json", {"sort_order": "desc"})
            return ((str(c["id"]), str(c.get("body") or "")) for c in body.get("comments") or [] if not c.get("public"))

        def post() -> str:
            comment = {"body": with_marker(update.note, update.idempotency_key), "public": False}
            answer = self.decode(self.request("PUT", path, json_body={"ticket": {"comment": comment}}))
            return str(((answer or {}).get("audit") or {}).get("id") or update.ticket_id)
        return note_once(update, existing, post, tuple(ticket))
