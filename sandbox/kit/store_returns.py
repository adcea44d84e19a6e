"""Returns a stand-in's shop keeps itself: requested and moved in its admin, sent as signed webhooks,
read back through its GraphQL endpoint (``sandbox.kit.graphql``).

Follows Shopify's return flow (https://shopify.dev/docs/apps/build/orders-fulfillment/returns-apps):
a customer requests a return of fulfilled lines (status ``REQUESTED``,
https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnRequest); the merchant approves
it (``OPEN``) or declines it (``DECLINED``, with a reason); an open return is cancelled
(``CANCELED``) or closed (``CLOSED``). Which move is allowed from which status, the topic it sends
and the payload's shape are the stand-in's data (``fixtures/return_moves.json``); the payloads and
the GraphQL ``Return`` object are its fixtures (``return``, ``return_line_item``, ``return_decline``,
``return_status``, ``return_node``, ``return_line_node``).

Admin endpoints:

* ``POST _admin/returns/request {"order_id", "lines": [{"sku" or "line_id", "quantity", "reason",
  "note"}], "lines_in_webhook": true}``: only fulfilled lines, and no more units than were bought
  less those in returns not declined or cancelled (refused 422 ``{"error"}`` otherwise); the
  reason is one of ``ReturnReason`` (``DEFECTIVE``, ``WRONG_ITEM``, ``UNWANTED`` …, default
  ``OTHER``). ``"lines_in_webhook": false`` sends the payload without its ``return_line_items``
  (a receiver then reads them through GraphQL).
* ``POST _admin/returns/{id}/approve|decline|cancel|close|reopen`` (``decline`` takes ``reason``
  and ``note``; ``reopen`` opens a ``CLOSED`` return again, ``returns/reopen``): the move, refused
  422 from a status it does not leave, and a cancel refused once the return is processed (a refund
  of one of its lines made after it was requested: Shopify cancels a return only before any work
  such as an inspection or a refund was done on it).
* ``POST _admin/returns/{id}/update {"lines": [{"sku" or "line_id", "quantity"}]}``: fewer units of
  a line (0 removes it) while ``REQUESTED`` or ``OPEN``, as ``returnLineItemRemoveFromReturn`` does
  (https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnLineItemRemoveFromReturn);
  sends ``returns/update`` naming the changes (``return_line_items.removals`` with ``delta``), not
  the lines nor the order, so a receiver reads the return through GraphQL.
* ``GET _admin/state/returns``: every return as stored, with ``decided_by`` and ``ended_by`` (a
  cancel or close: ``admin`` or ``api``).

API: ``POST {api}/graphql.json {"query", "variables"}`` answers the ``return(id:)`` root field
(``null`` for an id the shop does not have) and four mutations: ``returnApproveRequest(input:
{id})`` and ``returnDeclineRequest(input: {id, declineReason, declineNote})``
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnApproveRequest ,
https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnDeclineRequest): a ``REQUESTED``
return becomes ``OPEN`` or ``DECLINED`` (its reason one of ``ReturnDeclineReason``, the note kept);
``returnCancel(id:)`` and ``returnClose(id:)``, the id an argument of its own
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnCancel ,
https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnClose): an ``OPEN`` return
becomes ``CANCELED`` (none of it processed) or ``CLOSED``. Each sends its webhook
(``returns/approve``, ``returns/decline``, ``returns/cancel``, ``returns/close``) as the admin's
move does, and answers ``{return {id status}, userErrors: []}``; a return the move does not leave
(or a processed one, for a cancel) answers a ``userErrors`` entry ``{field, message, code:
"INVALID_STATE"}`` and changes nothing, an unknown id ``code: "NOT_FOUND"``. All behind the
stand-in's own auth and rate limit (and its faults: a ``THROTTLED`` answer is a 200 fault with
that body).
"""
from __future__ import annotations

from typing import Any, Callable, cast

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import add_state_view, known, plain
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.graphql import answer
from sandbox.kit.standin import Answer, Call, StandIn

REASONS = ("COLOR", "DEFECTIVE", "NOT_AS_DESCRIBED", "OTHER", "SIZE_TOO_LARGE", "SIZE_TOO_SMALL", "STYLE",
           "UNKNOWN", "UNWANTED", "WRONG_ITEM")
#: Statuses whose units no longer count as coming back.
ENDED = ("declined", "canceled")
DECLINE_REASONS = ("FINAL_SALE", "OTHER", "RETURN_PERIOD_ENDED")
#: Each mutation's move → how its user error names the return and the move (``return_mutation_error``).
VERBS = {"approve": ("approvable", "approved"), "decline": ("declinable", "declined"),
         "cancel": ("cancelable", "canceled"), "close": ("closable", "closed")}


def refused(message: str) -> Answer:
    return Answer(JSONResponse({"error": message}, status_code=422))


