"""Disputes as plain dicts for ``backorders disputes list|show`` (``--json`` prints them as they are)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.chargebacks.deadlines import DONE
from domain.core.models import DISPUTE_OUTCOMES, Case, Dispute, DisputeCall, DisputeNoticeRow, DisputePacket, Order


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def summary(dispute: Dispute, order_number: str | None, packet: DisputePacket | None) -> dict[str, Any]:
    return {"id": dispute.id, "provider": dispute.provider, "account": dispute.account,
            "dispute_ref": dispute.dispute_ref, "payment_ref": dispute.payment_ref, "order": order_number,
            "case_id": dispute.case_id, "category": dispute.category, "reason_code": dispute.reason_code,
            "network_code": dispute.network_code, "amount_cents": dispute.amount_cents, "currency": dispute.currency,
            "due_by": _iso(dispute.due_by), "state": dispute.state, "provider_status": dispute.provider_status,
            "escalated": dispute.escalated_at is not None,
            "missing": [m["fact"] for m in packet.missing] if packet else None}


def list_disputes(session: Session, *, state: str | None = None, include_closed: bool = False,
                  limit: int = 200) -> list[dict[str, Any]]:
    """Soonest deadline first (disputes without one last); without ``state`` the ones still open."""
    no_deadline_last = sql_case((Dispute.due_by.is_(None), 1), else_=0)
    query = (select(Dispute, Order.number, DisputePacket).outerjoin(Order, Order.id == Dispute.order_id)
             .outerjoin(DisputePacket, DisputePacket.dispute_id == Dispute.id)
             .order_by(no_deadline_last, Dispute.due_by, Dispute.id).limit(limit))
    if state:
        query = query.where(Dispute.state == state)
    elif not include_closed:
        query = query.where(Dispute.state.notin_(DISPUTE_OUTCOMES))
    return [summary(d, number, packet) for d, number, packet in session.execute(query).tuples()]


def find(session: Session, reference: str) -> Dispute | None:
    """A dispute by our id, or by the provider's dispute reference."""
    ref = reference.strip()
    if ref.isdigit():
        found = session.get(Dispute, int(ref))
        if found is not None:
            return found
    return session.scalar(select(Dispute).where(Dispute.dispute_ref == ref).order_by(Dispute.id).limit(1))


def show(session: Session, dispute: Dispute) -> dict[str, Any]:
    """The dispute, its packet (rule, facts it has, what it misses and why, the provider's fields),
    its provider calls, its notices and its case's state."""
    order_number = session.scalar(select(Order.number).where(Order.id == dispute.order_id)) if dispute.order_id else None
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    case = session.get(Case, dispute.case_id) if dispute.case_id else None
    data = summary(dispute, order_number, packet) | {
        "approved_by": dispute.approved_by, "approved_at": _iso(dispute.approved_at),
        "staged_at": _iso(dispute.staged_at), "submitted_at": _iso(dispute.submitted_at),
        "outcome_at": _iso(dispute.outcome_at), "escalated_at": _iso(dispute.escalated_at),
        "opened_at": _iso(dispute.created_at), "open": dispute.state not in DONE,
        "case": None if case is None else {"id": case.id, "state": case.state, "queue": case.queue,
                                            "owner": case.owner, "priority": case.priority,
                                            "sla_due_at": _iso(case.sla_due_at)},
        "packet": None if packet is None else {
            "version": packet.version, "rule": packet.rule_name, "rule_detail": packet.rule,
            "present": list(packet.present), "missing": list(packet.missing), "fields": dict(packet.fields),
            "documents": sorted(packet.documents), "defense_reason": packet.defense_reason,
            "facts": {name: fact["text"] for name, fact in packet.facts.items()}, "built_at": _iso(packet.built_at)},
        "calls": [{"id": c.id, "action": c.action, "state": c.state, "attempts": c.attempts,
                   "packet_version": c.packet_version, "requested_by": c.requested_by, "last_error": c.last_error,
                   "receipt": c.receipt, "done_at": _iso(c.done_at)}
                  for c in session.scalars(select(DisputeCall).where(DisputeCall.dispute_id == dispute.id)
                                           .order_by(DisputeCall.id))],
        "notices": [{"event_id": n.event_id, "status": n.status, "outcome": n.outcome, "received_at": _iso(n.received_at)}
                    for n in session.scalars(select(DisputeNoticeRow).where(DisputeNoticeRow.dispute_id == dispute.id)
                                             .order_by(DisputeNoticeRow.id))],
    }
    return data
