"""The facts a reply draft is filled with, read from the order as it stands: each backordered line
with its ETA and the customer's options (the same signed links the backorder notices carry,
``customer_journey.message_context``), each parcel with its carrier, tracking number and last
scan, each refund with what the policy decided and where its payment stands. Read-only; the result
is plain JSON, stored with the draft exactly as it was used.

Each order's newest return (``return_requests``, ``domain.returns``): its RMA, state, amount and,
once bought, the return label (carrier, tracking number, label link); None when it has none, and
the return template then says a person sends the label.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.env_settings import JourneySettings
from domain.core.models import (
    Backorder,
    Order,
    OrderLine,
    RefundDecision,
    RefundExecution,
    ReturnRequest,
    Shipment,
    Sku,
    SupportTicket,
    SupportTicketLink,
    TrackingEvent,
)
from domain.journey import backorders, customer_journey
from domain.policy.rules import BACKORDER_RULE
from domain.support.answers import CHOICE_TARGETS



def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def orders_in_question(session: Session, ticket: SupportTicket) -> list[Order]:
    """The orders the ticket names by number, else the customer's newest linked order."""
    rows = session.execute(select(Order, SupportTicketLink.matched_by).join(
        SupportTicketLink, (SupportTicketLink.ref_id == Order.id) & (SupportTicketLink.kind == "order"))
        .where(SupportTicketLink.ticket_id == ticket.id).order_by(Order.placed_at.desc(), Order.id.desc())).tuples().all()
    named = [order for order, how in rows if how == "order_number"]
    return named or [order for order, _ in rows[:1]]


def linked_orders(session: Session, ticket: SupportTicket) -> list[Order]:
    """Every order linked to the ticket (named or by email), newest first."""
    return list(session.scalars(select(Order).join(
        SupportTicketLink, (SupportTicketLink.ref_id == Order.id) & (SupportTicketLink.kind == "order"))
        .where(SupportTicketLink.ticket_id == ticket.id).order_by(Order.placed_at.desc(), Order.id.desc())))


def backorder_facts(session: Session, backorder: Backorder, settings: JourneySettings,
                    now: datetime) -> dict[str, Any]:
    """One backordered line: ETA, deadline, state and the options still open, each with its signed link."""
    context = customer_journey.message_context(session, backorder, settings, now)
    open_choices = [c for c, target in CHOICE_TARGETS.items() if backorders.can_move(backorder.state, target)]
    return {"id": backorder.id, "item": context["item_title"], "sku": context["sku"], "quantity": backorder.quantity,
            "state": backorder.state, "eta": context["eta"], "promised_date": _iso(backorder.promised_date),
            "deadline": context["deadline"], "timezone": context["timezone"],
            "consent_required": backorder.consent_required, "resolution": backorder.resolution,
            "options": open_choices,
            "links": {c: url for c, url in context["links"].items() if c in open_choices},
            "substitutes": context["substitutes"] if "substitute" in open_choices else [],
            "credit_total_cents": context["credit_total_cents"]}


def shipment_facts(session: Session, shipment: Shipment) -> dict[str, Any]:
    """One parcel: carrier, tracking number, status and its latest scan."""
    scan = session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
                           .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc()).limit(1)).first()
    return {"id": shipment.id, "carrier": shipment.carrier, "service": shipment.service,
            "tracking_number": shipment.tracking_number, "status": shipment.status,
            "status_at": _iso(shipment.status_at), "shipped_at": _iso(shipment.shipped_at),
            "delivered_at": _iso(shipment.delivered_at), "last_scan_at": _iso(shipment.last_scan_at),
            "stuck": shipment.stuck_at is not None and shipment.delivered_at is None,
            "last_scan": {"at": _iso(scan.occurred_at), "description": scan.description, "location": scan.location}
            if scan is not None else None}


