"""The macro composer on the real database: drafts filled with the order's real facts (backorder ETA
and signed links that open the reply page, tracking and carrier status, refund status and
amount), an answer to a backorder offer applied like a link click exactly once, no draft for a
legal ticket, an ambiguous answer never applied; the internal note as a row a helpdesk connector
posts; the command line and ``why ticket`` on top."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.errors import PermanentError
from domain import why
from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import (
    AuditLog,
    Backorder,
    Order,
    OrderLine,
    OutboxMessage,
    RefundDecision,
    RefundExecution,
    Shipment,
    ShippingAccount,
    Sku,
    Store,
    SupportDecision,
    SupportDraft,
    SupportNote,
    SupportTicket,
    TrackingEvent,
)
from domain.core.stages import Stage
from domain.journey import customer_journey
from domain.support import drafts, intake
from flows import support_notes
from flows.work import UnitOfWork
from tasks.base import unit_of_work
from workers import replies
from workers.cli import main

BASE_URL = "http://testserver"


@pytest.fixture
def settings(catalog: BusinessConfig) -> customer_journey.Settings:
    return customer_journey.Settings(catalog, BASE_URL, os.environ["SECRET_KEY"])


def _order(session: Session, number: str, email: str = "ada@example.com", sku_code: str = "FUT-FRM-OAK-FULL",
           backordered: bool = True) -> tuple[Order, OrderLine]:
    store = session.scalar(select(Store).where(Store.key == "shopify-main"))
    sku = session.scalar(select(Sku).where(Sku.code == sku_code))
    assert store is not None and sku is not None
    order = Order(store_id=store.id, external_id=f"x-{number}", number=f"#{number}", customer_name="Ada Lovelace",
                  email=email, total_cents=sku.price_cents, placed_at=utcnow() - timedelta(days=2))
    session.add(order)
    session.flush()
    line = OrderLine(order_id=order.id, sku_id=sku.id, external_id=f"{number}-1", quantity=1,
                     backordered_qty=1 if backordered else 0, allocated_qty=0 if backordered else 1,
                     price_cents=sku.price_cents, title=sku.title)
    session.add(line)
    session.flush()
    return order, line


def _backorder(session: Session, settings: customer_journey.Settings, number: str, **kwargs: Any) -> Backorder:
    """An order with one backordered line, offered to the customer (``notified``, links sent)."""
    order, line = _order(session, number, **kwargs)
    assert line.sku_id is not None
    backorder = Backorder(order_line_id=line.id, sku_id=line.sku_id, quantity=1, ordered_at=order.placed_at)
    session.add(backorder)
    session.flush()
    customer_journey.offer(session, backorder.id, settings)
    session.commit()
    return backorder


def _ticket(session: Session, catalog: BusinessConfig, external_id: str, subject: str, body: str,
            email: str = "ada@example.com") -> SupportTicket:
    done = intake.intake(session, catalog.support, intake.NewTicket("zendesk", external_id, subject, body, email))
    session.commit()
    return done.ticket


def _draft(session: Session, settings: customer_journey.Settings, ticket: SupportTicket) -> SupportDraft | None:
    drafts.compose_stored(session, settings, [ticket.id])
    session.commit()
    return drafts.latest_draft(session, ticket.id)


def test_draft_facts_match_the_orders_eta_tracking_and_refund(db_session: Session, catalog: BusinessConfig,
                                                              settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, settings, "7001")
    assert backorder.eta is not None
    line = db_session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    order = db_session.get(Order, line.order_id)
    assert order is not None
    account = ShippingAccount(key="ss-main", provider="shipstation")
    db_session.add(account)
    db_session.flush()
    shipped_at = utcnow() - timedelta(days=1)
    parcel = Shipment(account_id=account.id, external_id="s-1", order_id=order.id, order_number=order.number,
                      carrier="ups", tracking_number="1Z999AA10123456784", status="in_transit",
                      label_created_at=shipped_at, shipped_at=shipped_at, last_scan_at=shipped_at)
    db_session.add(parcel)
    db_session.flush()
    db_session.add(TrackingEvent(shipment_id=parcel.id, event_key="e1", status="in_transit", occurred_at=shipped_at,
                                 description="Departed facility", location="Louisville, KY"))
    decision = RefundDecision(request_id="ticket-77", order_id=order.id, order_number=order.number,
                              customer="ada@example.com", reason="late_delivery", amount_asked_cents=4_500,
                              decision="approve", amount_approved_cents=4_500, settle_as="refund",
                              rule_name="small goodwill")
    db_session.add(decision)
    db_session.flush()
    db_session.add(RefundExecution(decision_id=decision.id, order_id=order.id, route="provider", account="stripe-main",
                                   provider="stripe", kind="refund", amount_cents=4_500, currency="USD",
                                   idempotency_key=f"refund-decision-{decision.id}", state="succeeded",
                                   provider_ref="re_123"))
    db_session.commit()
    ticket = _ticket(db_session, catalog, "z-where", "Where is my order",
                     "Where is my order #7001? It has been days and I have no idea when it arrives.")
    assert ticket.intent == "where_is_my_order"
    draft = _draft(db_session, settings, ticket)
    assert draft is not None and draft.template == "support/where_is_my_order.txt" and draft.version == 1
    (facts,) = draft.facts["orders"]
    assert facts["number"] == "#7001"
    (bo,) = facts["backorders"]
    assert (bo["id"], bo["eta"], bo["state"]) == (backorder.id, backorder.eta.isoformat(), "notified")
    (ship,) = facts["shipments"]
    assert (ship["carrier"], ship["tracking_number"], ship["status"]) == ("ups", parcel.tracking_number, "in_transit")
    assert ship["last_scan"]["location"] == "Louisville, KY"
    (refund,) = facts["refunds"]
    assert (refund["amount_cents"], refund["status"], refund["reference"]) == (4_500, "paid", "re_123")
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
    eta_words = f"{months[backorder.eta.month - 1]} {backorder.eta.day}, {backorder.eta.year}"
    assert eta_words in draft.body and parcel.tracking_number in draft.body and "Louisville, KY" in draft.body
    assert "$45.00" in draft.body and "re_123" in draft.body
    assert bo["links"]["wait"] in draft.body
    assert ship["stuck"] is False and "opened a trace" not in draft.body
    # stored once per triage: a redelivered draft message changes nothing
    assert drafts.compose_stored(db_session, settings, [ticket.id]) == []
    assert db_session.scalar(select(func.count()).select_from(SupportDraft)) == 1
    note = db_session.scalar(select(SupportNote).where(SupportNote.draft_id == draft.id))
    assert note is not None and note.state == "pending" and "1Z999AA10123456784" in note.body


def test_the_signed_links_in_a_draft_open_the_reply_page(db_session: Session, catalog: BusinessConfig,
                                                         settings: customer_journey.Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    backorder = _backorder(db_session, settings, "7002")
    ticket = _ticket(db_session, catalog, "z-eta", "When will my futon frame ship",
                     "What is the new ETA for my backordered frame on order #7002? When will it be back in stock?")
    draft = _draft(db_session, settings, ticket)
    assert draft is not None
    links = draft.facts["orders"][0]["backorders"][0]["links"]
    assert set(links) == {"wait", "cancel", "credit"}
    monkeypatch.setattr(replies, "current_settings", lambda: settings)
    monkeypatch.setattr(replies, "send_follow_ups", lambda follow_ups: None)
    app = FastAPI()
    app.include_router(replies.router)
    with TestClient(app, base_url=BASE_URL) as client:
        for choice, url in links.items():
            assert url.startswith(f"{BASE_URL}/b/") and url in draft.body
            shown = client.get(url[len(BASE_URL):])
            assert shown.status_code == 200 and "#7002" in shown.text, choice
        assert client.post(links["wait"][len(BASE_URL):]).status_code == 200
        tampered = links["cancel"][:-3] + ("AAA" if not links["cancel"].endswith("AAA") else "BBB")
        assert client.get(tampered[len(BASE_URL):]).status_code == 400
    db_session.expire_all()
    assert db_session.get(Backorder, backorder.id).state == "accepted_wait"  # type: ignore[union-attr]


def _confirmations(session: Session, backorder_id: int) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.idempotency_key.like(f"backorder:{backorder_id}:backorder_confirmed:%"))) or 0


def test_ill_wait_by_ticket_applies_wait_exactly_once_even_if_triaged_twice(
        db_session: Session, catalog: BusinessConfig, settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, settings, "7003")
    ticket = _ticket(db_session, catalog, "z-wait", "I'll wait",
                     "I got your email about the backorder. I'll wait for the frame, no problem.")
    assert ticket.intent == "backorder_offer_answer"
    first = drafts.compose_stored(db_session, settings, [ticket.id])
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(Backorder, backorder.id).state == "accepted_wait"  # type: ignore[union-attr]
    assert {f.stage for f in first} >= {Stage.POST_TICKET_NOTE, Stage.DELIVER}
    draft = drafts.latest_draft(db_session, ticket.id)
    assert draft is not None and draft.applied["choice"] == "wait" and draft.applied["result"] == "applied"
    assert "you will wait" in draft.body and draft.template == "support/backorder_offer_answer.txt"
    note = db_session.scalar(select(SupportNote).where(SupportNote.draft_id == draft.id))
    assert note is not None and f"Applied from this ticket: wait on backorder {backorder.id}: applied" in note.body
    confirmations = _confirmations(db_session, backorder.id)
    assert confirmations >= 1
    # triaged again (a new model, changed rules): a new draft, but the wait is not chosen again
    fresh = db_session.get(SupportTicket, ticket.id)
    assert fresh is not None
    intake.retriage(db_session, catalog.support, fresh)
    db_session.commit()
    again = drafts.compose_stored(db_session, settings, [ticket.id])
    db_session.commit()
    assert [f.stage for f in again] == [Stage.POST_TICKET_NOTE]
    second = drafts.latest_draft(db_session, ticket.id)
    assert second is not None and second.version == 2 and second.applied["result"] == "applied"
    moves = db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.subject_type == "backorder", AuditLog.subject_id == str(backorder.id),
        AuditLog.data["to_state"].astext == "accepted_wait"))
    answers = db_session.scalars(select(SupportDecision.outcome).where(SupportDecision.ticket_id == ticket.id,
                                                                       SupportDecision.kind == "answer")).all()
    assert answers == ["applied"] and moves == 1
    assert _confirmations(db_session, backorder.id) == confirmations
    # the same answer arriving as another ticket finds the backorder waiting already: no second move
    other = _ticket(db_session, catalog, "z-wait-2", "Happy to wait", "Happy to wait until it's back in stock. "
                    "Keep my order.")
    _draft(db_session, settings, other)
    assert db_session.scalars(select(SupportDecision.outcome).where(SupportDecision.ticket_id == other.id,
                                                                    SupportDecision.kind == "answer")).all() == ["already"]
    assert _confirmations(db_session, backorder.id) == confirmations


def test_a_legal_ticket_gets_no_draft(db_session: Session, catalog: BusinessConfig,
                                      settings: customer_journey.Settings) -> None:
    _backorder(db_session, settings, "7004")
    ticket = _ticket(db_session, catalog, "z-legal", "Order #7004",
                     "Cancel order #7004 now or my attorney will file in small claims court.")
    assert ticket.queue == "legal"
    assert _draft(db_session, settings, ticket) is None
    assert db_session.scalar(select(func.count()).select_from(SupportNote)) == 0
    assert db_session.scalar(select(func.count()).select_from(SupportDecision).where(
        SupportDecision.ticket_id == ticket.id, SupportDecision.kind == "answer")) == 0
    (none,) = db_session.scalars(select(SupportDecision).where(SupportDecision.ticket_id == ticket.id,
                                                               SupportDecision.kind == "draft")).all()
    assert none.outcome == "none" and "never answered automatically" in none.reasons[0]
    assert drafts.undrafted(db_session, utcnow() + timedelta(hours=1)) == []  # the sweeper leaves it alone
    db_session.expire_all()
    assert db_session.scalar(select(Backorder.state).join(OrderLine).join(Order).where(Order.number == "#7004")) \
        == "notified"


def test_an_ambiguous_answer_is_not_applied(db_session: Session, catalog: BusinessConfig,
                                            settings: customer_journey.Settings) -> None:
    one = _backorder(db_session, settings, "7005")
    two = _backorder(db_session, settings, "7006", sku_code="FUT-FRM-WAL-FULL")
    ticket = _ticket(db_session, catalog, "z-which", "I'll wait", "yes i'll wait for it")
    assert ticket.intent == "backorder_offer_answer"
    draft = _draft(db_session, settings, ticket)
    db_session.expire_all()
    assert {db_session.get(Backorder, b.id).state for b in (one, two)} == {"notified"}  # type: ignore[union-attr]
    assert draft is not None and draft.asks and not draft.auto_answer and draft.applied == {}
    assert "which item your answer is about" in draft.body
    (answer,) = db_session.scalars(select(SupportDecision).where(SupportDecision.ticket_id == ticket.id,
                                                                 SupportDecision.kind == "answer")).all()
    assert answer.outcome == "not applied" and "not guessed" in answer.reasons[0]
    # which substitute? none in stock to name: asked, not guessed
    subs = _ticket(db_session, catalog, "z-sub", "Send the queen instead",
                   "Please send the queen instead of the full for order #7005.")
    draft = _draft(db_session, settings, subs)
    db_session.expire_all()
    assert db_session.get(Backorder, one.id).state == "notified"  # type: ignore[union-attr]
    assert draft is not None and draft.asks and draft.applied == {}


def test_a_return_draft_carries_the_return_label(db_session: Session, catalog: BusinessConfig,
                                                settings: customer_journey.Settings) -> None:
    from domain.core.models import ReturnRequest

    order, _ = _order(db_session, "7014", backordered=False)
    db_session.add(ReturnRequest(rma="RMA-7014", source="staff", source_ref="r-1", order_id=order.id,
                                 customer="ada@example.com", reason="too_big", state="label_created",
                                 amount_cents=64_900, label_ref="lbl-9", label_carrier="usps",
                                 tracking_number="9400111899223100001234",
                                 label_url="https://labels.example/9400111899223100001234.pdf"))
    db_session.commit()
    ticket = _ticket(db_session, catalog, "z-return", "Return",
                     "I'd like to return order #7014, it doesn't fit. How do I send it back?")
    assert ticket.intent == "return_exchange"
    draft = _draft(db_session, settings, ticket)
    assert draft is not None and draft.template == "support/return_exchange.txt"
    rma = draft.facts["orders"][0]["return"]
    assert (rma["rma"], rma["state"], rma["label"]["tracking_number"]) == ("RMA-7014", "label_created",
                                                                         "9400111899223100001234")
    assert "https://labels.example/9400111899223100001234.pdf" in draft.body and "RMA-7014" in draft.body


def _in_stock(session: Session, code: str, units: int) -> None:
    from connectors.types import StockRecord
    from domain.stock.levels import record_batch

    store = session.scalar(select(Store).where(Store.key == "shopify-main"))
    assert store is not None
    record_batch(session, store.id, [StockRecord(external_id=f"v-{code}", sku=code, location_external_id="655441491",
                                                 available=units, on_hand=units, updated_at=utcnow())])
    session.commit()


def test_send_the_queen_instead_applies_that_substitute(db_session: Session, catalog: BusinessConfig,
                                                        settings: customer_journey.Settings) -> None:
    _in_stock(db_session, "FUT-FRM-OAK-QUEEN", 2)
    _in_stock(db_session, "FUT-FRM-WAL-FULL", 2)
    backorder = _backorder(db_session, settings, "7010")
    ticket = _ticket(db_session, catalog, "z-queen", "Send the queen instead",
                     "Please send the queen instead of the full since the full is out of stock.")
    assert ticket.intent == "backorder_offer_answer"
    offered = {s["sku"] for s in drafts.order_facts.gather(db_session, ticket, settings, utcnow())["orders"][0]
               ["backorders"][0]["substitutes"]}
    assert offered == {"FUT-FRM-OAK-QUEEN", "FUT-FRM-WAL-FULL"}  # two in stock: the text must single one out
    follow_ups = drafts.compose_stored(db_session, settings, [ticket.id])
    db_session.commit()
    db_session.expire_all()
    row = db_session.get(Backorder, backorder.id)
    assert row is not None and row.state == "substituted"
    assert db_session.scalar(select(Sku.code).where(Sku.id == row.substitute_sku_id)) == "FUT-FRM-OAK-QUEEN"
    assert Stage.PLACE_SUBSTITUTE in {f.stage for f in follow_ups}
    draft = drafts.latest_draft(db_session, ticket.id)
    assert draft is not None and draft.applied["substitute"] == "FUT-FRM-OAK-QUEEN"


def test_a_cancel_naming_a_backordered_order_is_applied_and_refunded(db_session: Session, catalog: BusinessConfig,
                                                                     settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, settings, "7011")
    ticket = _ticket(db_session, catalog, "z-cancel", "Cancel my order",
                     "Please cancel order #7011, I found one elsewhere.")
    assert ticket.intent == "cancel"
    follow_ups = drafts.compose_stored(db_session, settings, [ticket.id])
    db_session.commit()
    db_session.expire_all()
    row = db_session.get(Backorder, backorder.id)
    assert row is not None and (row.state, row.resolution) == ("cancelled_by_customer", "refund")
    assert Stage.REFUND in {f.stage for f in follow_ups}
    draft = drafts.latest_draft(db_session, ticket.id)
    assert draft is not None and "refunding you in full" in draft.body
    # without an order number a cancel request is left to an agent
    other = _backorder(db_session, settings, "7012")
    vague = _ticket(db_session, catalog, "z-cancel-2", "Cancel", "Please cancel my order, I changed my mind.")
    assert vague.intent == "cancel"
    _draft(db_session, settings, vague)
    db_session.expire_all()
    assert db_session.get(Backorder, other.id).state == "notified"  # type: ignore[union-attr]


class _Work:
    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return unit_of_work(send=lambda messages: None)


@pytest.fixture
def helpdesk() -> Iterator[list[tuple[str, str]]]:
    posted: list[tuple[str, str]] = []

    def poster(external_id: str, body: str, key: str) -> str:
        assert key.startswith("support-note-")
        if external_id == "z-refused":
            raise PermanentError("422 ticket closed")
        posted.append((external_id, body))
        return f"note-{len(posted)}"

    previous = support_notes.register("zendesk", poster)
    yield posted
    support_notes.register("zendesk", previous)


def test_the_internal_note_waits_for_a_helpdesk_connector(db_session: Session, catalog: BusinessConfig,
                                                          settings: customer_journey.Settings) -> None:
    _backorder(db_session, settings, "7007")
    ticket = _ticket(db_session, catalog, "z-note", "ETA?", "When will order #7007 be back in stock? What's the ETA?")
    draft = _draft(db_session, settings, ticket)
    assert draft is not None
    note = db_session.scalar(select(SupportNote).where(SupportNote.draft_id == draft.id))
    assert note is not None
    support_notes.register("zendesk", None)
    assert support_notes.post(_Work(), note.id) == "no helpdesk"
    assert support_notes.sweep(_Work()) == []
    db_session.expire_all()
    assert db_session.get(SupportNote, note.id).state == "pending"  # type: ignore[union-attr]


def test_a_helpdesk_connector_posts_each_note_once(db_session: Session, catalog: BusinessConfig,
                                                   settings: customer_journey.Settings,
                                                   helpdesk: list[tuple[str, str]]) -> None:
    _backorder(db_session, settings, "7008")
    ticket = _ticket(db_session, catalog, "z-post", "ETA?", "When will order #7008 be back in stock? What's the ETA?")
    draft = _draft(db_session, settings, ticket)
    assert draft is not None
    note = db_session.scalar(select(SupportNote).where(SupportNote.draft_id == draft.id))
    assert note is not None
    assert support_notes.post(_Work(), note.id) == "posted"
    assert support_notes.post(_Work(), note.id) == "nothing to do"
    assert helpdesk == [("z-post", note.body)]
    db_session.expire_all()
    row = db_session.get(SupportNote, note.id)
    assert row is not None and (row.state, row.external_ref) == ("posted", "note-1")
    refused = _ticket(db_session, catalog, "z-refused", "ETA?", "What's the ETA for order #7008?")
    refused_draft = _draft(db_session, settings, refused)
    assert refused_draft is not None
    refused_note = db_session.scalar(select(SupportNote).where(SupportNote.draft_id == refused_draft.id))
    assert refused_note is not None
    # a lost message: the sweeper finds the pending note of a source a connector serves
    db_session.execute(SupportNote.__table__.update().where(SupportNote.id == refused_note.id)
                       .values(updated_at=utcnow() - timedelta(minutes=5)))
    db_session.commit()
    assert support_notes.sweep(_Work()) == [refused_note.id]
    assert support_notes.post(_Work(), refused_note.id) == "failed"
    db_session.expire_all()
    assert "422 ticket closed" in (db_session.get(SupportNote, refused_note.id).last_error or "")  # type: ignore[union-attr]


def test_the_command_line_and_why_ticket(db_session: Session, catalog: BusinessConfig,
                                         settings: customer_journey.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import domain.core.env_settings as runtime_settings

    monkeypatch.setattr(runtime_settings, "current", lambda: settings)
    monkeypatch.setattr("flows.spine.send_now", lambda follow_ups, app=None: len(list(follow_ups)))
    backorder = _backorder(db_session, settings, "7009")
    ticket = _ticket(db_session, catalog, "z-cli", "ETA?", "When will order #7009 be back in stock? What's the ETA?")
    runner = CliRunner()
    shown = runner.invoke(main, ["tickets", "draft", str(ticket.id), "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["draft"]["version"] == 1 and data["draft"]["template"] == "support/backorder_eta.txt"
    assert data["draft"]["facts"]["orders"][0]["backorders"][0]["id"] == backorder.id
    again = json.loads(runner.invoke(main, ["tickets", "draft", str(ticket.id), "--json"]).output)
    assert again["draft"]["version"] == 1  # shown, not composed again
    regenerated = runner.invoke(main, ["tickets", "draft", f"zendesk:{ticket.external_id}", "--regenerate"])
    assert regenerated.exit_code == 0, regenerated.output
    assert "draft v2 from support/backorder_eta.txt" in regenerated.output and "facts used:" in regenerated.output
    trail = why.explain(db_session, "ticket", str(ticket.id)).as_dict()
    texts = [e["text"] for e in trail["events"] if e["kind"] == "ticket.reply_draft"]
    assert len(texts) == 2 and f"backorder {backorder.id}" in texts[-1] and "internal note pending" in texts[-1]
    assert [e["kind"] for e in trail["events"]].count("ticket.draft") == 2
    legal = _ticket(db_session, catalog, "z-cli-legal", "Lawyer", "My lawyer will contact you about order #7009.")
    refused = runner.invoke(main, ["tickets", "draft", str(legal.id)])
    assert refused.exit_code == 0 and "no draft (legal queue" in refused.output


def test_a_helpdesks_entry_posts_the_note_through_its_connector(db_session: Session, catalog: BusinessConfig,
                                                                settings: customer_journey.Settings,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A ticket from a ``[[helpdesks]]`` entry (its source is the entry's key) is posted by that
    entry's connector as a write-back carrying only the internal note, marked once per note."""
    import dataclasses

    from connectors.helpdesk.contract import TicketUpdate, WriteOutcome
    from domain.core.helpdesk_config import HelpdeskConfig, HelpdesksConfig

    entry = HelpdeskConfig(key="zendesk-main", platform="zendesk", base_url="https://x.zendesk.com")
    configured = dataclasses.replace(catalog, helpdesks=HelpdesksConfig((entry,)))
    writes: list[TicketUpdate] = []

    class Desk:
        def write_back(self, update: TicketUpdate) -> WriteOutcome:
            writes.append(update)
            return WriteOutcome(update.ticket_id, ("note",), note_id="c-1")

    monkeypatch.setattr(support_notes, "current_config", lambda: configured)
    monkeypatch.setattr(support_notes, "helpdesk_for", lambda e: Desk() if e == entry else None)
    _backorder(db_session, settings, "7013")
    done = intake.intake(db_session, catalog.support, intake.NewTicket(
        "zendesk-main", "4321", "ETA?", "When will order #7013 be back in stock? What's the ETA?", "ada@example.com"))
    db_session.commit()
    draft = _draft(db_session, settings, done.ticket)
    assert draft is not None
    note = db_session.scalar(select(SupportNote).where(SupportNote.draft_id == draft.id))
    assert note is not None
    assert "zendesk-main" in support_notes.served_sources()
    assert support_notes.post(_Work(), note.id) == "posted"
    (update,) = writes
    assert (update.ticket_id, update.idempotency_key) == ("4321", f"support-note-{note.id}")
    assert update.note == note.body and not update.tags and not update.priority
    db_session.expire_all()
    assert db_session.get(SupportNote, note.id).external_ref == "c-1"  # type: ignore[union-attr]


