"""Returns as people and scripts read them: ``backorders returns list|show`` and ``why return``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import CsatRequest, Order, RefundDecision, RefundExecution, ReturnEvent, ReturnRequest
from domain.returns import store_writes
from domain.returns.csat_source import KIND as SURVEY_KIND


def _money(cents: int | None, currency: str) -> str:
    return f"{(cents or 0) / 100:,.2f} {currency}"


def find(session: Session, reference: str) -> ReturnRequest | None:
    """By RMA (``RMA-000012``), by id, or by the source's reference (a Loop return id)."""
    ref = reference.strip()
    found = session.scalar(select(ReturnRequest).where(ReturnRequest.rma == ref.upper()))
    if found is None and ref.isdigit():
        found = session.get(ReturnRequest, int(ref))
    return found or session.scalar(select(ReturnRequest).where(ReturnRequest.source_ref == ref)
                                   .order_by(ReturnRequest.id).limit(1))


def survey(session: Session, row: ReturnRequest) -> CsatRequest | None:
    """The return's satisfaction survey (``domain.csat``, kind ``return``), if it has one."""
    return session.scalar(select(CsatRequest).where(CsatRequest.subject_kind == SURVEY_KIND,
                                                    CsatRequest.subject_id == row.id))


def _survey_summary(found: CsatRequest | None) -> str:
    if found is None:
        return "not asked"
    return f"{found.score}/5" if found.score is not None else "not answered"


def summary(session: Session, row: ReturnRequest) -> dict[str, Any]:
    order = session.get(Order, row.order_id)
    decision = session.get(RefundDecision, row.decision_id) if row.decision_id else None
    execution = session.get(RefundExecution, row.execution_id) if row.execution_id else None
    return {
        "rma": row.rma, "id": row.id, "state": row.state, "source": row.source, "source_ref": row.source_ref,
        "order": order.number if order else None, "customer": row.customer, "reason": row.reason,
        "lines": row.lines, "amount_cents": row.amount_cents, "currency": row.currency, "flags": row.flags,
        "decision": None if decision is None else {
            "id": decision.id, "decision": decision.decision, "rule": decision.rule_name,
            "rule_index": decision.rule_index, "amount_approved_cents": decision.amount_approved_cents,
            "settle_as": decision.settle_as},
        "label": None if row.label_ref is None else {"account": row.label_account, "label_id": row.label_ref,
                                                     "carrier": row.label_carrier,
                                                     "tracking_number": row.tracking_number, "url": row.label_url},
        "qc": row.qc, "received_weight_g": row.received_weight_g, "restocked_qty": row.restocked_qty,
        "refund": None if execution is None else {"id": execution.id, "state": execution.state,
                                                  "route": execution.route, "provider": execution.provider,
                                                  "amount_cents": execution.amount_cents,
                                                  "provider_ref": execution.provider_ref},
        "survey": _survey_summary(survey(session, row)), "last_error": row.last_error,
        "store_writes": _store_writes(session, row),
        "created_at": row.created_at, "updated_at": row.updated_at}


def _store_writes(session: Session, row: ReturnRequest) -> list[dict[str, Any]]:
    """Our moves owed to the store's own return (``domain.returns.store_writes``): the decision,
    then its cancel or close, in the order they were owed."""
    return [{"id": write.id, "action": write.action, "store_return": write.store_return, "state": write.state,
             "outcome": write.outcome, "store_status": write.store_status, "decline_reason": write.decline_reason,
             "note": write.note, "attempts": write.attempts, "last_error": write.last_error,
             "created_at": write.created_at, "done_at": write.done_at}
            for write in store_writes.of_return(session, row.id)]


def listed(session: Session, state: str | None = None, limit: int = 100) -> list[ReturnRequest]:
    query = select(ReturnRequest).order_by(ReturnRequest.id.desc()).limit(limit)
    if state:
        query = query.where(ReturnRequest.state == state)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str
    text: str
    data: dict[str, Any]