def _refund_status(decision: RefundDecision, execution: RefundExecution | None, backorder: Backorder | None) -> str:
    if execution is not None:
        return {"pending": "being paid", "sending": "being paid", "awaiting": "sent, awaiting the provider",
                "held": "held", "succeeded": "paid", "failed": "failed"}[execution.state]
    if decision.rule_name == BACKORDER_RULE and backorder is not None:
        return "paid" if backorder.resolution_ref else "being paid"
    return {"approve": "approved", "credit": "approved", "review": "under review", "deny": "denied"}[decision.decision]


def refund_facts(session: Session, order: Order) -> list[dict[str, Any]]:
    """Each refund decision of the order: asked, approved, how it is settled and where its payment stands."""
    out = []
    for decision, execution in session.execute(
            select(RefundDecision, RefundExecution).outerjoin(RefundExecution, RefundExecution.decision_id == RefundDecision.id)
            .where(RefundDecision.order_id == order.id).order_by(RefundDecision.id)).tuples():
        backorder_id = (decision.figures or {}).get("backorder_id")
        backorder = session.get(Backorder, int(backorder_id)) if backorder_id else None
        out.append({"decision_id": decision.id, "reason": decision.reason, "decision": decision.decision,
                    "rule": decision.rule_name, "amount_asked_cents": decision.amount_asked_cents,
                    "amount_cents": decision.amount_approved_cents, "currency": decision.currency,
                    "settle_as": decision.settle_as, "status": _refund_status(decision, execution, backorder),
                    "reference": execution.provider_ref if execution is not None
                    else (backorder.resolution_ref if backorder is not None else None),
                    "backorder_id": backorder.id if backorder is not None else None})
    return out


def return_facts(session: Session, order: Order) -> dict[str, Any] | None:
    """The order's newest return (RMA): where it stands and its label, if one was bought."""
    row = session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)
                          .order_by(ReturnRequest.id.desc()).limit(1)).first()
    if row is None:
        return None
    return {"rma": row.rma, "state": row.state, "reason": row.reason, "amount_cents": row.amount_cents,
            "currency": row.currency, "qc": row.qc,
            "label": {"carrier": row.label_carrier, "tracking_number": row.tracking_number, "url": row.label_url}
            if row.label_ref or row.label_url or row.tracking_number else None}


def order_facts(session: Session, order: Order, settings: JourneySettings, now: datetime) -> dict[str, Any]:
    waiting = list(session.scalars(select(Backorder).join(OrderLine, OrderLine.id == Backorder.order_line_id)
                                   .where(OrderLine.order_id == order.id).order_by(Backorder.id)))
    items = session.execute(select(OrderLine.quantity, OrderLine.title, Sku.code).outerjoin(Sku, Sku.id == OrderLine.sku_id)
                            .where(OrderLine.order_id == order.id).order_by(OrderLine.id)).tuples().all()
    return {"id": order.id, "number": order.number, "status": order.status, "placed_at": _iso(order.placed_at),
            "total_cents": order.total_cents, "currency": order.currency,
            "items": [{"quantity": q, "title": t, "sku": code} for q, t, code in items],
            "backorders": [backorder_facts(session, b, settings, now) for b in waiting],
            "shipments": [shipment_facts(session, s) for s in session.scalars(
                select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))],
            "refunds": refund_facts(session, order),
            "return": return_facts(session, order)}


def gather(session: Session, ticket: SupportTicket, settings: JourneySettings, now: datetime) -> dict[str, Any]:
    """Everything a draft may say about this ticket's orders, as plain JSON."""
    orders = orders_in_question(session, ticket)
    first = orders[0] if orders else None
    return {"store_name": settings.config.name or "our store",
            "customer_name": (first.customer_name if first else "") or ticket.customer_name or "",
            "ticket": {"id": ticket.id, "subject": ticket.subject, "intent": ticket.intent, "queue": ticket.queue},
            "orders": [order_facts(session, order, settings, now) for order in orders],
            "returns_supported": True, "composed_at": now.isoformat()}
