"""A return end to end on a real worker: staff request → refund policy approves → ShipStation return
label (stand-in, over HTTP) → the label's tracking shows it delivered → receive scan, QC restock →
one refund on Shopify → the unit restocked at the warehouse fills the customer who was waiting →
the customer's email with the satisfaction survey's score links (``/csat/{token}``); then every step
run again changes nothing."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import (
    Backorder, CsatRequest, Order, OutboxMessage, RefundExecution, ReturnEvent, ReturnRequest, Store,
)
from tests.conftest import wait_for
from tests.stack import running_stack

SKU = "FUT-FRM-OAK-FULL"
V2 = {"API-Key": "ss_v2_sandbox_key"}


def _return(db_session: Session, rma: str) -> ReturnRequest:
    db_session.expire_all()
    row = db_session.scalar(select(ReturnRequest).where(ReturnRequest.rma == rma))
    assert row is not None
    return row


def _survey(db_session: Session, return_id: int) -> CsatRequest:
    db_session.expire_all()
    found = db_session.scalar(select(CsatRequest).where(CsatRequest.subject_kind == "return",
                                                        CsatRequest.subject_id == return_id))
    assert found is not None
    return found


def _state(db_session: Session, rma: str, state: str) -> bool:
    return _return(db_session, rma).state == state


def _synced(db_session: Session) -> None:
    """The store's first full poll, on the worker, finished."""
    from tasks.polling import poll_store

    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    poll_store.delay(store_id, True)
    wait_for(lambda: db_session.scalar(select(Store.last_full_sync_at).where(Store.id == store_id))
             or db_session.expire_all())


def _bought_and_shipped(db_session: Session, shop: str, email: str, first_name: str, last_name: str) -> Any:
    """One unit bought in the Shopify stand-in (``shop``: its admin), stored by us and marked
    fulfilled; the stand-in's answer."""
    bought = requests.post(f"{shop}/create_order", timeout=10, json={
        "lines": [{"sku": SKU, "quantity": 1, "price": "199.00"}], "email": email,
        "customer": {"first_name": first_name, "last_name": last_name}}).json()
    wait_for(lambda: db_session.scalar(select(Order.id).where(Order.email == email)) or db_session.expire_all())
    db_session.execute(update(Order).where(Order.email == email).values(status="fulfilled"))
    db_session.commit()
    return bought