def test_a_helpdesk_tickets_first_draft_rides_in_its_triage_note(db_session: Session, catalog: BusinessConfig) -> None:
    """A ticket from a ``[[helpdesks]]`` entry gets one internal note: the triage write-back, owed
    after the draft, carries the draft (text, what it applied, the facts) under its own heading."""
    import dataclasses

    from domain.core.helpdesk_config import HelpdeskConfig, HelpdesksConfig
    from domain.core.models import HelpdeskWriteBack
    from domain.helpdesks import write_backs
    from domain.support.note import DRAFT_HEADING

    entry = HelpdeskConfig(key="zd", platform="zendesk", base_url="https://x.zendesk.com")
    configured = dataclasses.replace(catalog, helpdesks=HelpdesksConfig((entry,)))
    settings = customer_journey.Settings(configured, BASE_URL, os.environ["SECRET_KEY"])
    backorder = _backorder(db_session, settings, "7015")
    done = intake.intake(db_session, catalog.support, intake.NewTicket(
        "zd", "555", "ETA?", "When will order #7015 be back in stock? What's the ETA?", "ada@example.com"))
    db_session.commit()
    follow_ups = drafts.compose_stored(db_session, settings, [done.ticket.id])
    owed = write_backs.owe(db_session, configured.helpdesks, [done.ticket.id])
    db_session.commit()
    assert Stage.POST_TICKET_NOTE not in {f.stage for f in follow_ups} and len(owed) == 1
    assert db_session.scalar(select(func.count()).select_from(SupportNote)) == 0
    row = db_session.scalar(select(HelpdeskWriteBack))
    assert row is not None
    update = write_backs.build_update(db_session, row, entry, drafts.note_draft(db_session, done.ticket.id))
    draft = drafts.latest_draft(db_session, done.ticket.id)
    assert draft is not None and DRAFT_HEADING in update.note and draft.body.strip() in update.note
    assert f"backorder {backorder.id}" in update.note
    shown = why.explain(db_session, "ticket", str(done.ticket.id)).as_dict()
    assert any("with the triage write-back (pending)" in e["text"] for e in shown["events"])


def test_a_stuck_parcel_is_said_to_be_traced(db_session: Session, catalog: BusinessConfig,
                                            settings: customer_journey.Settings) -> None:
    backorder = _backorder(db_session, settings, "7009")
    line = db_session.get(OrderLine, backorder.order_line_id)
    assert line is not None
    account = ShippingAccount(key="ss-main", provider="shipstation")
    db_session.add(account)
    db_session.flush()
    labelled = utcnow() - timedelta(days=6)
    db_session.add(Shipment(account_id=account.id, external_id="s-9", order_id=line.order_id, order_number="#7009",
                            carrier="ups", tracking_number="1Z999AA10123456799", status="label_created",
                            label_created_at=labelled, stuck_at=utcnow() - timedelta(hours=2)))
    db_session.commit()
    ticket = _ticket(db_session, catalog, "z-stuck", "Where is my order",
                     "Where is my order #7009? The tracking has not moved for a week.")
    draft = _draft(db_session, settings, ticket)
    assert draft is not None and draft.facts["orders"][0]["shipments"][0]["stuck"] is True
    assert "1Z999AA10123456799: label created. It has not moved for longer than it should: we have opened a trace " \
           "with ups" in draft.body