def add_returns(kit: StandIn[Any], deliver: Callable[..., Any], fixtures: Fixtures, new_id: Callable[[Any], int],
                find_order: Callable[[Any, str], Any] = lambda state, oid: state.find_order(int(oid)),
                lines: str = "line_items", fulfilled: str = "fulfillment_status") -> None:
    """The admin endpoints and the GraphQL read above, on ``state.returns`` (a list); ``new_id(state)``
    numbers returns, their lines and the fulfillment lines behind them; ``find_order(state, id)``
    finds an order (``sandbox.kit.records.CatalogState.find_order`` by its integer id unless said)."""

    def webhook(state: Any, ret: dict[str, Any], shape: str, shown_lines: bool = True) -> dict[str, Any]:
        order = find_order(state, str(ret["order_id"]))
        items = [fixtures.fill("return_line_item", one, reason_lower=one["reason"].lower()) for one in ret["lines"]]
        return fixtures.fill(shape, ret, total=len(ret["lines"]), order_name=order["name"],
                             return_line_items=items if shown_lines else [])

    def node(state: Any, ret: dict[str, Any]) -> dict[str, Any]:
        order = find_order(state, str(ret["order_id"]))
        nodes = [fixtures.fill("return_line_node", one) for one in ret["lines"]]
        return fixtures.fill("return_node", ret, status_upper=ret["status"].upper(), order_name=order["name"],
                             total_quantity=sum(one["quantity"] for one in ret["lines"]), nodes=nodes,
                             edges=[{"__typename": "ReturnLineItemEdge", "cursor": str(one["id"]), "node": one}
                                    for one in nodes])

    def coming_back(state: Any, line_id: int) -> int:
        return sum(one["quantity"] for ret in state.returns if ret["status"] not in ENDED
                   for one in ret["lines"] if one["line_item_id"] == line_id)

    @kit.admin.post("/returns/request", name="returns_request")
    def request(state: Any = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        with state.lock:
            order = known(find_order(state, str(payload.get("order_id"))), f"order_id {payload.get('order_id')}")
            asked = []
            for spec in payload.get("lines") or []:
                line = next((one for one in order[lines] if str(one["id"]) == str(spec.get("line_id"))
                             or (spec.get("sku") and one.get("sku") == spec["sku"])), None)
                if line is None or line.get(fulfilled) != "fulfilled":
                    raise refused(f"line {spec.get('line_id') or spec.get('sku')} is not a fulfilled line of the order")
                quantity, reason = int(spec.get("quantity", 1)), str(spec.get("reason", "OTHER"))
                if quantity < 1 or quantity + coming_back(state, line["id"]) > int(line["quantity"]):
                    raise refused(f"line {line['id']}: {quantity} more than can be returned")
                if reason not in REASONS:
                    raise refused(f"reason {reason!r} is not one of {', '.join(REASONS)}")
                asked.append({"id": new_id(state), "fulfillment_line_item_id": new_id(state), "line_item_id": line["id"],
                              "sku": line.get("sku"), "title": line.get("title", ""), "line_quantity": line["quantity"],
                              "quantity": quantity, "reason": reason, "note": str(spec.get("note", ""))})
            if not asked:
                raise refused("a return needs at least one line")
            number = 1 + sum(1 for ret in state.returns if ret["order_id"] == order["id"])
            ret = {"id": new_id(state), "order_id": order["id"], "status": "requested", "lines": asked,
                   "name": f"{order['name']}-R{number}", "created_at": state.now(), "decline_reason": None,
                   "decline_note": None, "decided_by": None, "ended_by": None,
                   "refunds_before": len(order.get("refunds") or [])}
            state.returns.append(ret)
            sent = webhook(state, ret, "return", bool(payload.get("lines_in_webhook", True)))
        return plain({"return": ret, "webhooks": deliver(state, [("returns/request", sent)])})

    def moved(state: Any, ret: dict[str, Any], move: str, payload: dict[str, Any], by: str) -> tuple[str, Any]:
        """Take ``move`` on ``ret`` (its status checked by the caller); the webhook it sends."""
        rule = fixtures.shape("return_moves")[move]
        if move == "update":
            return rule["topic"], fixtures.fill(rule["shape"], ret, removals=fewer(ret, payload.get("lines") or []))
        ret["status"] = rule["to"]
        if move in VERBS:  # who decided it, or who ended it (``admin`` or ``api``)
            ret["decided_by" if move in ("approve", "decline") else "ended_by"] = by
        if move == "decline":
            ret["decline_reason"] = str(payload.get("reason", "OTHER")).lower()
            ret["decline_note"] = payload.get("note")
        return rule["topic"], webhook(state, ret, rule["shape"])

    def fewer(ret: dict[str, Any], specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fewer units of the named lines (0 removes one); the removals, each with its ``delta``."""
        removals = []
        for spec in specs:
            line = next((one for one in ret["lines"] if str(one["line_item_id"]) == str(spec.get("line_id"))
                         or (spec.get("sku") and one.get("sku") == spec["sku"])), None)
            quantity = int(spec.get("quantity", 0))
            if line is None or not 0 <= quantity < line["quantity"]:
                raise refused(f"line {spec.get('line_id') or spec.get('sku')}: not a line of the return with more "
                              f"than {quantity} unit(s)")
            removals.append(fixtures.fill("return_line_removal", line, delta=line["quantity"] - quantity))
            line["quantity"] = quantity
        ret["lines"] = [one for one in ret["lines"] if one["quantity"] > 0]
        if not removals or not ret["lines"]:
            raise refused("an update removes some units and leaves at least one line")
        return removals

    def leaves(state: Any, ret: dict[str, Any], move: str) -> bool:
        """The move leaves the return's status; a cancel only while nothing of it was processed
        (no refund of one of its lines made after it was requested)."""
        if ret["status"] not in fixtures.shape("return_moves")[move]["from"]:
            return False
        refunds = (find_order(state, str(ret["order_id"])) or {}).get("refunds") or []
        lines = {one["line_item_id"] for one in ret["lines"]}
        return move != "cancel" or not any(str(item.get("line_item_id")) in map(str, lines)
                                           for refund in refunds[ret.get("refunds_before", 0):]
                                           for item in refund.get("refund_line_items") or [])

    @kit.admin.post("/returns/{return_id}/{move}", name="returns_move")
    def move(return_id: int, move: str, state: Any = kit.state,
             payload: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
        moves = fixtures.shape("return_moves")
        with state.lock:
            ret = known(next((one for one in state.returns if one["id"] == return_id), None), f"return {return_id}")
            rule = known(moves.get(move), f"move {move}")
            if not leaves(state, ret, move):
                raise refused(f"return {return_id} is {ret['status']}: it cannot {move}")
            sent = moved(state, ret, move, payload, "admin")
        return plain({"return": ret, "webhooks": deliver(state, [sent])})

    def decide(state: Any, move: str, given: Any, outbox: list[tuple[str, Any]]) -> dict[str, Any]:
        """``returnApproveRequest`` / ``returnDeclineRequest`` (the id in ``input``), ``returnCancel`` /
        ``returnClose`` (the ``id`` itself): the move, or the user error Shopify answers."""
        given = given if isinstance(given, dict) else {}
        ret = next((one for one in state.returns if f"gid://shopify/Return/{one['id']}" == str(given.get("id"))), None)
        (verb, done), field = VERBS[move], ["input", "id"] if move in ("approve", "decline") else ["id"]
        if ret is None:
            return {"__typename": "Payload", "return": None, "userErrors": [
                {"__typename": "ReturnUserError", "field": field, "message": "Return does not exist",
                 "code": "NOT_FOUND"}]}
        if not leaves(state, ret, move):
            allowed = " or ".join(one.upper() for one in fixtures.shape("return_moves")[move]["from"])
            error = {"__typename": "ReturnUserError", **fixtures.fill("return_mutation_error", verb=verb, done=done,
                                                                      allowed=allowed, field=field)}
            return {"__typename": "Payload", "return": None, "userErrors": [error]}
        if move == "decline" and given.get("declineReason") not in DECLINE_REASONS:
            return {"__typename": "Payload", "return": None, "userErrors": [
                {"__typename": "ReturnUserError", "field": ["input", "declineReason"], "code": "INCLUSION",
                 "message": f"Decline reason must be one of {', '.join(DECLINE_REASONS)}"}]}
        outbox.append(moved(state, ret, move, {"reason": given.get("declineReason"), "note": given.get("declineNote")},
                            "api"))
        return {"__typename": "Payload", "userErrors": [], "return": node(state, ret)}

    add_state_view(kit, "returns", lambda state: state.returns)

    @kit.api.post("/graphql.json", name="graphql")
    def graphql(call: Call[Any] = kit.call) -> Any:
        if not isinstance(call.body, dict):
            return call.reply({"errors": [{"message": "Invalid JSON in request body"}]}, 400)
        body, outbox = call.body, cast(list[tuple[str, Any]], [])
        with call.state.lock:
            def by_id(args: dict[str, Any]) -> Any:
                wanted = str(args.get("id") or "")
                found = next((one for one in call.state.returns if f"gid://shopify/Return/{one['id']}" == wanted), None)
                return None if found is None else node(call.state, found)
            answered = answer(body.get("query"), body.get("variables"), {"return": by_id}, {
                "returnApproveRequest": lambda args: decide(call.state, "approve", args.get("input"), outbox),
                "returnDeclineRequest": lambda args: decide(call.state, "decline", args.get("input"), outbox),
                "returnCancel": lambda args: decide(call.state, "cancel", args, outbox),
                "returnClose": lambda args: decide(call.state, "close", args, outbox)})
        if outbox:  # sent as Shopify sends them: after the move, to every subscriber
            deliver(call.state, outbox)
        return call.reply({**answered, "extensions": {"cost": {  # the cost report every answer carries
            "requestedQueryCost": 4, "actualQueryCost": 4,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1996, "restoreRate": 100.0}}}})

