"""Cases as plain dicts for ``backorders cases list|show`` (and ``--json``) and the console: the row,
why it is open (the reasons its cause gave, with their figures), its playbook from the
configuration and its history, oldest first."""
from __future__ import annotations

from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.case_config import CasesConfig
from domain.core.models import CASE_PRIORITIES, Case, CaseEvent, Order, Store


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def summary(case: Case, order_number: str | None, channel: str | None) -> dict[str, Any]:
    return {"id": case.id, "kind": case.kind, "state": case.state, "queue": case.queue, "owner": case.owner,
            "priority": case.priority, "order": order_number, "channel": channel, "skus": list(case.sku_codes),
            "sla_due_at": _iso(case.sla_due_at), "sla_breached": case.sla_breached_at is not None,
            "summary": case.summary, "opened_at": _iso(case.created_at)}


def list_cases(session: Session, *, queue: str | None = None, state: str | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """Cases most urgent first, then soonest due; without ``state`` the unresolved ones."""
    urgency = sql_case({p: n for n, p in enumerate(CASE_PRIORITIES)}, value=Case.priority)
    query = (select(Case, Order.number, Store.key).outerjoin(Order, Order.id == Case.order_id)
             .outerjoin(Store, Store.id == Case.store_id).order_by(urgency, Case.sla_due_at, Case.id).limit(limit))
    query = query.where(Case.state == state) if state else query.where(Case.state != "resolved")
    if queue:
        query = query.where(Case.queue == queue)
    return [summary(case, number, key) for case, number, key in session.execute(query).tuples()]


def reasons(events: list[CaseEvent]) -> list[str]:
    """Why the case is open, with its figures: the ``reasons`` of its newest event that gives them
    (the cause's own words, e.g. a fraud hold's signals; a re-scored order's newer ones)."""
    for event in reversed(events):
        found = event.detail.get("reasons") if isinstance(event.detail, dict) else None
        if isinstance(found, list):
            return [str(one) for one in found]
    return []


def show(session: Session, case_id: int, config: CasesConfig) -> dict[str, Any] | None:
    """One case with its route, playbook and every event; None if there is no such case."""
    row = session.execute(select(Case, Order.number, Store.key).outerjoin(Order, Order.id == Case.order_id)
                          .outerjoin(Store, Store.id == Case.store_id).where(Case.id == case_id)).tuples().first()
    if row is None:
        return None
    case, number, key = row
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    return summary(case, number, key) | {
        "order_line_ids": list(case.order_line_ids), "category": case.category, "customer_tier": case.customer_tier,
        "route_index": case.route_index, "sla_s": case.sla_s, "sla_breached_at": _iso(case.sla_breached_at),
        "resolved_at": _iso(case.resolved_at), "resolution_note": case.resolution_note,
        "subject": f"{case.subject_type} {case.subject_id}",
        "reasons": reasons(events),
        "playbook": list(config.playbooks.get(case.kind, ())),
        "history": [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "from_state": e.from_state,
                     "to_state": e.to_state, "note": e.note, "detail": e.detail} for e in events],
    }


def case_events_for_order(session: Session, order_id: int) -> list[tuple[Case, CaseEvent]]:
    """Every event of every case about the order (``backorders why order``)."""
    return list(session.execute(select(Case, CaseEvent).join(CaseEvent, CaseEvent.case_id == Case.id)
                                .where(Case.order_id == order_id).order_by(CaseEvent.id)).tuples())
