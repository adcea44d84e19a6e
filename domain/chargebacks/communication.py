"""The customer's messages about the order, as evidence: what we sent them (outbox rows, rendered
again from their stored context, so the words are the ones they received) and what they texted
back (``inbound_sms``), oldest first.

A message is about the order when it went to the order's email or phone and its context names the
order's number, or when it belongs to one of the order's backorders (``backorder:{id}:`` keys,
``inbound_sms.backorder_id``). Issuers do not follow links, so the words go in, not a link to them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, or_, select

from domain.chargebacks.sources import Fact, Found, Gap, Scope, source
from domain.core.models import Backorder, InboundSms, Order, OrderLine, OutboxMessage
from domain.messaging import rendering

SENT_STATES = ("sent", "delivered", "unknown")
#: Characters of one message kept in the evidence (a long email stays readable, the packet small).
MESSAGE_CHARS = 1500


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "(time unknown)"


def _words(message: OutboxMessage) -> str:
    try:
        if message.channel == "email":
            email = rendering.render_email(message.template, message.context)
            return f"Subject: {email.subject}\n{email.text}".strip()
        if message.channel == "sms":
            return rendering.render_sms(message.template, message.context).strip()
    except rendering.RenderError:
        return f"({message.template} message; its words could not be rendered again)"
    return f"({message.template} message)"


def outbound(scope: Scope, order: Order, backorder_ids: list[int]) -> list[dict[str, Any]]:
    recipients = [r for r in (order.email, order.phone) if r]
    about_order: list[ColumnElement[bool]] = [
        OutboxMessage.idempotency_key.startswith(f"backorder:{b}:", autoescape=True) for b in backorder_ids]
    if recipients:
        about_order.append(OutboxMessage.recipient.in_(recipients)
                           & (cast(OutboxMessage.context["order_number"].astext, String) == order.number))
    if not about_order:
        return []
    rows = scope.session.scalars(select(OutboxMessage).where(or_(*about_order), OutboxMessage.channel != "slack",
                                                             OutboxMessage.state.in_(SENT_STATES))
                                 .order_by(OutboxMessage.id))
    return [{"at": row.sent_at or row.created_at, "direction": "to customer", "channel": row.channel,
             "party": row.recipient, "words": _words(row)[:MESSAGE_CHARS]} for row in rows]


def inbound(scope: Scope, order: Order, backorder_ids: list[int]) -> list[dict[str, Any]]:
    clauses: list[ColumnElement[bool]] = [InboundSms.backorder_id.in_(backorder_ids)] if backorder_ids else []
    if order.phone:
        clauses.append((InboundSms.from_number == order.phone) & (InboundSms.received_at >= order.placed_at))
    if not clauses:
        return []
    rows = scope.session.scalars(select(InboundSms).where(or_(*clauses)).order_by(InboundSms.id))
    return [{"at": row.received_at, "direction": "from customer", "channel": "sms", "party": row.from_number,
             "words": f"texted {row.keyword!r} ({row.result})"} for row in rows]


@source("messages", priority=40)
def messages(scope: Scope) -> Found:
    order = scope.order
    if order is None:
        return {"customer_communication": Gap("no order carries this payment reference", "messages")}
    backorder_ids = list(scope.session.scalars(select(Backorder.id).join(OrderLine, OrderLine.id == Backorder.order_line_id)
                                               .where(OrderLine.order_id == order.id)))
    rows = sorted(outbound(scope, order, backorder_ids) + inbound(scope, order, backorder_ids),
                  key=lambda r: r["at"])
    if not rows:
        return {"customer_communication": Gap(f"no message to or from the customer about order {order.number} "
                                              "is on record", "messages")}
    text = "\n\n".join(f"{_when(r['at'])}, {r['channel']} {r['direction']} ({r['party']}):\n{r['words']}" for r in rows)
    return {"customer_communication": Fact(text, "messages", tuple({**r, "at": _when(r["at"])} for r in rows))}
