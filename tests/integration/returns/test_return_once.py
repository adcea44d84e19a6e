"""A return's steps under retries and concurrency, its fraud checks and its Loop webhook.

Real PostgreSQL, the ShipStation stand-in over HTTP; the steps run eagerly (``.apply``) so two of
them can be made to race, except the webhook test, which runs on a real worker.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord
from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import RefundDecision, RefundExecution, ReturnEvent, ReturnRequest, Store
from domain.returns import flow
from tests.conftest import wait_for
from tests.stack import Stack, running_stack

SKU = "FUT-FRM-OAK-FULL"
V2 = {"API-Key": "ss_v2_sandbox_key"}


@dataclass
class Env:
    stack: Stack
    session: Session

    @property
    def config(self) -> BusinessConfig:
        return self.stack.config

    def order(self, number: int, email: str = "ana@example.com", days_ago: float = 3, cents: int = 19900,
              status: str = "fulfilled", quantity: int = 2) -> int:
        from domain.stock.orders import record_orders

        store_id = self.session.scalar(select(Store.id).where(Store.key == "shopify-main"))
        [order_id] = record_orders(self.session, store_id, [OrderRecord(  # type: ignore[arg-type]
            external_id=f"ext-{number}", number=str(number), placed_at=utcnow() - timedelta(days=days_ago),
            email=email, phone=None, customer_name="Ana Lima", total_cents=cents, status=status,
            lines=[OrderLineRecord(external_id=f"{number}-1", sku=SKU, quantity=quantity, price_cents=cents,
                                   title="Oak futon frame")])]).order_ids
        self.session.commit()
        return int(order_id)

    def request(self, order_id: int, ref: str, reason: str = "defective", quantity: int = 1) -> flow.Stepped:
        from domain.core.models import Order

        order = self.session.get(Order, order_id)
        assert order is not None
        done = flow.request(self.session, self.config, order, {SKU: quantity}, reason, "staff", ref, "staff",
                            utcnow())
        self.session.commit()
        return done

    def row(self, return_id: int) -> ReturnRequest:
        self.session.expire_all()
        found = self.session.get(ReturnRequest, return_id)
        assert found is not None
        return found

    def on_hand(self) -> int:
        return int(self.session.execute(text(
            "SELECT COALESCE(SUM(on_hand), 0) FROM stock_levels sl JOIN skus s ON s.id = sl.sku_id "
            "JOIN locations l ON l.id = sl.location_id WHERE s.code = :sku AND l.key = 'warehouse'"),
            {"sku": SKU}).scalar_one())


@pytest.fixture
def env(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Iterator[Env]:
    monkeypatch.setenv("LOOP_WEBHOOK_SECRET", "loop-secret-for-tests")
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=0) as stack:
        yield Env(stack, db_session)


def test_a_label_whose_answer_was_lost_is_found_under_its_rma_not_bought_twice(env: Env) -> None:
    from tasks.returns import step

    done = env.request(env.order(2001), "T-1")
    assert done.row is not None and done.row.state == "approved"
    admin = f"{env.stack.sandbox}/shipstation/shipstation-main/_admin"
    requests.post(f"{admin}/faults", json={"status": 503, "after_apply": True, "path_contains": "/v2/labels",
                                           "method": "POST", "count": 5}, timeout=10).raise_for_status()
    first = step.apply(args=[done.row.id])
    assert first.failed() or str(first.result).startswith("retry later"), first.result
    assert env.row(done.row.id).state == "approved"
    assert str(step.apply(args=[done.row.id]).get()).endswith("(found)")
    labels = requests.get(f"{env.stack.sandbox}/shipstation/shipstation-main/v2/labels", headers=V2, timeout=10,
                          params={"rma_number": done.row.rma}).json()["labels"]
    assert len(labels) == 1, "the label was bought once, though its first answer was lost"
    assert env.row(done.row.id).label_ref == labels[0]["label_id"]
    assert step.apply(args=[done.row.id]).get() == "in transit"  # a redelivered label step buys nothing


def test_two_runs_of_a_received_return_settle_it_once(env: Env) -> None:
    from tasks.returns import step

    done = env.request(env.order(2002, cents=10000), "T-2", quantity=2)
    assert done.row is not None
    flow.receive(env.session, env.config, done.row.rma, "restock", 9000, "warehouse", utcnow())
    env.session.commit()
    before = env.on_hand()
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(str(one) for one in pool.map(lambda _: step.apply(args=[done.row.id]).get(), range(2)))
    assert outcomes == ["nothing to do: settled", "settled"], outcomes
    assert step.apply(args=[done.row.id]).get() == "nothing to do: settled"  # redelivered
    assert env.on_hand() == before + 2, "restocked once"
    row = env.row(done.row.id)
    assert row.state == "settled" and row.restocked_qty == 2
    assert env.session.scalar(select(func.count()).select_from(RefundExecution)) == 1
    execution = env.session.get(RefundExecution, row.execution_id)
    assert execution is not None and execution.amount_cents == 2 * 10000
    assert env.session.scalar(select(func.count()).select_from(ReturnEvent).where(
        ReturnEvent.return_id == row.id, ReturnEvent.step == "settle")) == 1


def test_restocked_units_fill_the_waiting_backorder_before_any_newer_order(env: Env) -> None:
    """Two units come back; Bo's backorder takes one before anyone else — before the shoppers who
    asked to be told of a restock, even one who asked before Bo ordered — and what is left goes to
    the oldest of those shoppers alone: one notice for one unit."""
    from domain.core.models import Backorder, OrderLine, OutboxMessage
    from domain.journey import rationing
    from tasks.returns import step

    rationing.add(env.session, SKU, email="early@example.com", store_key="shopify-main",
                  now=utcnow() - timedelta(days=2))
    done = env.request(env.order(2600, cents=10000), "F-1", quantity=2)
    assert done.row is not None
    env.order(2601, email="bo@example.com", status="open", quantity=1)  # no stock: Bo waits
    rationing.add(env.session, SKU, email="late@example.com", store_key="shopify-main", now=utcnow())
    env.session.commit()
    waiting = env.session.scalar(select(Backorder).where(Backorder.state == "open"))
    assert waiting is not None
    flow.receive(env.session, env.config, done.row.rma, "restock", 20000, "warehouse", utcnow())
    env.session.commit()
    assert step.apply(args=[done.row.id]).get() == "settled"
    env.session.expire_all()
    assert env.session.get(Backorder, waiting.id).state == "filled"  # type: ignore[union-attr]
    notices = env.session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.template == "back_in_stock"))
    assert list(notices) == ["early@example.com"], "one unit left: one notice, to the oldest request"
    # an order for two placed the moment after gets the one unit left, never Bo's
    newer = env.order(2602, email="cy@example.com", status="open", quantity=2)
    line = env.session.scalar(select(OrderLine).where(OrderLine.order_id == newer))
    assert line is not None and (line.allocated_qty, line.backordered_qty) == (1, 1)
    settle = env.session.scalar(select(ReturnEvent).where(ReturnEvent.return_id == done.row.id,
                                                          ReturnEvent.step == "settle"))
    assert settle is not None and settle.detail["disposition"]["filled_backorders"] == [waiting.id]


def test_a_disposed_return_is_refunded_but_not_restocked(env: Env) -> None:
    from tasks.returns import step

    done = env.request(env.order(2003), "T-3")
    assert done.row is not None
    before = env.on_hand()
    flow.receive(env.session, env.config, done.row.rma, "dispose", 9000, "warehouse", utcnow())
    env.session.commit()
    assert step.apply(args=[done.row.id]).get() == "settled"
    assert env.on_hand() == before and env.row(done.row.id).restocked_qty == 0
    assert env.session.scalar(select(func.count()).select_from(RefundExecution)) == 1


def test_a_serial_returner_is_sent_to_review_and_paid_only_after_a_person_approves(env: Env) -> None:
    for n in range(2):
        first = env.request(env.order(2100 + n, email="sam@example.com"), f"S-{n}")
        assert first.row is not None and first.row.state == "approved"
    third = env.request(env.order(2102, email="sam@example.com"), "S-2")
    assert third.row is not None and third.row.state == "review"
    [flag] = third.row.flags
    assert flag["check"] == "serial_returner" and flag["returns"] == 3 and flag["limit"] == 3
    approved = flow.approve(env.session, env.config, third.row.rma, "lee@futonloft.example", utcnow(), "known buyer")
    env.session.commit()
    assert approved.row is not None and approved.row.state == "approved"
    decision = env.session.get(RefundDecision, approved.row.decision_id)
    assert decision is not None and decision.decision == "approve"


def test_an_old_order_is_flagged_outside_the_window(env: Env) -> None:
    late = env.request(env.order(2200, email="old@example.com", days_ago=45), "W-1")
    assert late.row is not None and late.row.state == "review"
    assert [f["check"] for f in late.row.flags] == ["outside_window"]


def test_an_empty_box_goes_to_review_and_pays_nothing_until_approved(env: Env) -> None:
    from tasks.returns import step

    done = env.request(env.order(2300, email="eve@example.com"), "E-1")
    assert done.row is not None
    received = flow.receive(env.session, env.config, done.row.rma, "restock", 40, "warehouse", utcnow())
    env.session.commit()
    assert received.row is not None and received.row.state == "review" and received.follow_ups == []
    assert received.row.flags[-1]["check"] == "empty_box" and received.row.flags[-1]["weight_g"] == 40
    assert step.apply(args=[done.row.id]).get() == "nothing to do: review"
    assert env.session.scalar(select(func.count()).select_from(RefundExecution)) == 0
    approved = flow.approve(env.session, env.config, done.row.rma, "lee", utcnow(), "the scale was wrong")
    env.session.commit()
    assert approved.row is not None and approved.row.state == "received"
    assert step.apply(args=[done.row.id]).get() == "settled"
    assert env.session.scalar(select(func.count()).select_from(RefundExecution)) == 1


def test_a_frames_empty_carton_is_an_empty_box_though_it_weighs_kilograms(env: Env) -> None:
    """Two oak frames (16 kg each by ``[returns.item_grams]``) come back as a 3.1 kg parcel: far over
    the 200 g floor, under a quarter of 32 kg — review, no refund, nothing restocked."""
    from tasks.returns import step

    done = env.request(env.order(2350, email="eli@example.com", cents=10000), "E-2", quantity=2)
    assert done.row is not None
    before = env.on_hand()
    received = flow.receive(env.session, env.config, done.row.rma, "restock", 3100, "warehouse", utcnow())
    env.session.commit()
    assert received.row is not None and received.row.state == "review"
    [flag] = received.row.flags
    assert flag["check"] == "empty_box" and (flag["weight_g"], flag["expected_g"], flag["percent"]) == (3100, 32000, 25)
    assert step.apply(args=[done.row.id]).get() == "nothing to do: review"
    assert env.session.scalar(select(func.count()).select_from(RefundExecution)) == 0 and env.on_hand() == before


def test_the_rules_deny_is_a_rejected_return(env: Env) -> None:
    from domain.core.models import Order

    order_id = env.order(2400, email="deny@example.com")
    # "outlet final sale" denies changed_mind on woo-outlet only; over 250.00 goes to review
    big = env.request(order_id, "D-1", reason="changed_mind", quantity=2)
    assert big.row is not None and big.row.state == "review"
    assert env.session.get(RefundDecision, big.row.decision_id).rule_name == "over 250: review"  # type: ignore[union-attr]
    assert env.session.get(Order, order_id) is not None


def _loop_body(loop_id: int, number: str) -> bytes:
    return json.dumps({"topic": "return", "trigger": "return.created", "id": loop_id, "state": "open",
                       "order_name": f"#{number}", "customer": "ana@example.com", "currency": "USD",
                       "line_items": [{"sku": SKU, "parent_return_reason": "Defective"}]}).encode()


def _sign(body: bytes, secret: str = "loop-secret-for-tests") -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_signed_loop_return_is_one_return_on_its_way_and_a_forged_one_is_refused(
        env: Env, celery_worker: object) -> None:
    env.order(2500)
    body = _loop_body(880011, "2500")
    url = f"{env.stack.web}/webhooks/returns/loop"
    forged = requests.post(url, data=body, headers={"X-Loop-Signature": _sign(body, "wrong"),
                                                    "Content-Type": "application/json"}, timeout=10)
    assert forged.status_code == 401
    assert env.session.scalar(select(func.count()).select_from(ReturnRequest)) == 0
    answers = [requests.post(url, data=body, headers={"X-Loop-Signature": _sign(body),
                                                      "Content-Type": "application/json"}, timeout=10).json()
               for _ in range(2)]
    assert answers[0]["new"] is True and answers[1]["new"] is False and answers[0]["rma"] == answers[1]["rma"]
    row = env.session.scalar(select(ReturnRequest))
    assert row is not None and (row.source, row.source_ref, row.reason) == ("loop", "880011", "defective")
    wait_for(lambda: env.row(row.id).state == "label_created")
    unknown = _loop_body(880012, "9999")
    refused = requests.post(url, data=unknown, headers={"X-Loop-Signature": _sign(unknown)}, timeout=10)
    assert refused.status_code == 400


def test_the_cli_lists_shows_rejects_and_cancels(env: Env, celery_worker: object) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    env.order(2700, email="li@example.com")
    run = lambda *args: CliRunner().invoke(main, ["returns", *args])  # noqa: E731
    bad = run("create", "--order", "2700", "--lines", f"{SKU}:3", "--reason", "defective")
    assert bad.exit_code == 1 and "returning 3 but order 2700 bought 2" in bad.output
    assert run("create", "--order", "2700", "--lines", "nonsense", "--reason", "x").exit_code == 2
    big = run("create", "--order", "2700", "--lines", f"{SKU}:2", "--reason", "changed_mind", "--json")
    assert big.exit_code == 0, big.output
    shown = json.loads(big.output)
    assert shown["state"] == "review" and shown["decision"]["rule"] == "over 250: review"
    listed = json.loads(run("list", "--state", "review", "--json").output)
    assert [one["rma"] for one in listed] == [shown["rma"]]
    detail = json.loads(run("show", shown["rma"], "--json").output)
    assert [step["kind"] for step in detail["steps"]] == ["return.requested", "return.policy"]
    assert run("receive", shown["rma"], "--qc", "restock").exit_code == 1, "a return in review is not received"
    rejected = run("reject", shown["rma"], "--by", "lee", "--note", "changed mind, used")
    assert rejected.exit_code == 0 and " rejected " in rejected.output
    assert run("cancel", shown["rma"], "--by", "lee").exit_code == 1, "a rejected return stays rejected"
    small = json.loads(run("create", "--order", "2700", "--lines", f"{SKU}:1", "--reason", "defective",
                           "--json").output)
    assert small["state"] == "approved"
    wait_for(lambda: env.row(small["id"]).state == "label_created")
    cancelled = run("cancel", small["rma"], "--by", "ana", "--note", "keeping it")
    assert cancelled.exit_code == 0 and " cancelled " in cancelled.output
    why = CliRunner().invoke(main, ["why", "return", small["rma"], "--json"])
    assert [e["data"]["to"] for e in json.loads(why.output)["events"]] == [
        "requested", "approved", "label_created", "cancelled"]


def test_a_return_stuck_past_its_limit_is_told_to_staff_once(env: Env) -> None:
    from domain.core.models import Alert, OutboxMessage
    from tasks.returns import sweep

    done = env.request(env.order(2800, email="st@example.com"), "ST-1")
    assert done.row is not None
    env.session.execute(text("UPDATE return_requests SET updated_at = now() - interval '4 days', due_at = NULL "
                             "WHERE id = :id"), {"id": done.row.id})
    env.session.commit()
    sweep.apply().get()
    sweep.apply().get()
    [alert] = env.session.scalars(select(Alert).where(Alert.kind == "return.stuck")).all()
    assert done.row.rma in alert.message and "approved for 4.0 days" in alert.message
    assert env.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.recipient == "care@futonloft.example", OutboxMessage.context["event"].astext == "return.stuck")) == 1