def test_a_return_from_request_to_refund_and_restock_fills_the_waiting_customer_once(
        services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        celery_worker: object) -> None:
    from tasks.payments import pay
    from tasks.returns import step, sweep
    from workers.cli import main

    no_quiet_hours = lambda text: text.replace('quiet_hours = "21:00-08:00"', 'quiet_hours = "00:00-00:00"')  # noqa: E731
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=1, edit=no_quiet_hours) as stack:
        _synced(db_session)
        shop = f"{stack.sandbox}/shopify/shopify-main/_admin"
        # Ana's order ships; then the last unit is gone and Bo's order waits for stock.
        bought = _bought_and_shipped(db_session, shop, "ana@example.com", "Ana", "Lima")
        requests.post(f"{shop}/set_stock", json={"sku": SKU, "available": 0}, timeout=10).raise_for_status()
        requests.post(f"{shop}/create_order", timeout=10, json={
            "lines": [{"sku": SKU, "quantity": 1, "price": "199.00"}], "email": "bo@example.com",
            "customer": {"first_name": "Bo", "last_name": "Kim"}}).raise_for_status()

        def waiting() -> Backorder | None:
            db_session.expire_all()
            return db_session.scalar(select(Backorder).where(Backorder.state == "notified"))

        backorder = wait_for(waiting)
        assert isinstance(backorder, Backorder)
        number = db_session.scalar(select(Order.number).where(Order.email == "ana@example.com"))

        created = CliRunner().invoke(main, ["returns", "create", "--order", str(number), "--lines", f"{SKU}:1",
                                            "--reason", "defective", "--ref", "TKT-77"])
        assert created.exit_code == 0, created.output
        assert "→ approve (rule: within policy)" in created.output
        rma = created.output.split()[0]
        wait_for(lambda: _state(db_session, rma, "label_created"))
        labels = requests.get(f"{stack.sandbox}/shipstation/shipstation-main/v2/labels", headers=V2, timeout=10,
                              params={"rma_number": rma}).json()["labels"]
        assert len(labels) == 1 and labels[0]["is_return_label"] is True
        row = _return(db_session, rma)
        assert row.tracking_number == labels[0]["tracking_number"]

        # the same request again is the same return; the label step again buys nothing
        again = CliRunner().invoke(main, ["returns", "create", "--order", str(number), "--lines", f"{SKU}:1",
                                          "--reason", "defective", "--ref", "TKT-77"])
        assert again.exit_code == 0 and "[requested before]" in again.output and again.output.startswith(rma)
        assert step.apply(args=[row.id]).get() == "in transit"

        # the carrier delivers it to us: the sweeper reads the label's tracking
        requests.post(f"{stack.sandbox}/shipstation/shipstation-main/_admin/scans", timeout=10,
                      json={"tracking_number": row.tracking_number, "status": "delivered"}).raise_for_status()
        db_session.execute(update(ReturnRequest).where(ReturnRequest.id == row.id).values(due_at=utcnow()))
        db_session.commit()
        sweep.delay()
        wait_for(lambda: _state(db_session, rma, "delivered"))

        received = CliRunner().invoke(main, ["returns", "receive", rma, "--qc", "restock", "--weight", "9000"])
        assert received.exit_code == 0, received.output
        wait_for(lambda: _state(db_session, rma, "settled"))
        order_id = bought["order"]["id"]
        refunds = lambda: requests.get(f"{shop}/state/orders/{order_id}", timeout=5).json()["refunds"]  # noqa: E731
        wait_for(lambda: len(refunds()) == 1)
        assert refunds()[0]["transactions"][0]["amount"] == "199.00"
        # the restocked unit went to Bo, who was waiting, before anyone else
        wait_for(lambda: db_session.expire_all() or db_session.get(Backorder, backorder.id).state == "filled")

        # every step once more: no second refund, no second restock, no second email
        settled = _return(db_session, rma)
        assert settled.restocked_qty == 1 and settled.execution_id is not None
        assert step.apply(args=[settled.id]).get() == "nothing to do: settled"
        assert str(pay.apply(args=[settled.execution_id]).get()) == "nothing to do"
        again_receive = CliRunner().invoke(main, ["returns", "receive", rma, "--qc", "restock"])
        assert again_receive.exit_code == 1
        assert len(refunds()) == 1
        assert db_session.scalar(select(func.count()).select_from(RefundExecution)) == 1
        assert db_session.scalar(select(func.count()).select_from(ReturnEvent).where(
            ReturnEvent.return_id == settled.id, ReturnEvent.step == "settle")) == 1
        notice = db_session.scalar(select(OutboxMessage).where(OutboxMessage.template == "return_settled"))
        assert notice is not None and notice.recipient == "ana@example.com"
        links: dict[str, Any] = notice.context["score_urls"]
        assert sorted(links) == ["1", "2", "3", "4", "5"] and "/csat/" in links["5"]
        survey = _survey(db_session, settled.id)
        assert (survey.queue, survey.intent, survey.outbox_id) == ("returns", "defective/restock", notice.id)
        five, one = (link.replace(link.split("/csat/")[0], stack.web) for link in (links["5"], links["1"]))
        page = requests.get(five, timeout=10)  # a mail scanner opening the link records nothing
        assert page.status_code == 200 and 'value="5" class="picked"' in page.text
        assert _survey(db_session, settled.id).score is None
        answer = requests.post(five.split("?")[0], data={"score": "5", "comment": "quick refund"}, timeout=10)
        assert answer.status_code == 200 and "We saved 5 out of 5" in answer.text
        again = requests.post(one.split("?")[0], data={"score": "5"}, timeout=10)  # a second press: the same row
        assert again.status_code == 200
        assert requests.post(one.split("?")[0][:-2] + "xx", data={"score": "1"}, timeout=10).status_code == 400
        answered = _survey(db_session, settled.id)
        assert (answered.score, answered.comment, answered.answer_count) == (5, "quick refund", 2)
        assert db_session.scalar(select(func.count()).select_from(CsatRequest)
                                 .where(CsatRequest.subject_kind == "return")) == 1

        why = CliRunner().invoke(main, ["why", "return", rma])
        assert why.exit_code == 0, why.output
        for words in ("rule 'within policy'", "return label", "QC restock", "+1 FUT-FRM-OAK-FULL at warehouse",
                      "return_settled by email", "survey answered: 5/5"):
            assert words in why.output, why.output


