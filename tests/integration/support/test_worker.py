"""Under a real worker: a stored ticket is triaged by its stage after the commit, once however often
its message arrives, then drafted (a legal one gets no draft), and the sweeper finds one whose
message was lost."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import SupportDecision, SupportDraft, SupportTicket
from domain.core.stages import Stage
from domain.support import intake
from flows.spine import send_now
from tests.conftest import wait_for


def _state(session: Session, ticket_id: int) -> str | None:
    session.expire_all()
    return session.scalar(select(SupportTicket.state).where(SupportTicket.id == ticket_id))


def _kinds(session: Session, ticket_id: int) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(SupportDecision.kind).where(SupportDecision.ticket_id == ticket_id)))


def test_stored_tickets_are_triaged_by_the_worker_once(celery_worker: Any, db_session: Session,
                                                       catalog: BusinessConfig) -> None:
    from tasks.support import sweep, triage

    stored = intake.store(db_session, catalog.support, intake.NewTicket(
        "gorgias", "g-1", "Lawyer", "My attorney will call you about the broken frame.", "a@example.com"))
    db_session.commit()
    assert stored.created and stored.ticket.state == "new"
    assert [f.stage for f in stored.follow_ups] == [Stage.TRIAGE_TICKETS]
    send_now(list(stored.follow_ups))
    wait_for(lambda: _state(db_session, stored.ticket.id) == "triaged", timeout_s=60)
    assert triage.apply(args=([stored.ticket.id],)).get() == 0  # redelivered: nothing twice
    assert db_session.scalar(select(func.count()).select_from(SupportDecision).where(
        SupportDecision.kind.in_(("triage", "routing")))) == 2
    wait_for(lambda: _kinds(db_session, stored.ticket.id).count("draft") == 1, timeout_s=60)
    assert db_session.scalar(select(SupportDecision.outcome).where(SupportDecision.kind == "draft")) == "none"
    assert db_session.scalar(select(SupportTicket.queue).where(SupportTicket.id == stored.ticket.id)) == "legal"
    again = intake.store(db_session, catalog.support, intake.NewTicket("gorgias", "g-1", "Lawyer", "dup"))
    assert not again.created and again.follow_ups == ()

    lost = intake.store(db_session, catalog.support, intake.NewTicket(
        "gorgias", "g-2", "Where is it", "Where is my order? Ordered two weeks ago."),
        now=utcnow() - timedelta(minutes=5))
    db_session.commit()  # its message is never sent: the sweeper must find it
    assert sweep.apply().get() == 1  # in this process; the triage it sends runs on the worker
    wait_for(lambda: _state(db_session, lost.ticket.id) == "triaged", timeout_s=60)
    wait_for(lambda: db_session.scalar(select(func.count()).select_from(SupportDraft).where(
        SupportDraft.ticket_id == lost.ticket.id)) == 1, timeout_s=60)  # the draft stage follows triage
    assert sweep.apply().get() == 0
