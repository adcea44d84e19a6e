"""Telling the customer their refund or credit was paid, through the outbox (one email per
execution: ``refund-execution:{id}:paid``), as every customer message is sent: stored first,
delivered after commit, suppressed with its reason when the address is invalid or opted out."""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain.core.models import Order, RefundExecution, Store
from domain.core.stages import FollowUp, Stage
from domain.messaging import contacts, outbox

TEMPLATE = "refund_paid"
PROVIDER_NAMES = {"stripe": "your card", "adyen": "your card", "paypal": "your PayPal account"}


def notify_paid(session: Session, row: RefundExecution) -> list[FollowUp]:
    """The "refund paid" email for a succeeded execution (none for a failed one: staff look at those)."""
    order = session.get(Order, row.order_id) if row.order_id is not None else None
    if row.state != "succeeded" or order is None:
        return []
    store = session.get(Store, order.store_id)
    email = contacts.valid_email(order.email)
    reason = None if email else f"no valid email address ({order.email!r})"
    if email and contacts.opted_out(session, "email", email):
        reason = "email opted out"
    context = {"customer_name": order.customer_name, "order_number": order.number,
               "store_name": store.name if store else "", "amount_cents": row.amount_cents, "currency": row.currency,
               "kind": row.kind, "reference": row.provider_ref or "",
               "paid_to": PROVIDER_NAMES.get(row.provider, "your original payment method")}
    outbox_id = outbox.enqueue(session, idempotency_key=f"refund-execution:{row.id}:paid", channel="email",
                               template=TEMPLATE, recipient=email or (order.email or ""), context=context,
                               suppressed_because=reason)
    if outbox_id is None:
        return []
    row.notice_outbox_id = outbox_id
    return [] if reason else [FollowUp(Stage.DELIVER, (outbox_id,))]