def test_the_same_return_under_retries_buys_one_label_and_pays_one_refund(
        services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        celery_worker: object) -> None:
    """The worker's label and refund calls each fail first — the label bought but its answer lost,
    the refund refused with a 503 and then made but its answer lost — and run again on the worker:
    the label step when beat's sweep finds it due (the failed run gave its lease back), the refund
    by Celery's own retry of ``tasks.payments.pay`` (no test calls it). ShipStation holds one label
    for the RMA, Shopify one refund for the order, and the execution shows the attempts it took."""
    from domain.core.models import AuditLog
    from workers.cli import main

    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=3) as stack:
        _synced(db_session)
        shop = f"{stack.sandbox}/shopify/shopify-main/_admin"
        bought = _bought_and_shipped(db_session, shop, "cy@example.com", "Cy", "Ode")
        number = db_session.scalar(select(Order.number).where(Order.email == "cy@example.com"))

        ship_admin = f"{stack.sandbox}/shipstation/shipstation-main/_admin"
        requests.post(f"{ship_admin}/faults", timeout=10, json={
            "status": 503, "after_apply": True, "path_contains": "/v2/labels", "method": "POST",
            "count": 1}).raise_for_status()
        created = CliRunner().invoke(main, ["returns", "create", "--order", str(number), "--lines", f"{SKU}:1",
                                            "--reason", "defective", "--ref", "TKT-88"])
        assert created.exit_code == 0, created.output
        rma = created.output.split()[0]
        failed = wait_for(lambda: _return(db_session, rma).last_error, timeout_s=60)
        row = _return(db_session, rma)
        assert "503" in str(failed) and row.state == "approved" and row.attempts == 1
        # the failed call gave its lease back: due again within a minute, for beat's sweep (every 60 s)
        assert row.due_at is not None and row.due_at - utcnow() <= timedelta(seconds=60)
        db_session.execute(update(ReturnRequest).where(ReturnRequest.id == row.id).values(due_at=utcnow()))
        db_session.commit()
        from tasks.returns import sweep
        sweep.delay()  # what beat does
        wait_for(lambda: _state(db_session, rma, "label_created"), timeout_s=60)
        labels = requests.get(f"{stack.sandbox}/shipstation/shipstation-main/v2/labels", headers=V2, timeout=10,
                              params={"rma_number": rma}).json()["labels"]
        assert len(labels) == 1, "one label, though the first answer was lost"
        row = _return(db_session, rma)
        assert row.label_ref == labels[0]["label_id"]
        label_events = db_session.scalars(select(ReturnEvent.step).where(ReturnEvent.return_id == row.id)).all()
        assert list(label_events).count("label") == 1

        # The carrier delivers it; the refund's first call is refused, its second made but its answer lost.
        for fault in ({"status": 503, "path_contains": "/refunds.json", "method": "POST", "count": 1},
                      {"status": 503, "after_apply": True, "path_contains": "/refunds.json", "method": "POST",
                       "count": 1}):
            requests.post(f"{shop}/faults", json=fault, timeout=10).raise_for_status()
        requests.post(f"{ship_admin}/scans", timeout=10,
                      json={"tracking_number": row.tracking_number, "status": "delivered"}).raise_for_status()
        db_session.execute(update(ReturnRequest).where(ReturnRequest.id == row.id).values(due_at=utcnow()))
        db_session.commit()
        sweep.delay()
        wait_for(lambda: _state(db_session, rma, "delivered"), timeout_s=60)
        received = CliRunner().invoke(main, ["returns", "receive", rma, "--qc", "restock", "--weight", "9000"])
        assert received.exit_code == 0, received.output

        def paid() -> RefundExecution | None:
            db_session.expire_all()
            return db_session.scalar(select(RefundExecution).where(RefundExecution.state == "succeeded"))

        execution = wait_for(paid, timeout_s=90)
        assert isinstance(execution, RefundExecution)
        order_id = bought["order"]["id"]
        refunds = requests.get(f"{shop}/state/orders/{order_id}", timeout=5).json()["refunds"]
        assert len(refunds) == 1 and refunds[0]["transactions"][0]["amount"] == "199.00"
        assert execution.attempts >= 3, "refused, answer lost, found: the worker ran the task three times"
        retries = db_session.scalars(select(AuditLog).where(AuditLog.action == "refund.retry",
                                                            AuditLog.subject_id == str(execution.id))).all()
        assert len(retries) >= 2
        assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action.in_(("refund.sent", "refund.replayed")), AuditLog.subject_id == str(execution.id))) == 1
        wait_for(lambda: _state(db_session, rma, "settled"), timeout_s=60)
        settled = _return(db_session, rma)
        assert settled.restocked_qty == 1 and settled.execution_id == execution.id
        assert db_session.scalar(select(func.count()).select_from(RefundExecution)) == 1
        notices = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "return_settled")).all()
        assert len(notices) == 1
