"""The Web API endpoints: list and update records, and the base's webhooks with their payloads.

https://airtable.com/developers/web/api/list-records , ``update-multiple-records``,
``create-a-webhook``, ``list-webhooks``, ``refresh-a-webhook``, ``list-webhook-payloads``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any

from fastapi.responses import Response

from sandbox.airtable.base import AirtableState, FormulaError, error, evaluate, kit
from sandbox.kit import Call
from sandbox.kit.webhooks import post

WEEK = timedelta(days=7)


def stamp(when: Any) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def shown(row: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    fields = {k: v for k, v in row["fields"].items() if (names is None or k in names) and v not in (None, "", False)}
    return {"id": row["id"], "createdTime": stamp(row["created"]), "fields": fields}


def table_of(call: Call[AirtableState], base: str, table: str) -> None:
    state = call.state
    if base != state.base_id or table not in (state.table, state.table_id):
        raise call.refuse({"error": {"type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "message": (
            "Invalid permissions, or the requested model was not found. Check that both your user and your token "
            "have the required permissions, and that the model names and/or ids are correct.")}}, 403)


@kit.api.get("/{base}/{table}")
def list_records(base: str, table: str, call: Call[AirtableState] = kit.call) -> Response:
    state, query = call.state, call.request.query_params
    table_of(call, base, table)
    size, names = int(query.get("pageSize") or 100), query.getlist("fields[]") or None
    if not 1 <= size <= 100:
        return call.reply({"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "Invalid page size"}}, 422)
    unknown = [n for n in names or [] if n not in state.fields]
    if unknown:
        return call.reply({"error": {"type": "UNKNOWN_FIELD_NAME", "message": f'Unknown field name: "{unknown[0]}"'}}, 422)
    with state.lock:
        try:
            rows = [r for r in state.rows.values() if not query.get("filterByFormula")
                    or evaluate(query["filterByFormula"], {**r, "known": set(state.fields)})]
        except FormulaError as exc:
            return call.reply({"error": {"type": "INVALID_FILTER_BY_FORMULA",
                                         "message": f"The formula for filtering records is invalid: {exc}"}}, 422)
        start = int(str(query.get("offset") or "itr0/").removeprefix("itr").split("/")[0])
        page = rows[start:start + size]
        body: dict[str, Any] = {"records": [shown(r, names) for r in page]}
        if start + size < len(rows):
            body["offset"] = f"itr{start + size}/{rows[start + size]['id']}"
        return call.reply(body)


@kit.api.patch("/{base}/{table}")
def update_records(base: str, table: str, call: Call[AirtableState] = kit.call) -> Response:
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    table_of(call, base, table)
    changes = body.get("records") or []
    if not 1 <= len(changes) <= 10:
        return call.reply({"error": {"type": "INVALID_RECORDS", "message": "Provide between 1 and 10 records"}}, 422)
    with state.lock:
        for change in changes:
            if change.get("id") not in state.rows:
                return call.reply({"error": {"type": "NOT_FOUND", "message": f"Record {change.get('id')} not found"}}, 404)
            unknown = [n for n in change.get("fields") or {} if n not in state.fields]
            if unknown:
                return call.reply({"error": {"type": "UNKNOWN_FIELD_NAME",
                                             "message": f'Unknown field name: "{unknown[0]}"'}}, 422)
        rows = [edit(state, change["id"], change["fields"]) for change in changes]
    ping(state)
    return call.reply({"records": [shown(r) for r in rows]})


def edit(state: AirtableState, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Change a row's fields (their modified times too) and note the change as a webhook payload."""
    row, now = state.rows[row_id], state.now()
    moved = {k: v for k, v in values.items() if row["fields"].get(k) != v}
    row["fields"].update(moved)
    row["modified"].update(dict.fromkeys(moved, now))
    if moved:
        state.payloads.append({"timestamp": stamp(now), "baseTransactionNumber": len(state.payloads) + 1,
                               "payloadFormat": "v0", "actionMetadata": {"source": "client"},
                               "changedTablesById": {state.table_id: {"changedRecordsById": {row_id: {
                                   "current": {"cellValuesByFieldId": moved}}}}}})
    return row


def ping(state: AirtableState) -> list[int | str]:
    """Notify every live webhook, signed with its MAC secret (call with the lock released)."""
    statuses = []
    for hook in list(state.hooks.values()):
        if hook["expires"] <= state.now():
            continue
        body = json.dumps({"base": {"id": state.base_id}, "webhook": {"id": hook["id"]},
                           "timestamp": stamp(state.now())}).encode()
        mac = hmac.new(base64.b64decode(hook["macSecretBase64"]), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Airtable-Content-MAC": f"hmac-sha256={mac}"}
        state.deliveries.append({"address": hook["notificationUrl"], "body": body.decode(), "headers": headers})
        statuses.append(post(hook["notificationUrl"], body, headers))
    return statuses


def hook_view(hook: dict[str, Any]) -> dict[str, Any]:
    return {"id": hook["id"], "notificationUrl": hook["notificationUrl"], "expirationTime": stamp(hook["expires"]),
            "areNotificationsEnabled": True, "specification": hook["specification"]}


@kit.api.post("/bases/{base}/webhooks")
def create_webhook(base: str, call: Call[AirtableState] = kit.call) -> Response:
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    filters = ((body.get("specification") or {}).get("options") or {}).get("filters") or {}
    if base != state.base_id or not body.get("notificationUrl") or not filters.get("dataTypes"):
        return call.reply({"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "Invalid request"}}, 422)
    with state.lock:
        hook = {"id": f"ach{secrets.token_hex(7)}", "notificationUrl": body["notificationUrl"],
                "macSecretBase64": base64.b64encode(secrets.token_bytes(32)).decode(),
                "expires": state.now() + WEEK, "specification": body["specification"]}
        state.hooks[hook["id"]] = hook
        return call.reply({"id": hook["id"], "macSecretBase64": hook["macSecretBase64"],
                           "expirationTime": stamp(hook["expires"])})


@kit.api.get("/bases/{base}/webhooks")
def list_webhooks(base: str, call: Call[AirtableState] = kit.call) -> Response:
    return call.reply({"webhooks": [hook_view(h) for h in call.state.hooks.values()]})


def known_hook(call: Call[AirtableState], hook_id: str) -> dict[str, Any]:
    hook = call.state.hooks.get(hook_id)
    if hook is None:
        raise call.refuse({"error": {"type": "NOT_FOUND", "message": "Could not find webhook"}}, 404)
    return hook


@kit.api.post("/bases/{base}/webhooks/{hook_id}/refresh")
def refresh_webhook(base: str, hook_id: str, call: Call[AirtableState] = kit.call) -> Response:
    with call.state.lock:
        hook = known_hook(call, hook_id)
        hook["expires"] = call.state.now() + WEEK
        return call.reply({"expirationTime": stamp(hook["expires"])})


@kit.api.get("/bases/{base}/webhooks/{hook_id}/payloads")
def list_payloads(base: str, hook_id: str, call: Call[AirtableState] = kit.call) -> Response:
    known_hook(call, hook_id)
    cursor, limit = max(1, int(call.query.get("cursor") or 1)), min(50, int(call.query.get("limit") or 50))
    page = call.state.payloads[cursor - 1:cursor - 1 + limit]
    return call.reply({"payloads": page, "cursor": cursor + len(page),
                       "mightHaveMore": cursor - 1 + limit < len(call.state.payloads)})
