"""A helpdesk's ticket stored as a support ticket: once per helpdesk and ticket id, refreshed only by
a newer copy, never triaged twice; a write-back owed once per triaged helpdesk ticket."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.helpdesk.contract import TicketRecord
from domain.core.business_config import BusinessConfig
from domain.core.helpdesk_config import HelpdeskConfig, HelpdesksConfig
from domain.core.models import HelpdeskWriteBack, SupportTicket
from domain.core.stages import Stage
from domain.helpdesks import tickets, write_backs
from domain.support import intake

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
RECORD = TicketRecord("zendesk", "101", "Where is my order", "Where is my futon? Ordered two weeks ago.",
                      "Rui@Example.com", "Rui", "9", "web", updated_at=T0, created_at=T0)


def test_one_ticket_per_helpdesk_and_id_refreshed_only_by_a_newer_copy(db_session: Session,
                                                                        futon_config: BusinessConfig) -> None:
    support = futon_config.support
    first = tickets.store(db_session, support, "zd", RECORD)
    assert [f.stage for f in first] == [Stage.TRIAGE_TICKETS]
    ticket = db_session.scalar(select(SupportTicket))
    assert ticket is not None and ticket.source == "zd" and ticket.external_id == "101"
    assert ticket.customer_email == "rui@example.com" and ticket.channel == "web" and ticket.source_updated_at == T0

    assert tickets.store(db_session, support, "zd", RECORD) == []  # the same copy again (webhook + poll)
    older = replace(RECORD, subject="stale", updated_at=T0 - timedelta(minutes=5))
    assert tickets.store(db_session, support, "zd", older) == [] and ticket.subject == "Where is my order"
    newer = replace(RECORD, subject="Where is my order #1001", updated_at=T0 + timedelta(minutes=5))
    assert tickets.store(db_session, support, "zd", newer) == []  # refreshed, not triaged again
    assert ticket.subject == "Where is my order #1001" and ticket.source_updated_at == newer.updated_at
    assert tickets.store(db_session, support, "gg", RECORD) != []  # another helpdesk's 101 is another ticket
    assert db_session.scalar(select(func.count()).select_from(SupportTicket)) == 2


def test_a_triaged_helpdesk_ticket_owes_one_write_back(db_session: Session, futon_config: BusinessConfig) -> None:
    config = HelpdesksConfig((HelpdeskConfig("zd", "zendesk", "https://futon.zendesk.com",
                                             options={"groups": {"legal": "360001"}}),))
    tickets.store(db_session, futon_config.support, "zd", replace(
        RECORD, body="My attorney will sue you over the broken frame."))
    cli = intake.store(db_session, futon_config.support, intake.NewTicket("cli", "1", "Hi", "Where is my order?"))
    done = intake.triage_stored(db_session, futon_config.support,
                                [t.id for t in db_session.scalars(select(SupportTicket))])
    assert len(done) == 2
    owed = write_backs.owe(db_session, config, done)
    assert len(owed) == 1 and owed[0].stage == Stage.HELPDESK_WRITE_BACK  # the cli ticket has no helpdesk
    assert write_backs.owe(db_session, config, done) == []  # once per ticket
    row = db_session.scalar(select(HelpdeskWriteBack))
    assert row is not None and row.ticket_id != cli.ticket.id and row.idempotency_key == f"triage-{row.ticket_id}"
    update = write_backs.build_update(db_session, row, config.entries[0])
    assert update.ticket_id == "101" and update.priority == "urgent" and update.group_id == "360001"
    assert "bo-queue-legal" in update.tags and "Queue: legal" in update.note


def test_deliveries_of_a_helpdesk_no_longer_configured_are_quarantined(db_session: Session) -> None:
    from connectors.helpdesk.contract import HelpdeskDelivery
    from domain.core.db import get_sessionmaker
    from domain.core.models import InboxEvent
    from domain.helpdesks import inbox
    from flows import helpdesk_tickets

    inbox.accept(db_session, "gone", HelpdeskDelivery("zendesk", "zendesk:1", "ticket.created", RECORD))
    db_session.commit()
    sent: list[object] = []
    assert helpdesk_tickets.drain(get_sessionmaker(), "gone", sent.extend) == 1
    db_session.expire_all()
    row = db_session.scalar(select(InboxEvent))
    assert row is not None and row.state == "quarantined" and "not in the business file" in (row.error or "")
    assert sent == [] and db_session.scalar(select(func.count()).select_from(SupportTicket)) == 0
