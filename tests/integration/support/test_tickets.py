"""Tickets on the real database: linked to the customer's orders and open cases, triaged and routed
once, every decision stored with its figures and reasons, resolved with a QA sample, explained by
``why ticket``; the command line on top."""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import why
from domain.cases import lifecycle
from domain.core.business_config import BusinessConfig
from domain.core.models import (
    Backorder,
    Order,
    OrderLine,
    Sku,
    Store,
    SupportDecision,
    SupportTicket,
    SupportTicketLink,
)
from domain.support import intake, views
from domain.support.resolve import resolve
from workers.cli import main

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def _order(session: Session, email: str, number: str, total: int, days_ago: int = 5,
           promised: date | None = None) -> Order:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    order = Order(store_id=store_id, external_id=f"x-{number}", number=f"#{number}", email=email,
                  customer_name="Sam", total_cents=total, placed_at=NOW - timedelta(days=days_ago))
    session.add(order)
    session.flush()
    line = OrderLine(order_id=order.id, external_id=f"{number}-1", quantity=1, price_cents=total, title="Oak frame",
                     sku_id=session.scalar(select(Sku.id).where(Sku.code == "FUT-FRM-OAK-FULL")),
                     backordered_qty=1 if promised else 0)
    session.add(line)
    session.flush()
    if promised:
        session.add(Backorder(order_line_id=line.id, sku_id=line.sku_id, quantity=1, state="notified",
                              promised_date=promised, ordered_at=order.placed_at))
        session.flush()
    return order


def _new(external_id: str, subject: str, body: str, email: str | None = "sam@example.com",
         **extra: object) -> intake.NewTicket:
    return intake.NewTicket("zendesk", external_id, subject, body, email, **extra)  # type: ignore[arg-type]


def test_a_ticket_is_linked_triaged_routed_and_stored_once(db_session: Session, catalog: BusinessConfig) -> None:
    old = _order(db_session, "Sam@Example.com", "5001", 30_000, days_ago=200)
    late = _order(db_session, "sam@example.com", "5002", 60_000, promised=(NOW - timedelta(days=3)).date())
    _order(db_session, "someone@else.com", "5003", 10_000)
    case = lifecycle.open_case(db_session, lifecycle.NewCase(kind="backorder", subject_type="test", subject_id=1,
                                                             summary="late frame", order_id=late.id), catalog,
                               actor="test", now=NOW, alert=False)
    db_session.commit()
    body = "Where is my order #5002? The date you promised has passed and nobody tells me anything."
    first = intake.intake(db_session, catalog.support, _new("z-1", "Where is my frame", body), now=NOW)
    db_session.commit()
    assert first.created and first.result is not None
    ticket = first.ticket
    assert (ticket.state, ticket.intent) == ("triaged", "where_is_my_order")
    links = {(l.kind, l.ref_id, l.matched_by) for l in db_session.scalars(select(SupportTicketLink))}
    assert links == {("order", late.id, "order_number"), ("order", old.id, "email"), ("case", case.id, "order")}
    assert ticket.clv_cents == 90_000 and ticket.clv_tier == "loyal"  # [support.clv_tiers] loyal = 400.00
    triage_row, routing_row = views.decisions(db_session, ticket.id)
    assert (triage_row.kind, triage_row.outcome, triage_row.model) == ("triage", "where_is_my_order",
                                                                       first.result.model)
    figures = triage_row.figures
    assert figures["customer"]["in_question"] == ["#5002"] and figures["customer"]["money_at_stake_cents"] == 60_000
    assert figures["customer"]["days_late"] == 3 and "promised" in figures["customer"]["late_because"]
    parts = {p["part"]: p["points"] for p in figures["priority"]["parts"]}
    assert parts["lateness"] == 18 and parts["money"] == 18 and figures["priority"]["level"] == ticket.priority
    assert any(r.startswith("priority ") and "3 day(s) late +18" in r for r in triage_row.reasons)
    assert routing_row.kind == "routing" and routing_row.outcome == ticket.queue
    assert routing_row.figures["step"] in {"tier1", "tier2", "route"} and routing_row.reasons
    again = intake.intake(db_session, catalog.support, _new("z-1", "Where is my frame", body), now=NOW)
    db_session.commit()
    assert not again.created and again.ticket.id == ticket.id and again.result is None
    assert db_session.scalar(select(func.count()).select_from(SupportTicket)) == 1
    assert db_session.scalar(select(func.count()).select_from(SupportDecision)) == 2
    order_trail = why.explain(db_session, "order", "5002", now=NOW).as_dict()
    mentions = [e for e in order_trail["events"] if e["kind"] == "ticket"]
    assert len(mentions) == 1 and f"ticket {ticket.id} (zendesk z-1)" in mentions[0]["text"]
    assert f"→ queue {ticket.queue} by {routing_row.rule}" in mentions[0]["text"]


