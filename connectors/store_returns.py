"""Returns a storefront keeps itself, read from its webhooks and, where they lack detail, its GraphQL API.

Shopify's returns (https://shopify.dev/docs/apps/build/orders-fulfillment/returns-apps) are sent
as webhooks on the ``returns/request``, ``returns/approve``, ``returns/decline``,
``returns/cancel`` and ``returns/close`` topics (topic list and sample payloads:
https://shopify.dev/docs/api/webhooks?reference=toml ; scopes ``read_returns``). Their payload is
the REST rendering of the GraphQL ``Return`` object: ``id``, ``admin_graphql_api_id``
(``gid://shopify/Return/…``), ``status`` (``requested``, ``open``, ``declined``, ``canceled``,
``closed``), the order as ``order: {id, admin_graphql_api_id}`` (request, approve, decline) or
``order_id`` (cancel, close, reopen), ``name`` (``#1001-R1``), ``total_return_line_items`` and
``return_line_items`` of ``{id, fulfillment_line_item: {id, line_item: {id}}, quantity,
return_reason, return_reason_note, customer_note}``; a decline adds ``decline: {reason, note}``.
:class:`ReturnFields` reads that into a :class:`~connectors.types.ReturnRecord`; the line's SKU is
not in it (the order's line id is, which the domain maps to the SKU it stored with the order).

A payload without its lines, or with fewer than ``total_return_line_items``, is read again with
the GraphQL Admin API (``POST /admin/api/{version}/graphql.json`` with the
``X-Shopify-Access-Token`` header: https://shopify.dev/docs/api/admin-graphql ), the ``return(id:)``
query (https://shopify.dev/docs/api/admin-graphql/2025-01/queries/return) answering the
``Return`` object (https://shopify.dev/docs/api/admin-graphql/2025-01/objects/Return) with its
``returnLineItems`` connection, each node's ``quantity`` and, on ``ReturnLineItem``,
``returnReason`` (an enum: ``DEFECTIVE``, ``WRONG_ITEM``, ``UNWANTED`` …), ``returnReasonNote``
and ``fulfillmentLineItem { lineItem { id sku } }``. A connector declares the query as a
:class:`ReturnLookup`; :class:`StoreReturns` runs it from ``resolve_webhook`` (the drain calls
that between its transactions, ``flows.inbound``).

Two more topics move a return there: ``returns/reopen`` (a closed return opened again, status back
to ``open``, the order as ``order_id``) and ``returns/update`` (its lines or quantities changed while
``requested`` or ``open``). An update's payload names what changed (``return_line_items`` as changes
such as ``removals``, not a list of lines) and may carry neither the status nor the order, so it is
always read again through ``return(id:)``, which answers the status, the order and every line.

Our moves on the store's return are written back with the same endpoint
(:meth:`StoreReturns.decide_return`, driven by ``domain.returns.store_writes``). The decision on a
return still ``REQUESTED`` there: ``returnApproveRequest(input: {id})`` sets it ``OPEN``
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnApproveRequest) and
``returnDeclineRequest(input: {id, declineReason, declineNote})`` sets it ``DECLINED``
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnDeclineRequest ;
``declineReason`` is a ``ReturnDeclineReason``: ``FINAL_SALE``, ``OTHER``, ``RETURN_PERIOD_ENDED``;
``declineNote`` at most 500 characters). The end of an ``OPEN`` one, each taking the return's id as
its own argument (no input object): ``returnCancel(id:)`` sets it ``CANCELED``, only before any
work was done on it such as an inspection or a refund
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnCancel ; its
``notifyCustomer`` argument is deprecated in 2025-01 and not sent), and ``returnClose(id:)`` sets
it ``CLOSED``, the return complete
(https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnClose). Each answers
``{return {id status}, userErrors {field message code}}`` (``ReturnUserError``, ``code`` a
``ReturnErrorCode``: https://shopify.dev/docs/api/admin-graphql/2025-01/enums/ReturnErrorCode).
A user error with code ``INVALID_STATE`` ("a resource was not in the correct state for the
operation"), or a message saying the return is not approvable / declinable / cancelable /
closable or already moved, means the store is no longer where the move starts (its merchant moved
it, or an earlier attempt of ours whose answer was lost went through): the status it shows is read
with ``return(id:)`` and the write counts as done, outcome ``already``. Any other user error
(``NOT_FOUND``, ``INVALID`` …) is permanent. A mutation is sent once per attempt (no transport
retry: its outcome after a lost answer is read on the next attempt).

GraphQL answers 200 with ``errors`` for a query it refuses; a ``THROTTLED`` code among them is the
cost limit (https://shopify.dev/docs/api/usage/rate-limits#graphql-admin-api-rate-limits), so it is
transient, anything else is permanent; a ``null`` return is a return the shop does not have.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Mapping

import requests

from connectors.errors import PermanentError, TransientError
from connectors.types import OrderLineRecord, ReturnRecord, WebhookEvent
from connectors.values import id_str, whole_units

#: Statuses at which the store's return asks for goods to come back (ours is opened from them).
OPENING = ("requested", "open")


def gid_tail(value: Any) -> str | None:
    """The numeric id at the end of a GraphQL global id (``gid://shopify/LineItem/12`` → ``12``)."""
    text = id_str(value)
    return text.rsplit("/", 1)[-1].split("?", 1)[0] if text else None


def _reason(value: Any) -> str:
    text = str(value or "").strip().lower().replace("-", " ")
    return "_".join(text.split())[:64]


@dataclass(frozen=True)
class ReturnFields:
    """Where a return's fields are, in the webhook payload and in the GraphQL node (Shopify's names)."""

    def event(self, payload: Mapping[str, Any]) -> dict[str, list[ReturnRecord]]:
        """``WebhookEvent`` fields of a return payload: the return, with the lines it lists."""
        order: Mapping[str, Any] = payload["order"] if isinstance(payload.get("order"), Mapping) else {}
        order_id = (id_str(order.get("id")) or id_str(payload.get("order_id"))
                    or gid_tail(order.get("admin_graphql_api_id")))
        status = str(payload.get("status") or "").lower()
        if not order_id and status:  # only an update's changes may lack it (read again: ``resolve_webhook``)
            raise KeyError("order")
        items = payload.get("return_line_items")
        lines, reasons, notes = [], [], []
        for item in items if isinstance(items, list) else []:  # an update's are changes, not lines
            line = ((item.get("fulfillment_line_item") or {}).get("line_item") or {})
            lines.append(OrderLineRecord(external_id=str(line["id"]), sku=line.get("sku") or None,
                                         quantity=whole_units(item.get("quantity")) or 0))
            reasons.append(_reason(item.get("return_reason")))
            notes.append(str(item.get("return_reason_note") or item.get("customer_note") or ""))
        decline = payload.get("decline") or {}
        count = payload.get("total_return_line_items")
        return {"returns": [ReturnRecord(
            external_id=str(payload.get("admin_graphql_api_id") or f"gid://shopify/Return/{payload['id']}"),
            order_external_id=order_id or "", status=status, name=str(payload.get("name") or ""),
            lines=lines, reason=next((r for r in reasons if r), ""),
            note=str(decline.get("note") or decline.get("reason") or next((n for n in notes if n), "")),
            line_count=int(count) if isinstance(count, int) else None)]}

    def node(self, known: ReturnRecord, found: Mapping[str, Any]) -> ReturnRecord:
        """The return as the GraphQL ``return`` node shows it: every line with its SKU and reason."""
        nodes = (found.get("returnLineItems") or {}).get("nodes") or []
        lines, reasons = [], []
        for node in nodes:
            line = (node.get("fulfillmentLineItem") or {}).get("lineItem") or {}
            if not line.get("id"):
                continue  # an unverified line (no fulfilled line behind it): nothing of ours to match
            lines.append(OrderLineRecord(external_id=str(gid_tail(line["id"])), sku=line.get("sku") or None,
                                         quantity=whole_units(node.get("quantity")) or 0))
            reasons.append(_reason(node.get("returnReason")))
        order = gid_tail((found.get("order") or {}).get("id"))
        return replace(known, status=str(found.get("status") or known.status).lower(),
                       order_external_id=known.order_external_id or order or "",
                       name=str(found.get("name") or known.name), lines=lines, line_count=len(lines),
                       reason=next((r for r in reasons if r), known.reason),
                       note=known.note or next((str(n.get("returnReasonNote") or "") for n in nodes
                                                if n.get("returnReasonNote")), ""))


#: Shopify's ``return(id:)`` query. ``returnLineItems`` is a connection of ``ReturnLineItem`` up to
#: 2024-10 and of the ``ReturnLineItemType`` interface after; the fragment on ``ReturnLineItem`` reads
#: in both. 250 is the most a connection answers at once, and a return is refused above 250 lines
#: (https://shopify.dev/docs/api/admin-graphql/2025-01/mutations/returnRequest).
RETURN_QUERY = (
    "query BackorderReturn($id: ID!) { return(id: $id) { id name status order { id } "
    "returnLineItems(first: 250) { nodes { quantity ... on ReturnLineItem { returnReason returnReasonNote "
    "fulfillmentLineItem { lineItem { id sku } } } } } } }")


_PAYLOAD = "{ return { id status } userErrors { field message code } }"
#: Our decisions, each a mutation taking ``$input`` (``ReturnApproveRequestInput`` /
#: ``ReturnDeclineRequestInput``) and answering the return's status and the user errors.
APPROVE_MUTATION = ("mutation BackorderReturnApprove($input: ReturnApproveRequestInput!) { "
                    f"returnApproveRequest(input: $input) {_PAYLOAD} }}")
DECLINE_MUTATION = ("mutation BackorderReturnDecline($input: ReturnDeclineRequestInput!) { "
                    f"returnDeclineRequest(input: $input) {_PAYLOAD} }}")
#: The end of an open return, each a mutation taking the return's ``$id`` itself.
CANCEL_MUTATION = f"mutation BackorderReturnCancel($id: ID!) {{ returnCancel(id: $id) {_PAYLOAD} }}"
CLOSE_MUTATION = f"mutation BackorderReturnClose($id: ID!) {{ returnClose(id: $id) {_PAYLOAD} }}"
DECLINE_REASONS = ("FINAL_SALE", "OTHER", "RETURN_PERIOD_ENDED")
#: A user error saying the return is no longer where the move starts: the store moved it already.
DECIDED = re.compile(r"not (approvable|declinable|requestable|cancell?able|clos(e)?able)|already|status",
                     re.IGNORECASE)


@dataclass(frozen=True)
class ReturnMove:
    """One mutation moving the store's return: our ``action``, its text, its root field, and
    whether the return's id goes in an ``$input`` object (else as ``$id``)."""

    action: str
    mutation: str
    root: str
    by_input: bool = True


@dataclass(frozen=True)
class ReturnLookup:
    """The GraphQL query reading one return by ``$id`` (its root field ``root``) at ``path``, and
    the mutations writing our moves on it (:class:`ReturnMove`, by action)."""

    query: str = RETURN_QUERY
    path: str = "graphql.json"
    root: str = "return"
    fields: ReturnFields = ReturnFields()
    decisions: tuple[ReturnMove, ...] = (ReturnMove("approve", APPROVE_MUTATION, "returnApproveRequest"),
                                         ReturnMove("decline", DECLINE_MUTATION, "returnDeclineRequest"),
                                         ReturnMove("cancel", CANCEL_MUTATION, "returnCancel", by_input=False),
                                         ReturnMove("close", CLOSE_MUTATION, "returnClose", by_input=False))


@dataclass(frozen=True)
class ReturnWritten:
    """What the store answered a move: ``written``, or ``already`` (it was no longer where the move
    starts: its status then is ``status``)."""

    outcome: str
    status: str
    message: str = ""


def graphql(connector: Any, path: str, query: str, variables: Mapping[str, Any], *,
            retry: bool = True) -> dict[str, Any]:
    """``data`` of one GraphQL request (a read is retried like a GET; a mutation is sent once),
    errors classified as above."""
    response: requests.Response = connector.request("POST", path, json_body={"query": query, "variables": variables},
                                                    retry=retry)
    answer = response.json()
    errors = answer.get("errors") if isinstance(answer, Mapping) else None
    if errors:
        codes = {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, Mapping)}
        text = "; ".join(str(e.get("message") if isinstance(e, Mapping) else e) for e in errors)
        if "THROTTLED" in codes:
            raise TransientError(f"graphql throttled: {text}", retry_after_s=1.0, platform=connector.platform)
        raise PermanentError(f"graphql refused the query: {text}", platform=connector.platform)
    return dict(answer.get("data") or {})


