"""Gorgias over its REST API (``https://{account}.gorgias.com/api/…``) with ``requests``.

* Auth: HTTP Basic with the user's email and an API key
  (https://developers.gorgias.com/docs/access-tokens-api-keys).
* Polling: ``GET /api/tickets`` with ``limit``, ``order_by=updated_datetime:desc`` and cursor
  paging (``meta.next_cursor`` → ``cursor``: https://developers.gorgias.com/reference/pagination-1),
  read until a ticket last updated before the saved time. Gorgias cursors are short-lived and
  not to be stored, so the cursor we save is the newest ``updated_datetime`` seen, given with the
  last page only; the bound is inclusive (a ticket updated in that same instant after the poll is
  not missed), so the newest ticket comes again on the next poll.
* Webhooks: an HTTP integration (``POST /api/integrations`` ``type: "http"``, triggers
  ``ticket-created`` / ``ticket-updated``: https://developers.gorgias.com/reference/integrations)
  is **not signed**; it is set up with a header ``X-Backorders-Token: <secret we generate>`` (or
  ``?token=`` in its URL) and a JSON form such as ``{"event": "ticket-created", "ticket":
  {"id": "{{ticket.id}}", "updated_datetime": "{{ticket.updated_datetime}}", …}}``. No delivery id
  exists, so a delivery is stored once per ticket, event and ``updated_datetime``.
* Closed and re-opened: a ticket's ``status`` is ``open`` or ``closed`` (with ``closed_datetime``;
  https://developers.gorgias.com/reference/the-ticket-object); re-opening sets it ``open`` again.
  The ``ticket-updated`` trigger's form carries ``"status": "{{ticket.status}}"`` and
  ``"assignee_user": {"id": "{{ticket.assignee_user.id}}"}`` (the ticket's fields, as the other
  placeholders: https://developers.gorgias.com/reference/the-ticket-object). Gorgias names no
  closing agent on the ticket: its assignee stands for it.
* Write-back: ``PUT /api/tickets/{id}`` (``priority`` — low, normal, high, critical —,
  ``assignee_user: {id}``, ``assignee_team: {id}``), ``POST /api/tickets/{id}/tags`` with
  ``names``, ``PUT /api/tickets/{id}/custom-fields`` with ``[{id, value}]``
  (https://developers.gorgias.com/reference/update-ticket), and the note as ``POST
  /api/tickets/{id}/messages`` with ``channel: "internal-note"``, ``via: "api"``,
  ``from_agent: true`` — never sent to the customer
  (https://developers.gorgias.com/docs/create-a-new-message-in-ticket-via-api); the ticket's
  messages are read first for one carrying our marker.
* Rate limits: a leaky bucket of 40 requests per 20 s for API keys; 429 with ``Retry-after``
  seconds (https://developers.gorgias.com/reference/limitations) — paced here at 2 a second.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar, Iterator, Mapping

from requests.auth import AuthBase

from connectors.auth import BasicAuth
from connectors.errors import MalformedPayloadError
from connectors.helpdesk.common import body_json, note_once, start_time
from connectors.helpdesk.contract import (
    HelpdeskDelivery,
    TicketPage,
    TicketRecord,
    TicketUpdate,
    WriteOutcome,
    with_marker,
)
from connectors.http import Bucket, RestConnector
from connectors.signing import header_value, query_value, verify_shared_secret
from connectors.values import parse_timestamp

PRIORITIES = {"low": "low", "normal": "normal", "high": "high", "urgent": "critical"}


class GorgiasHelpdesk(RestConnector):
    platform: ClassVar[str] = "gorgias"
    bucket: ClassVar[Bucket] = Bucket(capacity=40, leak_per_s=2.0)

    def build_auth(self) -> AuthBase:
        return BasicAuth(self.config.credentials["email"], self.config.credentials["api_key"])

    def poll(self, cursor: str | None) -> Iterator[TicketPage]:
        since = parse_timestamp(cursor) if cursor else datetime.fromtimestamp(start_time(self.options), timezone.utc)
        params: dict[str, Any] = {"limit": int(self.options.get("page_size", 30)), "order_by": "updated_datetime:desc"}
        newest = cursor
        while True:
            body = self.get_json("/api/tickets", params)
            tickets = [self._record(t) for t in body.get("data") or []]
            fresh = [t for t in tickets if since is None or (t.updated_at and t.updated_at >= since)]
            newest = max([newest or "", *(t.raw.get("updated_datetime") or "" for t in fresh)]) or None
            next_cursor = (body.get("meta") or {}).get("next_cursor")
            last = len(fresh) < len(tickets) or not next_cursor
            yield TicketPage(fresh, newest if last else None)
            if last:
                return
            params = {**params, "cursor": next_cursor}

    def fetch_ticket(self, ticket_id: str) -> TicketRecord:
        return self._record(self.get_json(f"/api/tickets/{ticket_id}"))

    @staticmethod
    def _record(ticket: Mapping[str, Any]) -> TicketRecord:
        customer = ticket.get("customer") or {}
        first: Mapping[str, Any] = next((m for m in ticket.get("messages") or [] if not m.get("from_agent")), {})
        return TicketRecord(
            "gorgias", str(ticket["id"]), str(ticket.get("subject") or ""),
            str(first.get("body_text") or ticket.get("excerpt") or ""), str(customer.get("email") or ""),
            str(customer.get("name") or ""), str(customer.get("id") or ""), str(ticket.get("channel") or ""),
            tuple(str(t.get("name")) for t in ticket.get("tags") or []), str(ticket.get("priority") or ""),
            str(ticket.get("status") or ""), str((ticket.get("assignee_user") or {}).get("id") or ""),
            str((ticket.get("assignee_team") or {}).get("id") or ""), str(ticket.get("language") or ""),
            parse_timestamp(ticket.get("created_datetime")), parse_timestamp(ticket.get("updated_datetime")), dict(ticket))

    def verify_delivery(self, headers: Mapping[str, str], body: bytes) -> HelpdeskDelivery:
        token = header_value(headers, "X-Backorders-Token") or query_value(headers, "token")
        verify_shared_secret(self.config.webhook_secret, body, token)
        data = body_json(body)
        ticket: dict[str, Any] = data["ticket"] if isinstance(data.get("ticket"), dict) else {}
        if not ticket.get("id"):
            raise MalformedPayloadError("gorgias: the delivery names no ticket id")
        event = str(data.get("event") or "ticket-updated")
        key = f"gorgias:{ticket['id']}:{event}" + ("" if event == "ticket-created" else f":{ticket.get('updated_datetime')}")
        return HelpdeskDelivery("gorgias", key, event, self._record(ticket), data)

    def write_back(self, update: TicketUpdate) -> WriteOutcome:
        path, fields = f"/api/tickets/{update.ticket_id}", []
        changes = {"priority": PRIORITIES.get(update.priority), "assignee_user": {"id": int(update.assignee_id)}
                   if update.assignee_id else None, "assignee_team": {"id": int(update.group_id)} if update.group_id else None}
        changes = {k: v for k, v in changes.items() if v}
        if changes:
            self.request("PUT", path, json_body=changes, retry=True)
            fields += list(changes)
        if update.tags:
            self.request("POST", f"{path}/tags", json_body={"names": list(update.tags)}, retry=True)
            fields.append("tags")
        if update.custom_fields:
            self.request("PUT", f"{path}/custom-fields", retry=True,
                         json_body=[{"id": int(k), "value": v} for k, v in update.custom_fields.items()])
            fields.append("custom_fields")

        def existing() -> Iterator[tuple[str, str]]:
            body = self.get_json(f"{path}/messages", {"limit": 100})
            return ((str(m["id"]), str(m.get("body_text") or "")) for m in body.get("data") or []
                    if m.get("channel") == "internal-note")

        def post() -> str:
            text = with_marker(update.note, update.idempotency_key)
            sender = {"email": self.options.get("agent_email") or self.config.credentials["email"]}
            answer = self.decode(self.request("POST", f"{path}/messages", json_body={
                "channel": "internal-note", "via": "api", "from_agent": True, "sender": sender,
                "body_text": text, "body_html": "<p>" + text.replace("\n", "<br>") + "</p>"}))
            return str((answer or {}).get("id") or "")
        return note_once(update, existing, post, tuple(fields))
