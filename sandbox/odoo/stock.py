"""Stock quants, the automation rule that posts their changes, and the JSON-2 endpoint (Odoo 19+).

* ``stock.quant`` (``product_id``, ``location_id``, ``quantity``, ``reserved_quantity``,
  ``write_date`` in the server's UTC ``YYYY-MM-DD HH:MM:SS``), one per product and location here
  (lots and packages split them in Odoo: ``_admin/quants`` may add a second one with ``lot``), read
  through ``search_read`` like every model (https://github.com/odoo/odoo/blob/18.0/addons/stock/models/stock_quant.py).
* An automation rule whose action is "Send Webhook Notification"
  (https://www.odoo.com/documentation/18.0/applications/studio/automated_actions.html): every
  change of a quant's quantity POSTs ``{"_action", "_id", "_model", <chosen fields>}`` as JSON,
  many2one fields as bare ids (``read(..., load=None)`` in ``_run_action_webhook``), keys sorted,
  with no signature and no header but ``Content-Type`` — only the URL can carry a secret.
* ``POST /json/2/{model}/{method}`` (https://www.odoo.com/documentation/19.0/developer/reference/external_api.html),
  served when the seeded ``version`` is 19 or later (404 before, as those servers have no route):
  ``Authorization: bearer <api key>``, optional ``X-Odoo-Database``, the method's parameters named
  in the body (``ids``, ``domain``, ``fields``, ``limit``, ``offset``, ``order``, ``vals_list``); the
  answer is the result itself; an error is ``{"name", "message", "arguments", "context", "debug"}``
  with 401 (API key), 403 (access), 404 (missing record), 422 (bad values) or 500.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.admin import known
from sandbox.kit import model_rpc
from sandbox.kit.webhooks import post
from sandbox.odoo.database import OdooState, kit
from sandbox.odoo.orm import execute


def find(state: OdooState, model: str, field: str, value: Any) -> dict[str, Any]:
    return known(next((r for r in state.records[model].values() if value in (r.get(field), r["id"])), None), model)


@kit.admin.post("/quants")
def set_quants(state: OdooState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{"quants": [{"default_code", "location": "WH/Stock" | id, "quantity", "reserved", "lot"}]}``:
    set each quant (made when missing), stamping ``write_date``; the automation rule's webhook goes
    out for each one whose quantity changed (its delivery statuses are answered)."""
    sent = []
    with state.lock:
        for row in payload.get("quants", []):
            product = find(state, "product.product", "default_code", row["default_code"])
            place = find(state, "stock.location", "complete_name", row["location"])
            quant = next((q for q in state.records["stock.quant"].values() if (q["product_id"], q["location_id"],
                          q["lot"]) == (product["id"], place["id"], row.get("lot") or False)), None) \
                or state.add("stock.quant", {"product_id": product["id"], "location_id": place["id"],
                                             "lot": row.get("lot") or False, "quantity": 0.0, "reserved_quantity": 0.0})
            moved = float(row["quantity"]) != quant["quantity"]
            quant.update(quantity=float(row["quantity"]), reserved_quantity=float(row.get("reserved", 0)),
                         write_date=state.now().strftime("%Y-%m-%d %H:%M:%S"))
            if moved and state.automation:
                sent.append(model_rpc.field_notification(state, state.automation, "stock.quant", quant))
    return {"deliveries": [post(state.automation["url"], body, {"Content-Type": "application/json"})  # type: ignore[index]
                           for body in sent]}


@kit.admin.post("/automation")
def automation(state: OdooState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """``{"url", "fields": ["product_id", "location_id", "quantity"]}``: the rule on quantity updates."""
    with state.lock:
        state.automation = {"url": payload["url"], "fields": list(payload.get("fields") or [])}
        return state.automation


@kit.api.post("/json/2/{model}/{method}")
def json2(model: str, method: str, call: Call[OdooState] = kit.call) -> Response:
    return model_rpc.json2(call, model, method, execute)
