"""The Airtable stand-in's admin endpoints (``/airtable/{base}/_admin/…``): seed the table, edit
rows as a person would (each change a webhook payload and a ping), the rate limit, the state."""
from __future__ import annotations

import secrets
from typing import Any

from fastapi import Body

from sandbox.airtable.api import edit, hook_view, ping, shown
from sandbox.airtable.base import AirtableState, kit
from sandbox.kit.admin import Setting, add_config, add_state_view, known


@kit.admin.post("/seed")
def seed(state: AirtableState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """``{"token", "base_id", "table", "table_id", "fields": [names], "rows": [{field: value}]}``."""
    with state.lock:
        for key in ("token", "base_id", "table", "table_id", "fields"):
            if key in payload:
                setattr(state, key, payload[key])
        state.rows, state.payloads = {}, []
        for values in payload.get("rows", []):
            row_id, now = f"rec{secrets.token_hex(7)}", state.now()
            state.rows[row_id] = {"id": row_id, "created": now, "fields": dict(values),
                                  "modified": dict.fromkeys(values, now)}
        return {"rows": [shown(r) for r in state.rows.values()]}


@kit.admin.post("/rows")
def edit_rows(state: AirtableState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{"edits": [{"match": {field: value}, "fields": {field: value}}]}``: a person's edits; then the pings."""
    with state.lock:
        for change in payload["edits"]:
            row = known(next((r for r in state.rows.values()
                              if all(r["fields"].get(k) == v for k, v in change["match"].items())), None), "row")
            edit(state, row["id"], change["fields"])
    return {"pings": ping(state)}


add_config(kit, {"per_second": Setting("penalty.per_second", int), "penalty_s": Setting("penalty.penalty_s", float),
                 "penalty_until": Setting("penalty.until", float, show=None)})
add_state_view(kit, "rows", lambda state: [shown(r) for r in state.rows.values()])
add_state_view(kit, "webhooks", lambda state: [hook_view(h) for h in state.hooks.values()])
add_state_view(kit, "deliveries", lambda state: state.deliveries)
