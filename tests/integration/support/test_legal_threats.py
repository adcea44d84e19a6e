"""Every legal threat written for the rules (``tests/unit/support/test_legal.py``), polite or angry,
each naming the writer's order, stored and drafted on the real database: linked to that order,
routed to the legal queue as urgent, never a tier-1 macro, and given no reply draft — a ``draft``
decision ``none`` saying why, and nothing applied to the order's backorder even when the threat
asks to cancel. A BBB complaint is not one: it gets its draft like any unhappy customer."""
from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import (
    Backorder, Order, SupportDecision, SupportDraft, SupportNote, SupportTicketLink,
)
from domain.journey import customer_journey
from domain.support import drafts, intake
from tests.integration.support.helpdesk_kit import backordered_order
from tests.unit.support.test_legal import THREATS


def _backordered_order(session: Session, catalog: BusinessConfig, number: str, email: str) -> Backorder:
    _order, backorder = backordered_order(session, number, email, "Lee Park", days_ago=9)
    customer_journey.offer(session, backorder.id, _settings(catalog))
    session.commit()
    return backorder


def _settings(catalog: BusinessConfig) -> customer_journey.Settings:
    return customer_journey.Settings(catalog, "http://testserver", os.environ["SECRET_KEY"])


@pytest.mark.parametrize(("subject", "body"), THREATS)
def test_every_written_threat_goes_to_legal_with_no_draft(subject: str, body: str, db_session: Session,
                                                          catalog: BusinessConfig) -> None:
    [number] = set(re.findall(r"#(\d{4})", f"{subject} {body}"))
    backorder = _backordered_order(db_session, catalog, number, "lee@example.com")
    done = intake.intake(db_session, catalog.support, intake.NewTicket("zd", f"t-{number}", subject, body,
                                                                       "lee@example.com"))
    db_session.commit()
    ticket = done.ticket
    assert ticket.legal_threat and ticket.queue == "legal" and ticket.priority == "urgent"
    assert ticket.auto_answer is False
    routing = db_session.scalar(select(SupportDecision).where(SupportDecision.kind == "routing"))
    assert routing is not None and routing.outcome == "legal" and any("legal threat" in r for r in routing.reasons)
    linked = db_session.scalars(select(SupportTicketLink.ref_id).where(
        SupportTicketLink.ticket_id == ticket.id, SupportTicketLink.kind == "order",
        SupportTicketLink.matched_by == "order_number"))
    order_id = db_session.scalar(select(Order.id).where(Order.number == f"#{number}"))
    assert list(linked) == [order_id]

    assert drafts.compose_stored(db_session, _settings(catalog), [ticket.id]) == []
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(SupportDraft)) == 0
    assert db_session.scalar(select(func.count()).select_from(SupportNote)) == 0
    draft = db_session.scalar(select(SupportDecision).where(SupportDecision.kind == "draft"))
    assert draft is not None and (draft.outcome, draft.rule) == ("none", "legal")
    assert db_session.scalar(select(func.count()).select_from(SupportDecision)
                             .where(SupportDecision.kind == "answer")) == 0
    db_session.expire_all()
    assert db_session.get(Backorder, backorder.id).state == "notified"  # type: ignore[union-attr]


def test_a_bbb_complaint_is_not_legal_and_is_drafted(db_session: Session, catalog: BusinessConfig) -> None:
    _backordered_order(db_session, catalog, "1100", "lee@example.com")
    done = intake.intake(db_session, catalog.support, intake.NewTicket(
        "zd", "t-bbb", "Order #1100", "This is unacceptable, nobody answers me. I am filing a complaint with the "
        "BBB about order #1100.", "lee@example.com"))
    db_session.commit()
    assert not done.ticket.legal_threat and done.ticket.queue != "legal"
    drafts.compose_stored(db_session, _settings(catalog), [done.ticket.id])
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(SupportDraft)) == 1
