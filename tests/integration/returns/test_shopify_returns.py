"""Shopify's own returns with a real worker: the product's web app against the Shopify stand-in,
which sends each ``returns/*`` webhook signed from its admin.

* a customer's return request becomes our return with the lines and reason Shopify names,
  decided by the refund policy's rules like a Loop return; a redelivery is the same return and a
  tampered copy is refused 401;
* a request whose webhook lists no lines is read through the GraphQL ``return(id:)`` query;
* the policy's approval is written to Shopify's return, whose ``returns/approve`` echo is noted on
  ours; a decline or cancel there closes ours;
* a return on an order this product never stored quarantines its event, with the reason.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import InboxEvent, Order, RefundDecision, ReturnEvent, ReturnRequest
from tests.conftest import wait_for
from tests.integration.stock.shopify_admin import STORE, admin, once_and_untampered
from tests.stack import Stack, running_stack

SKU, OTHER = "FUT-FRM-OAK-FULL", "FUT-FRM-WAL-FULL"


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          celery_worker: object) -> Iterator[Stack]:
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=5) as running:
        yield running


def _return(session: Session, shopify_id: int) -> ReturnRequest | None:
    session.expire_all()
    return session.scalar(select(ReturnRequest).where(
        ReturnRequest.source == "shopify", ReturnRequest.source_ref == f"{STORE}:gid://shopify/Return/{shopify_id}"))


def _fulfilled_order(stack: Stack, session: Session) -> dict[str, Any]:
    placed = admin(stack, "create_order", {"lines": [{"sku": SKU, "quantity": 2, "price": "120.00"},
                                                     {"sku": OTHER, "quantity": 1, "price": "80.00"}],
                                           "email": "ana@example.com"})["order"]
    wait_for(lambda: session.expire_all() or session.scalar(select(Order).where(Order.external_id == placed["id"])))
    admin(stack, "fulfill", {"order_id": placed["id"], "tracking_number": "1Z1"})
    return placed


def test_a_shopify_return_request_becomes_ours_decided_by_the_policy(stack: Stack, db_session: Session) -> None:
    placed = _fulfilled_order(stack, db_session)
    asked = admin(stack, "returns/request", {"order_id": placed["id"], "lines": [
        {"sku": SKU, "quantity": 1, "reason": "DEFECTIVE", "note": "cracked slat"}]})
    assert [hook["status"] for hook in asked["webhooks"]] == [200]
    shopify_id = asked["return"]["id"]
    ours = wait_for(lambda: (lambda row: row if row is not None and row.state != "requested" else None)(
        _return(db_session, shopify_id)))
    assert isinstance(ours, ReturnRequest)
    assert [(line["sku"], line["quantity"]) for line in ours.lines] == [(SKU, 1)]
    assert ours.reason == "defective" and ours.amount_cents == 12000
    decision = db_session.get(RefundDecision, ours.decision_id)
    assert decision is not None and (decision.decision, decision.rule_name) == ("approve", "within policy")
    assert ours.state in ("approved", "label_created")

    # redelivered twice: still one event and one return; a tampered copy is refused
    once_and_untampered(stack, db_session, "returns/request", ('"quantity": 1', '"quantity": 2'))
    assert db_session.scalar(select(func.count()).select_from(ReturnRequest)) == 1

    # the policy's approval is written to Shopify (``test_shopify_return_write_back``), whose approval
    # comes back as returns/approve: noted on ours, which the policy already decided; cancelled there: ours closes
    wait_for(lambda: db_session.scalar(select(ReturnEvent.id).where(ReturnEvent.return_id == ours.id,
                                                                    ReturnEvent.step == "store_approved")))
    once_and_untampered(stack, db_session, "returns/approve", ('"open"', '"closed"'))
    assert db_session.scalar(select(func.count()).select_from(ReturnEvent).where(
        ReturnEvent.return_id == ours.id, ReturnEvent.step == "store_approved")) == 1
    admin(stack, f"returns/{shopify_id}/cancel", {})
    cancelled = wait_for(lambda: (lambda row: row if row is not None and row.state == "cancelled" else None)(
        _return(db_session, shopify_id)))
    assert isinstance(cancelled, ReturnRequest)
    step = db_session.scalar(select(ReturnEvent).where(ReturnEvent.return_id == ours.id,
                                                       ReturnEvent.to_state == "cancelled"))
    assert step is not None and step.step == "store_canceled" and step.actor == f"shopify:{STORE}"
    once_and_untampered(stack, db_session, "returns/cancel", ('"canceled"', '"closed"'))

    # another return, approved then closed on Shopify (processed there): noted on ours, which goes on
    second = admin(stack, "returns/request", {"order_id": placed["id"], "lines": [
        {"sku": OTHER, "quantity": 1, "reason": "DEFECTIVE"}]})["return"]["id"]
    wait_for(lambda: _return(db_session, second))
    wait_for(lambda: next(r for r in admin(stack, "state/returns")["returns"] if r["id"] == second)["status"] == "open")
    admin(stack, f"returns/{second}/close", {})
    once_and_untampered(stack, db_session, "returns/close", ('"closed"', '"canceled"'))
    closed = wait_for(lambda: db_session.scalar(select(ReturnEvent).where(ReturnEvent.step == "store_closed")))
    assert isinstance(closed, ReturnEvent) and closed.from_state == closed.to_state != "cancelled"

    from workers.cli import main
    why = CliRunner().invoke(main, ["why", "return", ours.rma])
    assert why.exit_code == 0, why.output
    assert f"requested (shopify {STORE}:gid://shopify/Return/{shopify_id})" in why.output
    assert "canceled at the store" in why.output


def test_a_request_without_its_lines_is_read_through_graphql_and_a_decline_closes_ours(
        stack: Stack, db_session: Session) -> None:
    placed = _fulfilled_order(stack, db_session)
    asked = admin(stack, "returns/request", {"order_id": placed["id"], "lines_in_webhook": False, "lines": [
        {"sku": OTHER, "quantity": 1, "reason": "WRONG_ITEM"}, {"sku": SKU, "quantity": 2, "reason": "WRONG_ITEM"}]})
    sent = json.loads(next(d for d in reversed(admin(stack, "webhooks")["deliveries"])
                           if d["topic"] == "returns/request")["body"])
    assert sent["return_line_items"] == [] and sent["total_return_line_items"] == 2
    shopify_id = asked["return"]["id"]
    ours = wait_for(lambda: (lambda row: row if row is not None and row.state != "requested" else None)(
        _return(db_session, shopify_id)))
    assert isinstance(ours, ReturnRequest)
    assert sorted((line["sku"], line["quantity"]) for line in ours.lines) == [(SKU, 2), (OTHER, 1)]
    assert ours.reason == "wrong_item" and ours.amount_cents == 2 * 12000 + 8000
    asked_graphql = [r for r in admin(stack, "requests")["requests"] if r["path"].endswith("/graphql.json")]
    assert len(asked_graphql) == 1 and asked_graphql[0]["status"] == 200
    assert asked_graphql[0]["body"]["variables"] == {"id": f"gid://shopify/Return/{shopify_id}"}

    # 320.00 is over the review threshold: a person decides; Shopify's merchant declines it first
    decision = db_session.get(RefundDecision, ours.decision_id)
    assert decision is not None and decision.decision == "review" and ours.state == "review"
    admin(stack, f"returns/{shopify_id}/decline", {"reason": "FINAL_SALE", "note": "worn"})
    declined = wait_for(lambda: (lambda row: row if row is not None and row.state == "rejected" else None)(
        _return(db_session, shopify_id)))
    assert isinstance(declined, ReturnRequest)
    step = db_session.scalar(select(ReturnEvent).where(ReturnEvent.return_id == ours.id,
                                                       ReturnEvent.to_state == "rejected"))
    assert step is not None and step.step == "store_declined" and step.detail["note"] == "worn"
    once_and_untampered(stack, db_session, "returns/decline", ('"worn"', '"new"'))


def test_a_return_on_an_order_we_never_stored_is_quarantined_with_its_reason(stack: Stack,
                                                                             db_session: Session) -> None:
    placed = _fulfilled_order(stack, db_session)
    db_session.execute(Order.__table__.update().where(Order.external_id == placed["id"])
                       .values(external_id="elsewhere"))
    db_session.commit()
    admin(stack, "returns/request", {"order_id": placed["id"], "lines": [{"sku": SKU, "quantity": 1}]})
    event = wait_for(lambda: db_session.expire_all() or db_session.scalar(
        select(InboxEvent).where(InboxEvent.topic == "returns/request", InboxEvent.state == "quarantined")))
    assert isinstance(event, InboxEvent)
    assert f"no order {placed['id']} of {STORE} is known here" in (event.error or "")
    assert db_session.scalar(select(func.count()).select_from(ReturnRequest)) == 0