class StoreReturns:
    """``resolve_webhook`` for returns: each one that is to open ours and lacks lines is read in full."""

    platform: ClassVar[str]
    return_lookup: ClassVar[ReturnLookup | None] = None

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        lookup = self.return_lookup
        if lookup is None or not needs_details(event):
            return super().resolve_webhook(event)  # type: ignore[misc]
        found = []
        for known in event.returns:
            if not _needs(known):
                found.append(known)
                continue
            node = graphql(self, lookup.path, lookup.query, {"id": known.external_id}).get(lookup.root)
            if not isinstance(node, Mapping):
                raise PermanentError(f"{known.external_id} is not a return this shop has", platform=self.platform)
            found.append(lookup.fields.node(known, node))
        return replace(event, returns=found)


    def decide_return(self, store_return: str, action: str, reason: str = "OTHER", note: str = "") -> ReturnWritten:
        """Approve, decline, cancel or close the store's return ``store_return`` (a ``gid://shopify/Return/…``)."""
        lookup = self.return_lookup
        move = next((one for one in lookup.decisions if one.action == action), None) if lookup else None
        if lookup is None or move is None:
            raise PermanentError(f"{self.platform} takes no {action!r} of a return", platform=self.platform)
        if action == "decline" and reason not in DECLINE_REASONS:
            raise PermanentError(f"decline reason {reason!r} is not a ReturnDeclineReason", platform=self.platform)
        given = {"id": store_return, **({"declineReason": reason, **({"declineNote": note[:500]} if note else {})}
                                        if action == "decline" else {})}
        answer = graphql(self, lookup.path, move.mutation, {"input": given} if move.by_input else given,
                         retry=False).get(move.root) or {}
        errors = [e for e in answer.get("userErrors") or [] if isinstance(e, Mapping)]
        if not errors:
            return ReturnWritten("written", str((answer.get("return") or {}).get("status") or "").lower())
        text = "; ".join(f"{e.get('code') or ''} {e.get('message') or ''}".strip() for e in errors)
        if not any(e.get("code") == "INVALID_STATE" or DECIDED.search(str(e.get("message") or "")) for e in errors):
            raise PermanentError(f"{action} of {store_return} refused: {text}", platform=self.platform)
        node = graphql(self, lookup.path, lookup.query, {"id": store_return}).get(lookup.root)
        shown = str(node.get("status") or "").lower() if isinstance(node, Mapping) else ""
        return ReturnWritten("already", shown, text)


def _needs(one: ReturnRecord) -> bool:
    """A return to open ours that does not list all its lines, or an update (no status: its changes only)."""
    return not one.detailed and (one.status in OPENING or not one.status)


def needs_details(event: WebhookEvent) -> bool:
    """True when a return of the event is to be read in full before it is applied."""
    return any(_needs(one) for one in event.returns)
