"""OCAPI endpoints: Data API inventory lists and their product inventory records, Shop API order search.

* ``GET /s/-/dw/data/{v}/inventory_lists`` and ``…/inventory_lists/{id}/product_inventory_records``:
  ``start`` (default 0) and ``count`` (default 25; above 200 **assumed** refused 400), answered
  ``{"_v", "_type", "count", "data", "start", "total", "next"?: {"_type": "result_page", "count",
  "start"}}``; an unknown list → 404 ``InventoryListNotFoundException``
  (https://sfcclearning.com/infocenter/OCAPI/current/data/Resources/ProductInventoryRecords.php ,
  https://sfcclearning.com/infocenter/OCAPI/current/data/Resources/InventoryLists.php ,
  https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/ResultPage.php ).
* ``GET`` / ``PATCH …/product_inventory_records/{product_id}``: a PATCH changes the fields it names;
  an ``allocation.amount`` resets the allocation (its ``reset_date`` now, the turnover since 0); a
  negative amount → 400 ``PropertyConstraintViolationException`` (the message B2C Commerce gives,
  seen in its release notes), a handling other than none | preorder | backorder → 400 (**assumed**
  wording); an unknown product → 404 ``ProductInventoryRecordNotFoundException`` (**assumed**).
  Any change moves ``last_modified``; a sale moves it too (**assumed**: the docs do not say).
* ``POST /s/{site}/dw/shop/{v}/order_search`` ``{query, select, sorts, start, count}``: a
  ``match_all_query`` or a ``filtered_query`` with a ``range_filter`` on ``creation_date`` or
  ``last_modified`` (inclusive unless ``from_inclusive`` / ``to_inclusive`` say otherwise), sorted by
  ``sorts``; answered ``{count, hits: [{_type: "order_search_hit", data: order, relevance}], query,
  select, sorts, start, total}``; a missing or other query → 400 ``MalformedSearchParameterException``
  (https://sfcclearning.com/infocenter/OCAPI/current/shop/Resources/OrderSearch.php ,
  https://sfcclearning.com/infocenter/OCAPI/current/data/Documents/RangeFilter.php ).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.salesforce_b2c.store import V, InstanceState, Record, fault, kit, record_json, stamp

DATA = "/-/dw/data/{version}"
HANDLINGS = ("none", "preorder", "backorder")
SEARCH_FIELDS = ("creation_date", "last_modified")


def bad(call: Call[InstanceState], kind: str, message: str, status: int = 400, **arguments: Any) -> Exception:
    return call.refuse(fault(kind, message, **arguments), status)


def window(call: Call[InstanceState], start: Any, count: Any) -> tuple[int, int]:
    try:
        first, size = int(start), int(count)
    except (TypeError, ValueError):
        raise bad(call, "InvalidParameterException", "'start' and 'count' must be whole numbers.") from None
    if first < 0 or not 1 <= size <= 200:
        raise bad(call, "ValueConstraintViolationException", "'count' must be between 1 and 200, 'start' at least 0.")
    return first, size


def page(call: Call[InstanceState], kind: str, rows: Sequence[Any], render: Callable[[Any], Record]) -> Response:
    start, count = window(call, call.query.get("start", 0), call.query.get("count", 25))
    shown = [render(row) for row in rows[start:start + count]]
    body: Record = {"_v": V, "_type": kind, "count": len(shown), "data": shown, "start": start, "total": len(rows)}
    if start + count < len(rows):
        body["next"] = {"_type": "result_page", "count": count, "start": start + count}
    return call.reply(body)


def inventory_list(call: Call[InstanceState], list_id: str) -> Record:
    found = call.state.lists.get(list_id)
    if found is None:
        raise bad(call, "InventoryListNotFoundException", f"No inventory list with ID '{list_id}' could be found.",
                  404, inventoryListId=list_id)
    return found


@kit.api.get(DATA + "/inventory_lists")
def list_inventory_lists(version: str, call: Call[InstanceState] = kit.call) -> Response:
    with call.state.lock:
        return page(call, "inventory_lists", list(call.state.lists.values()), lambda inv: {
            "_type": "inventory_list", "id": inv["id"], "assigned_sites": inv["assigned_sites"],
            "description": inv["description"], "default_in_stock": False, "use_bundle_inventory_only": False})


@kit.api.get(DATA + "/inventory_lists/{list_id}/product_inventory_records")
def list_records(version: str, list_id: str, call: Call[InstanceState] = kit.call) -> Response:
    with call.state.lock:
        records = inventory_list(call, list_id)["records"]
        return page(call, "product_inventory_records", [records[k] for k in sorted(records)],
                    lambda rec: record_json(call.state, list_id, rec))


def product_record(call: Call[InstanceState], list_id: str, product_id: str) -> Record:
    found = inventory_list(call, list_id)["records"].get(product_id)
    if found is None:
        raise bad(call, "ProductInventoryRecordNotFoundException", f"No product inventory record for product "
                  f"'{product_id}' in inventory list '{list_id}'.", 404, productId=product_id)
    return found


@kit.api.get(DATA + "/inventory_lists/{list_id}/product_inventory_records/{product_id}")
def get_record(version: str, list_id: str, product_id: str, call: Call[InstanceState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply(record_json(call.state, list_id, product_record(call, list_id, product_id)))


@kit.api.patch(DATA + "/inventory_lists/{list_id}/product_inventory_records/{product_id}")
def patch_record(version: str, list_id: str, product_id: str, call: Call[InstanceState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    amount = (body.get("allocation") or {}).get("amount", 0) if isinstance(body.get("allocation"), dict) else 0
    if not isinstance(amount, (int, float)) or amount < 0:
        raise bad(call, "PropertyConstraintViolationException", "An error occurred while decoding the request. "
                  "There's a value constraint violation of property '$.allocation.amount' in document "
                  "'product_inventory_record'.")
    if body.get("pre_order_back_order_handling", "none") not in HANDLINGS:
        raise bad(call, "PropertyValueConstraintViolationException", "The value of property "
                  "'pre_order_back_order_handling' must be one of none, preorder, backorder.")
    try:
        in_stock = when(body.get("in_stock_date"))
    except ValueError:
        raise bad(call, "PropertyValueConstraintViolationException", "'in_stock_date' is not a date time.") from None
    with call.state.lock:
        rec, now = product_record(call, list_id, product_id), call.state.now()
        if "allocation" in body:
            rec.update(allocation=int(amount), reset_date=now, turnover=0)
        if "in_stock_date" in body:
            rec["in_stock_date"] = in_stock
        rec.update({ours: body[theirs] for theirs, ours in (("pre_order_back_order_handling", "handling"),
                   ("pre_order_back_order_allocation", "pboa"), ("perpetual_flag", "perpetual")) if theirs in body})
        rec["modified"] = now
        return call.reply(record_json(call.state, list_id, rec))


def when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def criterion(query: Any) -> Callable[[Record], bool] | None:
    """Which orders ``query`` hits; None for a query this search does not read."""
    if query == {"match_all_query": {}}:
        return lambda order: True
    filtered = query.get("filtered_query") if isinstance(query, dict) else None
    inner = criterion(filtered.get("query")) if isinstance(filtered, dict) else None
    limit = (filtered.get("filter") or {}).get("range_filter") if isinstance(filtered, dict) else None
    if inner is None or not isinstance(limit, dict) or limit.get("field") not in SEARCH_FIELDS:
        return None
    try:
        low, high = when(limit.get("from")), when(limit.get("to"))
    except ValueError:
        return None

    def test(order: Record) -> bool:
        value = order[limit["field"]]
        return inner(order) and (low is None or value > low or (value == low and limit.get("from_inclusive", True))) \
            and (high is None or value < high or (value == high and limit.get("to_inclusive", True)))
    return None if low is None and high is None else test


@kit.api.post("/{site}/dw/shop/{version}/order_search")
def order_search(site: str, version: str, call: Call[InstanceState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    start, count = window(call, body.get("start", 0), body.get("count", 25))
    sorts, hit = body.get("sorts") or [], criterion(body.get("query"))
    if hit is None or any(sort.get("field") not in (*SEARCH_FIELDS, "order_no") for sort in sorts):
        raise bad(call, "MalformedSearchParameterException", "The search query or its sorts are ill-formed.")
    with call.state.lock:
        hits = [order for order in call.state.orders if order["site"] == site and hit(order)]
        for sort in reversed(sorts):
            hits.sort(key=lambda o, f=sort["field"]: o[f], reverse=sort.get("sort_order") == "desc")
        shown = [{"_type": "order_search_hit", "data": order_json(o), "relevance": 1.0}
                 for o in hits[start:start + count]]
        return call.reply({"_v": V, "_type": "order_search_result", "count": len(shown), "hits": shown,
                           "query": body.get("query"), "select": body.get("select"), "sorts": sorts,
                           "start": start, "total": len(hits)})


def order_json(order: Record) -> Record:
    return {"_type": "order", **{k: v for k, v in order.items() if k not in ("site", "creation_date", "last_modified")},
            "creation_date": stamp(order["creation_date"]), "last_modified": stamp(order["last_modified"])}
