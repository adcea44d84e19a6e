"""Opening, assigning, moving and resolving cases; every action is a ``case_events`` row.

A case is opened once per kind and subject (the unique index): a retried or redelivered cause
gets the case that is already there and raises nothing twice. Opening routes the case
(``domain.cases.routing``), starts its SLA timer (a ``timers`` row, fired by the sweeper into
``domain.cases.sla``) and alerts the queue's routes for ``case.opened``. Resolving cancels the
timer, so a resolved case never breaches.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core import timers
from domain.core.business_config import BusinessConfig, RouteConfig
from domain.core.clock import utcnow
from domain.core.models import CASE_STATES, Alert, Case, CaseEvent, OutboxMessage, Sku, Store
from domain.cases.routing import Facts, route
from domain.messaging.alerts import raise_ops_alert

SLA_TIMER = "case.sla"
SUBJECT = "case"
#: Moves a person or a process may make; ``resolved`` is final (a new problem is a new case).
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "waiting", "resolved"}),
    "in_progress": frozenset({"waiting", "resolved"}),
    "waiting": frozenset({"in_progress", "resolved"}),
    "resolved": frozenset(),
}
assert set(TRANSITIONS) == set(CASE_STATES)
#: States whose SLA clock does not run: ``waiting`` is on the customer, a carrier or stock, not on
#: us; ``resolved`` is done. Leaving ``waiting`` starts a full SLA again.
PAUSED = frozenset({"waiting", "resolved"})


class CaseError(ValueError):
    """No such case, or a move its state does not allow."""


@dataclass(frozen=True)
class NewCase:
    """What raised the case and what it is about; ``tier`` is the customer's segment key.
    ``priority``, when set, overrides the route's (a cause that knows it is urgent: a fraud hold).
    ``detail`` lands in the ``opened`` event; a ``reasons`` list there is shown with the playbook."""

    kind: str
    subject_type: str
    subject_id: int
    summary: str
    order_id: int | None = None
    order_line_ids: tuple[int, ...] = ()
    store_id: int | None = None
    sku_ids: tuple[int, ...] = ()
    tier: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None


def record(session: Session, case: Case, actor: str, action: str, *, from_state: str | None = None,
           to_state: str | None = None, note: str = "", now: datetime | None = None, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case.id, actor=actor, action=action, from_state=from_state, to_state=to_state,
                          note=note, detail=detail, at=now or utcnow()))


def queue_routes(routes: Sequence[RouteConfig], queue: str) -> tuple[RouteConfig, ...]:
    """The notification routes that serve ``queue``: those naming it and those naming no queue."""
    return tuple(r for r in routes if r.queue in (None, queue))


def open_case(session: Session, new: NewCase, config: BusinessConfig, *, actor: str,
              now: datetime | None = None, alert: bool = True) -> Case:
    """Open (route, time, alert) the case for ``new``'s subject, or return the one already open for it.

    ``alert=False`` opens it quietly, for a cause that has alerted the same people already."""
    now = now or utcnow()
    skus = list(session.scalars(select(Sku).where(Sku.id.in_(new.sku_ids)).order_by(Sku.id))) if new.sku_ids else []
    store = session.get(Store, new.store_id) if new.store_id is not None else None
    facts = Facts(new.kind, tuple(s.code for s in skus), tuple(dict.fromkeys(s.category for s in skus if s.category)),
                  store.key if store else None, new.tier)
    decision = route(config.cases, facts)
    if new.priority is not None:
        decision = replace(decision, priority=new.priority)
    case_id = session.execute(insert(Case).values(
        kind=new.kind, state="open", subject_type=new.subject_type, subject_id=new.subject_id, order_id=new.order_id,
        order_line_ids=list(new.order_line_ids), store_id=new.store_id, sku_codes=list(facts.sku_codes),
        category=facts.categories[0] if facts.categories else None, customer_tier=new.tier, queue=decision.queue,
        owner=decision.owner, priority=decision.priority, route_index=decision.rule_index, sla_s=decision.sla_s,
        sla_due_at=now + timedelta(seconds=decision.sla_s), summary=new.summary, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["kind", "subject_type", "subject_id"]).returning(Case.id)).scalar()
    if case_id is None:  # opened before: same cause again
        existing = session.scalar(select(Case).where(Case.kind == new.kind, Case.subject_type == new.subject_type,
                                                     Case.subject_id == new.subject_id))
        assert existing is not None
        return existing
    case = session.get(Case, case_id)
    assert case is not None
    record(session, case, actor, "opened", to_state="open", now=now, queue=decision.queue, owner=decision.owner,
           priority=decision.priority, rule_index=decision.rule_index, sla_s=decision.sla_s, **new.detail)
    timers.schedule(session, SLA_TIMER, SUBJECT, case.id, case.sla_due_at)
    if not alert:
        return case
    owner = f", owner {case.owner}" if case.owner else ""
    raise_ops_alert(session, "case.opened", f"case:{case.id}:opened",
                    queue_routes(config.notifications.routes, case.queue),
                    detail=f"case {case.id} ({case.kind}) opened in queue {case.queue}{owner}, priority "
                           f"{case.priority}, due {case.sla_due_at:%Y-%m-%d %H:%M} UTC: {case.summary}",
                    title=f"case {case.id}", sku=", ".join(case.sku_codes) or "-",
                    sku_id=skus[0].id if skus else None, store_id=new.store_id)
    return case


def opened_alert_messages(session: Session, case_id: int) -> list[int]:
    """The outbox ids of the case's ``case.opened`` alert still to send, so a caller sends them
    with its commit (the outbox sweeper finds any the broker loses)."""
    alert_id = session.scalar(select(Alert.id).where(Alert.dedupe_key == f"case:{case_id}:opened"))
    if alert_id is None:
        return []
    return list(session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.idempotency_key.like(f"alert:{alert_id}:%"), OutboxMessage.state == "pending")
        .order_by(OutboxMessage.id)))


def lock(session: Session, case_id: int) -> Case:
    case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
    if case is None:
        raise CaseError(f"no case {case_id}")
    return case


def move(session: Session, case: Case, to_state: str, *, actor: str, note: str = "",
         now: datetime | None = None, **detail: Any) -> None:
    """One allowed state move, recorded; waiting pauses the SLA clock, resolving stops it."""
    if to_state not in TRANSITIONS[case.state]:
        raise CaseError(f"case {case.id}: cannot move from {case.state} to {to_state}")
    now = now or utcnow()
    from_state, case.state, case.updated_at = case.state, to_state, now
    if to_state == "resolved":
        case.resolved_at, case.resolution_note = now, note
    if to_state in PAUSED:
        timers.cancel(session, SUBJECT, case.id, kinds=(SLA_TIMER,))
    elif from_state in PAUSED and case.sla_breached_at is None:  # back on us: a full SLA from now
        case.sla_due_at = now + timedelta(seconds=case.sla_s)
        timers.schedule(session, SLA_TIMER, SUBJECT, case.id, case.sla_due_at)
        detail["sla_due_at"] = case.sla_due_at.isoformat()
    record(session, case, actor, "resolved" if to_state == "resolved" else "state", from_state=from_state,
           to_state=to_state, note=note, now=now, **detail)


def assign(session: Session, case_id: int, owner: str, *, actor: str, now: datetime | None = None) -> Case:
    """Give the case to ``owner`` (a person or a queue); an open case is then in progress."""
    case = lock(session, case_id)
    if case.state == "resolved":
        raise CaseError(f"case {case.id} is resolved")
    previous, case.owner, case.updated_at = case.owner, owner, now or utcnow()
    record(session, case, actor, "assigned", note=f"{previous or 'nobody'} → {owner}", now=now,
           previous_owner=previous, owner=owner)
    if case.state == "open":
        move(session, case, "in_progress", actor=actor, now=now)
    return case


def resolve(session: Session, case_id: int, note: str, *, actor: str, now: datetime | None = None) -> Case:
    case = lock(session, case_id)
    move(session, case, "resolved", actor=actor, note=note, now=now)
    return case


def reopen(session: Session, case: Case, *, actor: str, note: str, now: datetime | None = None,
           **detail: Any) -> None:
    """Open a resolved case again: only a negative satisfaction answer does (``domain.csat``);
    a staff member with a new problem opens a new case. A full SLA starts from now."""
    if case.state != "resolved":
        raise CaseError(f"case {case.id} is not resolved")
    now = now or utcnow()
    case.state, case.updated_at, case.resolved_at, case.sla_breached_at = "open", now, None, None
    case.sla_due_at = now + timedelta(seconds=case.sla_s)
    timers.schedule(session, SLA_TIMER, SUBJECT, case.id, case.sla_due_at)
    record(session, case, actor, "reopened", from_state="resolved", to_state="open", note=note, now=now,
           sla_due_at=case.sla_due_at.isoformat(), **detail)
