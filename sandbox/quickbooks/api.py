"""QuickBooks Online API endpoints: the query language over Item, Vendor and PurchaseOrder, Change Data
Capture for items, and purchase orders created once per ``requestid``.

* Queries (https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries):
  ``GET /query?query=select * from <Entity> [where <f> = '<v>' [and <f> in ('<a>', …)]] STARTPOSITION n
  MAXRESULTS m``; at most 1,000 results a page; the answer is ``{"QueryResponse": {"<Entity>": [...],
  "startPosition", "maxResults"}, "time"}`` (an empty page has no entity key). A query the stand-in
  cannot parse is refused 400 ``QueryParserError`` (code 4000), as QuickBooks refuses bad syntax.
* CDC (https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture):
  ``GET /cdc?entities=Item&changedSince=…``: items changed since (deleted ones as ``{"Id", "status":
  "Deleted"}``), at most 1,000, ``changedSince`` within 30 days (else 400, wording **assumed**).
* Purchase orders (https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/purchaseorder):
  ``VendorRef`` and item lines required; a ``requestid`` seen before answers the first answer again
  without a second order (https://blogs.intuit.com/2015/04/06/15346/). Every call wants ``minorversion``
  optional; it is logged, not checked.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.responses import Response

from connectors.values import parse_timestamp
from sandbox.kit import Call
from sandbox.quickbooks.company import RealmState, fault, kit, stamp

QUERY = re.compile(r"^select \* from (\w+)(?: where (.+?))? startposition (\d+) maxresults (\d+)$", re.I | re.S)
CONDITION = re.compile(r"^\s*([\w.]+)\s*(=|>|<|in)\s*(.+?)\s*$", re.I | re.S)
LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")
ENTITIES = {"Item": "items", "Vendor": "vendors", "PurchaseOrder": "purchase_orders"}


def parser_error(call: Call[RealmState], detail: str) -> Exception:
    return call.refuse(fault("ValidationFault", "4000", "Error parsing query", f"QueryParserError: {detail}"), 400)


def field_of(record: dict[str, Any], name: str) -> str:
    value: Any = record
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def matches(record: dict[str, Any], conditions: list[tuple[str, str, list[str]]]) -> bool:
    for name, op, values in conditions:
        have = field_of(record, name)
        if op == "=" and have != values[0] or op.lower() == "in" and have not in values \
                or op == ">" and not have > values[0] or op == "<" and not have < values[0]:
            return False
    return True


def parse_where(call: Call[RealmState], where: str | None) -> list[tuple[str, str, list[str]]]:
    conditions = []
    for part in re.split(r"\s+and\s+", where or "", flags=re.I) if where else []:
        found = CONDITION.match(part)
        if not found:
            raise parser_error(call, f"Encountered \"{part.strip()[:40]}\"")
        name, op, raw = found.groups()
        values = [v.replace("\\'", "'").replace("\\\\", "\\") for v in LITERAL.findall(raw)]
        if not values or (op.lower() != "in" and len(values) != 1):
            raise parser_error(call, f"bad value {raw[:40]}")
        conditions.append((name, op, values))
    return conditions


@kit.api.get("/query")
def query(realm_id: str, call: Call[RealmState] = kit.call) -> Response:
    found = QUERY.match((call.query.get("query") or "").strip())
    if not found:
        raise parser_error(call, "expected select * from <Entity> … STARTPOSITION n MAXRESULTS m")
    entity, where, start, size = found.group(1), found.group(2), int(found.group(3)), int(found.group(4))
    if entity not in ENTITIES:
        raise parser_error(call, f"Invalid entity {entity}")
    if size > 1000 or start < 1:
        raise call.refuse(fault("ValidationFault", "4001", "Invalid query", "MAXRESULTS is at most 1000"), 400)
    conditions = parse_where(call, where)
    state = call.state
    with state.lock:
        rows = [dict(r) for r in getattr(state, ENTITIES[entity]).values() if matches(r, conditions)]
        rows.sort(key=lambda r: int(r["Id"]))
        page = rows[start - 1:start - 1 + size]
        now = stamp(state.now())
    answer: dict[str, Any] = {"startPosition": start, "maxResults": len(page)} if page else {}
    if page:
        answer[entity] = page
    return call.reply({"QueryResponse": answer, "time": now})


@kit.api.get("/cdc")
def cdc(realm_id: str, call: Call[RealmState] = kit.call) -> Response:
    state, names = call.state, [n for n in (call.query.get("entities") or "").split(",") if n]
    since = call.query.get("changedSince") or ""
    when = parse_timestamp(since)
    if not names or when is None:
        raise call.refuse(fault("ValidationFault", "2010", "Request has invalid or unsupported property",
                                "entities and changedSince are required"), 400)
    if when < state.now() - timedelta(days=30):
        raise call.refuse(fault("ValidationFault", "4002", "Invalid changedSince",
                                "changedSince must be within the last 30 days"), 400)
    with state.lock:
        changed = [dict(r) for r in state.items.values()
                   if (parse_timestamp(r["MetaData"]["LastUpdatedTime"]) or when) >= when]
        changed.sort(key=lambda r: r["MetaData"]["LastUpdatedTime"])
        now = stamp(state.now())
    parts = [{"QueryResponse": [{"Item": changed[:1000], "startPosition": 1, "maxResults": len(changed[:1000])}]}
             if name == "Item" else {"QueryResponse": [{}]} for name in names]
    return call.reply({"CDCResponse": parts, "time": now})


@kit.api.post("/purchaseorder")
def create_purchase_order(realm_id: str, call: Call[RealmState] = kit.call) -> Response:
    state, body, key = call.state, call.body if isinstance(call.body, dict) else None, call.query.get("requestid")
    if key is not None and len(key) > 50:
        raise call.refuse(fault("ValidationFault", "2020", "Invalid requestid", "at most 50 characters"), 400)
    with state.lock:
        if key and key in state.answered:
            status, answer = state.answered[key]
            return call.reply(answer, status)
        status, answer = make_order(state, body)
        if key:
            state.answered[key] = (status, answer)
    return call.reply(answer, status)


def make_order(state: RealmState, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    if body is None:
        return 400, fault("ValidationFault", "2500", "Invalid Reference Id", "Request body is not JSON")
    vendor = state.vendors.get(str((body.get("VendorRef") or {}).get("value")))
    if vendor is None:
        return 400, fault("ValidationFault", "2500", "Invalid Reference Id",
                          f"Something you're trying to use has been made inactive. Vendor {body.get('VendorRef')}",
                          "VendorRef")
    lines = body.get("Line") or []
    for n, line in enumerate(lines):
        detail = line.get("ItemBasedExpenseLineDetail") or {}
        if line.get("DetailType") != "ItemBasedExpenseLineDetail" or \
                str((detail.get("ItemRef") or {}).get("value")) not in state.items:
            return 400, fault("ValidationFault", "2500", "Invalid Reference Id", f"Line {n + 1}: item not found",
                              "ItemRef")
    if not lines:
        return 400, fault("ValidationFault", "2020", "Required param missing, need to supply the required value "
                          "for the API", "Required parameter Line is missing in the request", "Line")
    order = state.touch({"Id": state.new_id(), "DocNumber": body.get("DocNumber") or state.new_id(),
                         "VendorRef": {"value": vendor["Id"], "name": vendor["DisplayName"]},
                         "POStatus": "Open", "TxnDate": state.now().date().isoformat(), "DueDate": body.get("DueDate"),
                         "PrivateNote": body.get("PrivateNote"), "Line": [
                             {**line, "Id": str(n + 1), "LineNum": n + 1} for n, line in enumerate(lines)],
                         "TotalAmt": round(sum(float(line.get("Amount") or 0) for line in lines), 2)}, created=True)
    state.purchase_orders[order["Id"]] = order
    return 200, {"PurchaseOrder": order, "time": stamp(state.now())}
