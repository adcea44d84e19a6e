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

GraphQL answers 200 with ``errors`` for a query it refuses; a ``THROTTLED`` code among them is the
cost limit (https://shopify.dev/docs/api/usage/rate-limits#graphql-admin-api-rate-limits), so it is
transient, anything else is permanent; a ``null`` return is a return the shop does not have.
"""
from __future__ import annotations

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
        if not order_id:
            raise KeyError("order")
        lines, reasons, notes = [], [], []
        for item in payload.get("return_line_items") or []:
            line = ((item.get("fulfillment_line_item") or {}).get("line_item") or {})
            lines.append(OrderLineRecord(external_id=str(line["id"]), sku=line.get("sku") or None,
                                         quantity=whole_units(item.get("quantity")) or 0))
            reasons.append(_reason(item.get("return_reason")))
            notes.append(str(item.get("return_reason_note") or item.get("customer_note") or ""))
        decline = payload.get("decline") or {}
        count = payload.get("total_return_line_items")
        return {"returns": [ReturnRecord(
            external_id=str(payload.get("admin_graphql_api_id") or f"gid://shopify/Return/{payload['id']}"),
            order_external_id=order_id, status=str(payload["status"]).lower(), name=str(payload.get("name") or ""),
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
        return replace(known, status=str(found.get("status") or known.status).lower(),
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


@dataclass(frozen=True)
class ReturnLookup:
    """The GraphQL query reading one return by ``$id`` (its root field ``root``) at ``path``."""

    query: str = RETURN_QUERY
    path: str = "graphql.json"
    root: str = "return"
    fields: ReturnFields = ReturnFields()


def graphql(connector: Any, path: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` of one GraphQL request (a read: retried like a GET), errors classified as above."""
    response: requests.Response = connector.request("POST", path, json_body={"query": query, "variables": variables},
                                                    retry=True)
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
            if known.detailed or known.status not in OPENING:
                found.append(known)
                continue
            node = graphql(self, lookup.path, lookup.query, {"id": known.external_id}).get(lookup.root)
            if not isinstance(node, Mapping):
                raise PermanentError(f"{known.external_id} is not a return this shop has", platform=self.platform)
            found.append(lookup.fields.node(known, node))
        return replace(event, returns=found)


def needs_details(event: WebhookEvent) -> bool:
    """True when a return of the event is to open ours and does not list all its lines."""
    return any(not one.detailed and one.status in OPENING for one in event.returns)
