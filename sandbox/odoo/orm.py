"""The ORM calls ``execute_kw`` reaches: searching and reading any model, writing purchase orders.

``search``, ``search_read`` (``fields``, ``limit``, ``offset``, ``order: "id desc"``),
``search_count`` and ``read`` on every model; ``purchase.order`` also ``create`` (``order_line``
as ``(0, 0, vals)`` commands; a dict returns the id, a list the ids), ``button_confirm`` (an RFQ in
``draft``/``sent`` becomes ``purchase``) and ``button_cancel``
(https://www.odoo.com/documentation/18.0/developer/reference/backend/orm.html). Domains are lists
of ``[field, op, value]`` joined by AND; many2one fields read as ``[id, display_name]``. Any call on
a model the user may not read is refused with ``odoo.exceptions.AccessError``.
"""
from __future__ import annotations

from typing import Any

from sandbox.kit.model_rpc import Domains
from sandbox.odoo.database import MANY2ONE, OdooState, RpcError, access_error, missing

DOMAINS = Domains(MANY2ONE)


def read_view(state: OdooState, record: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    """A record as ``read`` shows it: many2one as ``[id, name]``, asked-for fields it lacks as ``false``."""
    shown = {name: value for name, value in record.items() if not fields or name in fields or name == "id"}
    return {**dict.fromkeys(fields or [], False), **{
        name: [value, state.display_name(MANY2ONE[name], value)] if name in MANY2ONE else value
        for name, value in shown.items()}}


def search(state: OdooState, model: str, domain: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    return DOMAINS.search(state.records, model, domain, kwargs)


def existing(state: OdooState, model: str, ids: list[int]) -> list[dict[str, Any]]:
    """The records ``ids`` name, or Odoo's MissingError naming those that are gone."""
    absent = [i for i in ids if i not in state.records[model]]
    if absent:
        raise missing(model, absent)
    return [state.records[model][i] for i in ids]


def create_purchase_order(state: OdooState, values: dict[str, Any]) -> int:
    """``purchase.order`` create: the vendor is mandatory, lines come as ``(0, 0, vals)`` commands."""
    partner_id = values.get("partner_id")
    if not partner_id:
        raise RpcError("odoo.exceptions.ValidationError",
                       "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
                       "- Delete: another model requires the record being deleted. If possible, archive it "
                       "instead.\n\nModel: Purchase Order (purchase.order)\nField: Vendor (partner_id)")
    existing(state, "res.partner", [partner_id])
    commands = values.get("order_line") or []
    for command in commands:
        if not (isinstance(command, list) and len(command) == 3 and command[0] == 0):
            raise RpcError("builtins.ValueError", f"Unsupported one2many command {command!r} in the sandbox")
        existing(state, "product.product", [command[2].get("product_id")])
    state.sequence += 1
    now = state.now().strftime("%Y-%m-%d %H:%M:%S")
    order = state.add("purchase.order", {
        "name": f"P{state.sequence:05d}", "partner_id": partner_id, "partner_ref": values.get("partner_ref") or False,
        "origin": values.get("origin") or False, "state": "draft", "date_order": now, "order_line": [],
        "amount_total": 0.0})
    for _, _, line_values in commands:
        product = state.records["product.product"][line_values["product_id"]]
        qty, price = float(line_values.get("product_qty", 1)), float(line_values.get("price_unit", 0))
        line = state.add("purchase.order.line", {
            "order_id": order["id"], "product_id": product["id"], "name": line_values.get("name") or product["name"],
            "product_qty": qty, "qty_received": 0.0, "price_unit": price, "price_subtotal": round(qty * price, 2),
            "date_planned": line_values.get("date_planned") or now})
        order["order_line"].append(line["id"])
        order["amount_total"] = round(order["amount_total"] + line["price_subtotal"], 2)
    return order["id"]


#: ``purchase.order`` buttons: the state they move an order to, and from which states (None: any).
TRANSITIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "button_confirm": ("purchase", ("draft", "sent")), "button_cancel": ("cancel", None)}


def set_state(state: OdooState, ids: list[int], to: str, only_from: tuple[str, ...] | None) -> bool:
    """Move the orders (those in ``only_from``) to ``to``."""
    for order in existing(state, "purchase.order", ids):
        if only_from is None or order["state"] in only_from:
            order["state"] = to
    return True


def execute(state: OdooState, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """One ``execute_kw`` call on ``model``."""
    if model not in state.records:
        raise RpcError("builtins.KeyError", repr(model))
    if model in state.denied:
        raise access_error(model)
    first = args[0] if args else None
    domain = first if args else kwargs.get("domain", [])
    if method == "search_count":
        return len(search(state, model, domain, {}))
    if method in ("search", "search_read"):
        rows = search(state, model, domain, kwargs)
        fields = kwargs.get("fields")
        return [r["id"] for r in rows] if method == "search" else [read_view(state, r, fields) for r in rows]
    if method == "read":
        return [read_view(state, r, kwargs.get("fields")) for r in existing(state, model, first or [])]
    if model == "purchase.order" and method == "create":
        values = first if args else kwargs.get("vals_list")
        return create_purchase_order(state, values) if isinstance(values, dict) \
            else [create_purchase_order(state, v) for v in values or []]
    if model == "purchase.order" and method in TRANSITIONS:
        return set_state(state, first or [], *TRANSITIONS[method])
    raise RpcError("builtins.AttributeError", f"The method '{model}.{method}' does not exist")
