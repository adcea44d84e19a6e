"""A dispute's history for ``backorders why dispute ID`` (and its lines in ``why order``), read
back from the rows the chargeback desk keeps: the notices as they came, the packet with its rule
and what it has and misses, each provider call and its answer, every action on its case, and the
finance note with its amount and rule. ``domain.why`` assembles the trail; nothing is recomputed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.chargebacks import views
from domain.chargebacks.order_sources import money
from domain.core.models import CaseEvent, Dispute, DisputeCall, DisputeNoticeRow, DisputePacket, FinanceNote


@dataclass(frozen=True)
class Entry:
    at: datetime | None
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def facts(session: Session, dispute: Dispute) -> dict[str, Any]:
    shown = views.show(session, dispute)
    packet = shown.pop("packet") or {}
    for nested in ("calls", "notices", "case", "open", "missing"):
        shown.pop(nested)
    return shown | {"rule": packet.get("rule"), "has": packet.get("present"),
                    "missing": [m["fact"] for m in packet.get("missing", [])]}


def finance_entry(note: FinanceNote) -> Entry:
    return Entry(note.created_at, "finance.note", f"finance note {note.kind}: {money(note.amount_cents, note.currency)}"
                 f" — {note.gl_note} (rule: {note.rule})", {"finance_note_id": note.id, "kind": note.kind,
                                                            "amount_cents": note.amount_cents, "rule": note.rule,
                                                            "figures": note.figures, "reference": note.reference})


def entries(session: Session, dispute: Dispute) -> list[Entry]:
    out: list[Entry] = []
    for notice in session.scalars(select(DisputeNoticeRow).where(DisputeNoticeRow.dispute_id == dispute.id)
                                  .order_by(DisputeNoticeRow.id)):
        due = notice.data.get("due_by")
        out.append(Entry(notice.received_at, "dispute.notice", f"{notice.provider} notice {notice.event_id}: status "
                         f"{notice.status or '-'}, outcome {notice.outcome}" + (f", evidence due {due}" if due else ""),
                         {"event_id": notice.event_id, "status": notice.status, "outcome": notice.outcome,
                          "due_by": due, "reason_code": notice.data.get("reason_code"),
                          "network_code": notice.data.get("network_code")}))
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    if packet is not None:
        gaps = "; ".join(f"{m['label']} ({m['why']})" for m in packet.missing)
        out.append(Entry(packet.built_at, "dispute.packet", f"packet v{packet.version} by rule \"{packet.rule_name}\": "
                         f"has {', '.join(packet.present) or 'nothing'}" + (f"; missing {gaps}" if gaps else "; complete"),
                         {"rule": packet.rule, "present": packet.present, "missing": packet.missing,
                          "fields": sorted(packet.fields), "documents": sorted(packet.documents)}))
    for call in session.scalars(select(DisputeCall).where(DisputeCall.dispute_id == dispute.id).order_by(DisputeCall.id)):
        out.append(Entry(call.created_at, "dispute.call", f"{call.action} call requested by {call.requested_by or '-'}",
                         {"call_id": call.id, "action": call.action}))
        receipt = call.receipt or {}
        answer = (f"provider status {receipt.get('provider_status') or '-'}" if call.state == "done"
                  else call.last_error or "")
        out.append(Entry(call.done_at or call.updated_at, f"dispute.call_{call.state}",
                         f"{call.action} call {call.state} after {call.attempts} attempt(s)" + (f": {answer}" if answer else ""),
                         {"call_id": call.id, "action": call.action, "state": call.state, "receipt": receipt,
                          "packet_version": call.packet_version}))
    if dispute.case_id is not None:
        for event in session.scalars(select(CaseEvent).where(CaseEvent.case_id == dispute.case_id).order_by(CaseEvent.id)):
            move = f" {event.from_state or ''}→{event.to_state}" if event.to_state else ""
            out.append(Entry(event.at, "case", f"case {dispute.case_id} {event.action}{move} by {event.actor}"
                             + (f": {event.note}" if event.note else ""),
                             {"case_id": dispute.case_id, "action": event.action, "actor": event.actor}))
    for note in session.scalars(select(FinanceNote).where(FinanceNote.subject_type == "dispute",
                                                         FinanceNote.subject_id == dispute.id).order_by(FinanceNote.id)):
        out.append(finance_entry(note))
    return out


def order_entries(session: Session, order_id: int) -> list[Entry]:
    """The order's disputes (in one line each, pointing at their own trail) and finance notes."""
    out = [Entry(d.created_at, "dispute", f"dispute {d.id}: {d.provider} {d.dispute_ref}, "
                 f"{money(d.amount_cents, d.currency)}, {d.category.replace('_', ' ')}, now {d.state} "
                 f"(`backorders why dispute {d.id}`)", {"dispute_id": d.id, "state": d.state})
           for d in session.scalars(select(Dispute).where(Dispute.order_id == order_id).order_by(Dispute.id))]
    out += [finance_entry(note) for note in session.scalars(select(FinanceNote).where(FinanceNote.order_id == order_id)
                                                            .order_by(FinanceNote.id))]
    return out