def _text(row: ReturnRequest, event: ReturnEvent) -> str:
    d, cur = event.detail or {}, row.currency
    move = f"{event.from_state} → {event.to_state}" if event.from_state != event.to_state else event.to_state
    by = f" by {event.actor}"
    if event.step == "requested":
        lines = ", ".join(f"{one['quantity']} × {one['sku']}" for one in d.get("lines") or [])
        return f"requested ({d.get('source')} {d.get('source_ref')}): {lines}, reason {d.get('reason')}, " \
               f"{_money(d.get('amount_cents'), cur)}{by}"
    if event.step in ("policy", "fraud_check") and "rule" in d:
        flags = "; ".join(f["reason"] for f in d.get("flags") or [])
        return (f"{move}: policy decided {d.get('decision')} by rule {d.get('rule')!r}, "
                f"{_money(d.get('amount_approved_cents'), cur)} as {d.get('settle_as') or '—'}"
                + (f"; flagged: {flags}" if flags else ""))
    if event.step == "fraud_check":
        return f"{move}: flagged: " + "; ".join(f["reason"] for f in d.get("flags") or [])
    if event.step == "label":
        return f"{move}: return label {d.get('label_id')} tracking {d.get('tracking_number')}{by}"
    if event.step == "receive_scan":
        weight = f", {d['weight_g']} g" if d.get("weight_g") is not None else ""
        return f"{move}: received, QC {d.get('qc')}{weight}{by}"
    if event.step == "settle":
        refund, disposition = d.get("refund") or {}, d.get("disposition") or {}
        paid = (f"{refund.get('decision')} {_money(refund.get('amount_cents'), cur)} as {refund.get('settle_as')} "
                f"(rule {refund.get('rule')!r}, refund execution {refund.get('execution_id')})"
                if refund.get("decision") else "nothing paid")
        stock = ", ".join(f"+{b['quantity']} {b['sku']} at {b['location']} (on hand {b['on_hand_after']})"
                          for b in disposition.get("restocked") or []) or \
            ", ".join(f"{b['quantity']} {b['sku']} {b['as']}" for b in disposition.get("not_restocked") or [])
        filled = disposition.get("filled_backorders") or []
        fills = f"; filled waiting backorder(s) {', '.join(map(str, filled))} first" if filled else ""
        return f"{move}: {paid}; disposition: {stock}{fills}; customer emailed (outbox {d.get('notice_outbox_id')})"
    if event.step == "tracking":
        return f"{move}: the label's tracking shows it delivered to us ({d.get('scan')}){by}"
    if event.step == "label_failed":
        return f"label not bought: {d.get('error')}"
    if event.step == "store_write":  # our move written to the store's return (``store_writes``)
        told = {"approve": "approved", "decline": "declined", "cancel": "cancelled", "close": "closed"}.get(
            str(d.get("action")), d.get("action"))
        why = f" ({d.get('decline_reason')}: {d['note']})" if d.get("note") else ""
        was = "had decided already" if d.get("action") in ("approve", "decline") \
            else "could not be moved from where it was"
        return (f"{move}: {told} the store's return {d.get('store_return')}{why}" if d.get("outcome") == "written"
                else f"{move}: not {told} at the store ({d.get('store_return')}): it {was}, "
                     f"it shows {d.get('store_status') or 'no status'}") + by
    if event.step == "store_write_failed":
        return f"{move}: could not {d.get('action')} the store's return {d.get('store_return')}: {d.get('error')}"
    if event.step == "store_updated":
        lines = ", ".join(f"{one['quantity']} × {one['sku']}" for one in d.get("lines") or [])
        return (f"{move}: lines changed at the store ({d.get('store_return')}): {lines}"
                + (f", {_money(d.get('amount_cents'), row.currency)}" if d.get("taken") else f"; {d.get('note')}")
                + (f" (review case {d['case_id']} told)" if d.get("case_id") else "") + by)
    if event.step.startswith("store_"):  # the store's own return moved (``domain.returns.store_returns``)
        what = event.step.removeprefix("store_") + (" (our write coming back)" if d.get("echo") else "")
        return (f"{move}: {what} at the store ({d.get('store_return')}){by}"
                + (f": {d['note']}" if d.get("note") else ""))
    if event.step == "staff_approval":
        return f"{move}: approved{by}" + (f" ({d['note']})" if d.get("note") else "")
    return f"{move}: {event.step}{by}" + (f" {d}" if d else "")


def steps(session: Session, row: ReturnRequest) -> list[Step]:
    events = session.scalars(select(ReturnEvent).where(ReturnEvent.return_id == row.id)
                             .order_by(ReturnEvent.at, ReturnEvent.id))
    found = [Step(e.at, f"return.{e.step}", _text(row, e), {"actor": e.actor, "from": e.from_state,
                                                            "to": e.to_state, **(e.detail or {})}) for e in events]
    asked = survey(session, row)
    if asked is not None and asked.score is not None and asked.answered_at is not None:
        comment = f": {asked.comment}" if asked.comment else ""
        found.append(Step(asked.answered_at, "csat.answered", f"survey answered: {asked.score}/5{comment}",
                          {"csat_request_id": asked.id, "score": asked.score, "answer_count": asked.answer_count,
                           "decision": asked.decision, "follow_up_case_id": asked.follow_up_case_id}))
    return found