def test_legal_vip_and_floor_on_stored_tickets(db_session: Session, catalog: BusinessConfig) -> None:
    _order(db_session, "vip@example.com", "6001", 200_000, days_ago=90)
    db_session.commit()
    vip = intake.intake(db_session, catalog.support, _new("v-1", "Still waiting", "This is ridiculous, third email "
                        "about my refund and still nothing. Awful service.", "vip@example.com"), now=NOW)
    legal = intake.intake(db_session, catalog.support, _new("l-1", "Refund", "Refund me or my attorney will file in "
                          "small claims.", "vip@example.com"), now=NOW)
    unsure_config = dataclasses.replace(catalog.support, confidence_floor=0.999)
    unsure = intake.intake(db_session, unsure_config, _new("u-1", "hmm", "about the thing from before"), now=NOW)
    db_session.commit()
    assert (vip.ticket.queue, vip.ticket.auto_answer) == ("vip-care", False)
    assert (legal.ticket.queue, legal.ticket.legal_threat, legal.ticket.priority) == ("legal", True, "urgent")
    assert (unsure.ticket.queue, unsure.ticket.needs_human) == ("support-triage", True)
    legal_routing = views.decisions(db_session, legal.ticket.id)[1]
    assert legal_routing.rule == "ladder: legal threat" and "small_claims" in legal_routing.reasons[0]
    assert "< floor 1.00" in views.decisions(db_session, unsure.ticket.id)[1].reasons[-2]


def test_resolving_samples_for_qa_and_why_tells_it_all(db_session: Session, catalog: BusinessConfig) -> None:
    legal = intake.intake(db_session, catalog.support, _new("l-2", "Lawyer", "My lawyer will contact you."), now=NOW)
    db_session.commit()
    resolve(db_session, catalog.support, legal.ticket.id, "settled by phone", actor="dana", now=NOW + timedelta(hours=2))
    db_session.commit()
    qa_row = views.decisions(db_session, legal.ticket.id)[-1]
    assert (qa_row.kind, qa_row.outcome, qa_row.rule) == ("qa", "sampled", "qa_always")
    assert legal.ticket.state == "resolved" and legal.ticket.qa_sampled is True
    trail = why.explain(db_session, "ticket", str(legal.ticket.id), now=NOW).as_dict()
    kinds = [e["kind"] for e in trail["events"]]
    assert kinds == ["ticket.received", "ticket.triage", "ticket.routing", "ticket.resolved", "ticket.qa"]
    assert trail["events"][3]["text"] == "resolved by dana: settled by phone"
    assert trail["facts"]["resolution"] == "resolved by dana: settled by phone"
    assert "legal threat" in trail["events"][2]["text"] and trail["facts"]["queue"] == "legal"
    assert why.explain(db_session, "ticket", "zendesk:l-2", now=NOW).subject.startswith(f"ticket {legal.ticket.id}")


def test_the_command_line(db_session: Session, catalog: BusinessConfig, monkeypatch: object) -> None:
    runner = CliRunner()
    offline = runner.invoke(main, ["tickets", "triage", "--subject", "Cancel", "--body",
                                   "Please cancel my order before it ships, I ordered the wrong size.", "--json"])
    assert offline.exit_code == 0, offline.output
    data = json.loads(offline.output)
    assert data["intent"] == "cancel" and data["routing"]["queue"] and data["reasons"]
    assert db_session.scalar(select(func.count()).select_from(SupportTicket)) == 0  # nothing stored
    saved = runner.invoke(main, ["tickets", "triage", "--subject", "Court", "--body", "See you in small claims court.",
                                 "--email", "x@example.com", "--save", "--external-id", "cli-1", "--json"])
    assert saved.exit_code == 0, saved.output
    stored = json.loads(saved.output)
    assert stored["queue"] == "legal" and [d["kind"] for d in stored["decisions"]] == ["triage", "routing"]
    listed = runner.invoke(main, ["tickets", "list", "--queue", "legal"])
    assert listed.exit_code == 0 and "LEGAL" in listed.output
    shown = runner.invoke(main, ["tickets", "show", "cli:cli-1"])
    assert shown.exit_code == 0 and "small_claims" in shown.output
    resolved = runner.invoke(main, ["tickets", "resolve", str(stored["id"]), "--note", "answered", "--by", "lee"])
    assert resolved.exit_code == 0 and "sampled for QA" in resolved.output
    assert runner.invoke(main, ["why", "ticket", "999999"]).exit_code == 1


def test_a_short_order_number_is_taken_only_among_the_writers_own_orders(db_session: Session,
                                                                          catalog: BusinessConfig) -> None:
    mine = _order(db_session, "sam@example.com", "42", 34_900, days_ago=6)
    newer = _order(db_session, "sam@example.com", "57", 10_000, days_ago=1)
    theirs = _order(db_session, "someone@else.com", "7", 10_000)
    db_session.commit()
    body = "Hi, my order #42 shipped almost a week ago and the tracking hasn't moved. Item #7 is fine."
    ticket = intake.intake(db_session, catalog.support, _new("z-42", "Parcel stuck", body), now=NOW).ticket
    db_session.commit()
    links = {(l.ref_id, l.matched_by) for l in db_session.scalars(
        select(SupportTicketLink).where(SupportTicketLink.ticket_id == ticket.id, SupportTicketLink.kind == "order"))}
    assert links == {(mine.id, "order_number"), (newer.id, "email")}, "#7 is someone else's: not linked"
    [triage_row, _] = views.decisions(db_session, ticket.id)
    assert triage_row.figures["customer"]["in_question"] == ["#42"]  # the order named, not the newest
    assert theirs.id not in {ref for ref, _ in links}

    stranger = intake.intake(db_session, catalog.support, _new("z-43", "Question", "Is order #42 mine?",
                                                                email="who@example.com"), now=NOW).ticket
    db_session.commit()
    assert not list(db_session.scalars(select(SupportTicketLink).where(
        SupportTicketLink.ticket_id == stranger.id, SupportTicketLink.kind == "order")))
