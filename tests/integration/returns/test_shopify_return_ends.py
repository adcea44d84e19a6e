"""The end of Shopify's own returns written back to Shopify, and a change of one in review told to
its case: the product's web app and a real worker against the Shopify stand-in over HTTP (its
GraphQL ``returnCancel`` / ``returnClose``), a real PostgreSQL.

* ours cancelled by a person while Shopify's return is open → ``returnCancel(id:)`` written once —
  the store's ``returns/cancel`` echo (delivered twice), the task and the sweeper run again add no
  second mutation, and the echo only notes ours: nothing is closed, nothing written again;
* ours settled (received, refund planned, restocked) → ``returnClose(id:)``; its answer lost after
  Shopify closed the return, the retry finds it closed: counted as done (``already``, the status
  read back), one close at the store, its echo only noted;
* the close is sent after the refund was created at the store, never before; a refund refused for
  good leaves the close ``failed`` (saying why) and Shopify's return open;
* a cancel owed while the approval it follows is still being retried (Shopify throttling) waits
  for it — not sent, the task says what it waits for — and is sent by the approval's end: the
  store's return is approved, then cancelled, both written;
* ``returns/update`` of a return in review: its ``refund_request`` case's summary, reasons and an
  ``amount_changed`` event give the amount it asks now, each change after the one before.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, Case, CaseEvent, InboxEvent, ReturnEvent, ReturnRequest, StoreReturnWrite
from tests.conftest import wait_for
from tests.integration.returns.test_shopify_return_write_back import (
    OTHER, SKU, _mutations, _order, _ours, _request, _sent, _stack, _steps, _theirs, _why,
)
from tests.integration.stock.shopify_admin import STORE, admin
from tests.stack import Stack


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          celery_worker: object) -> Iterator[Stack]:
    yield from _stack(db_session, monkeypatch, tmp_path)


def _write(session: Session, return_id: int, action: str, state: str = "done") -> StoreReturnWrite | None:
    session.expire_all()
    return session.scalar(select(StoreReturnWrite).where(StoreReturnWrite.return_id == return_id,
                                                         StoreReturnWrite.action == action,
                                                         StoreReturnWrite.state == state))


def _inbox_done(session: Session, topic: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.topic == topic, InboxEvent.state == "done")) or 0


def _redeliver(stack: Stack, topic: str) -> None:
    """The store's last ``topic`` webhook delivered again, as a new delivery (new webhook id)."""
    sent = _sent(stack, topic)[-1]
    headers = {**sent["headers"], "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4())}
    again = requests.post(f"{stack.web}/webhooks/{STORE}", data=sent["body"].encode(), headers=headers, timeout=10)
    assert again.status_code == 200


def _approved(stack: Stack, session: Session) -> tuple[int, ReturnRequest]:
    """A Shopify return the policy approved, its approval written and its echo applied: open there."""
    placed = _order(stack, session)
    shopify_id = _request(stack, placed, [{"sku": SKU, "quantity": 1, "reason": "DEFECTIVE"}])
    ours = wait_for(lambda: _ours(session, shopify_id, ("approved", "label_created")))
    assert isinstance(ours, ReturnRequest)
    assert wait_for(lambda: _write(session, ours.id, "approve"))
    assert wait_for(lambda: _steps(session, ours.id, "store_approved"))
    assert _theirs(stack, shopify_id)["status"] == "open"
    return shopify_id, ours


def test_a_cancel_of_ours_is_written_once_and_its_echo_closes_nothing(stack: Stack, db_session: Session) -> None:
    shopify_id, ours = _approved(stack, db_session)
    gid = f"gid://shopify/Return/{shopify_id}"
    from workers.cli import main
    cancelled = CliRunner().invoke(main, ["returns", "cancel", ours.rma, "--by", "dana", "--note", "kept it"])
    assert cancelled.exit_code == 0, cancelled.output
    write = wait_for(lambda: _write(db_session, ours.id, "cancel"))
    assert isinstance(write, StoreReturnWrite)
    assert (write.outcome, write.store_status, write.attempts) == ("written", "canceled", 1)
    theirs = _theirs(stack, shopify_id)
    assert (theirs["status"], theirs["ended_by"]) == ("canceled", "api")
    [mutation] = _mutations(stack, "returnCancel")
    assert mutation["body"]["variables"] == {"id": gid}, "returnCancel takes the id itself, not an input"
    assert "returnCancel(id: $id)" in mutation["body"]["query"]

    # the store's echo: returns/cancel, applied, only noted on ours (already cancelled) as our own write
    echo = wait_for(lambda: _steps(db_session, ours.id, "store_canceled"))
    assert isinstance(echo, list) and echo[0].detail.get("echo") is True
    assert echo[0].from_state == echo[0].to_state == "cancelled"
    assert wait_for(lambda: _inbox_done(db_session, "returns/cancel") == 1)
    # delivered again, the task and the sweeper run again, the cancel asked again
    _redeliver(stack, "returns/cancel")
    assert wait_for(lambda: _inbox_done(db_session, "returns/cancel") == 2)
    from tasks import returns as return_tasks
    assert "done, failed, or another run holds it" in return_tasks.write_store.apply(args=(write.id,)).get()
    return_tasks.sweep.apply().get()
    again = CliRunner().invoke(main, ["returns", "cancel", ours.rma, "--by", "dana"])  # cancelled already
    assert again.exit_code == 0, again.output

    assert len(_mutations(stack, "returnCancel")) == 1 and len(_sent(stack, "returns/cancel")) == 1
    assert not _mutations(stack, "returnClose") and not _sent(stack, "returns/close")
    assert [w.action for w in db_session.scalars(select(StoreReturnWrite).where(
        StoreReturnWrite.return_id == ours.id).order_by(StoreReturnWrite.id))] == ["approve", "cancel"]
    assert [e.detail.get("echo") for e in _steps(db_session, ours.id, "store_canceled")] == [True, True]
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "store_return.cancel", AuditLog.subject_id == str(ours.id))) == 1
    row = _ours(db_session, shopify_id)
    assert row is not None and row.state == "cancelled"
    why = _why(ours.rma)
    assert f"cancelled the store's return {gid} by shopify:{STORE}" in why
    assert "canceled (our write coming back) at the store" in why


def test_a_settled_return_is_closed_at_the_store_once_and_a_closed_one_counts_as_done(
        stack: Stack, db_session: Session) -> None:
    shopify_id, ours = _approved(stack, db_session)
    # the close's answer is lost after Shopify closed the return: the retry finds it closed
    admin(stack, "faults", {"status": 503, "after_apply": True, "path_contains": "graphql.json", "count": 1})
    from workers.cli import main
    received = CliRunner().invoke(main, ["returns", "receive", ours.rma, "--qc", "restock", "--weight", "9000"])
    assert received.exit_code == 0, received.output
    assert wait_for(lambda: _ours(db_session, shopify_id, ("settled",)), timeout_s=60)
    write = wait_for(lambda: _write(db_session, ours.id, "close"), timeout_s=40)
    assert isinstance(write, StoreReturnWrite)
    assert (write.outcome, write.store_status, write.attempts) == ("already", "closed", 2)
    assert "INVALID_STATE" in (write.last_error or "")
    assert [r["status"] for r in _mutations(stack, "returnClose")] == [503, 200]
    assert [r["body"]["variables"] for r in _mutations(stack, "returnClose")] == [
        {"id": f"gid://shopify/Return/{shopify_id}"}] * 2
    theirs = _theirs(stack, shopify_id)
    assert (theirs["status"], theirs["ended_by"]) == ("closed", "api")
    assert len(_sent(stack, "returns/close")) == 1

    echo = wait_for(lambda: _steps(db_session, ours.id, "store_closed"))
    assert isinstance(echo, list) and echo[0].detail.get("echo") is True
    assert echo[0].from_state == echo[0].to_state == "settled"
    from tasks import returns as return_tasks
    assert return_tasks.step.apply(args=[ours.id]).get() == "nothing to do: settled"
    assert "done, failed, or another run holds it" in return_tasks.write_store.apply(args=(write.id,)).get()
    return_tasks.sweep.apply().get()
    assert len(_mutations(stack, "returnClose")) == 2 and len(_sent(stack, "returns/close")) == 1
    assert not _mutations(stack, "returnCancel")
    assert db_session.scalar(select(func.count()).select_from(StoreReturnWrite).where(
        StoreReturnWrite.return_id == ours.id, StoreReturnWrite.state != "done")) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "store_return.close", AuditLog.subject_id == str(ours.id))) == 1
    why = _why(ours.rma)
    assert f"not closed at the store (gid://shopify/Return/{shopify_id})" in why and "it shows closed" in why
    assert "closed (our write coming back) at the store" in why


def test_the_close_follows_the_paid_refund_and_a_refused_refund_leaves_the_stores_return_open(
        stack: Stack, db_session: Session) -> None:
    from workers.cli import main
    # paid: Shopify's return is closed after the refund was created there, never before
    shopify_id, ours = _approved(stack, db_session)
    assert CliRunner().invoke(main, ["returns", "receive", ours.rma, "--qc", "restock", "--weight", "9000"]).exit_code == 0
    assert wait_for(lambda: _write(db_session, ours.id, "close"), timeout_s=60)
    paths = [r["path"] for r in admin(stack, "requests")["requests"] if r["method"] == "POST"
             and (r["path"].endswith("/refunds.json") or "returnClose" in str((r.get("body") or {}).get("query")))]
    assert [path.endswith("/refunds.json") for path in paths] == [True, False], paths

    # refused for good: no close at all, the write failed saying why, Shopify's return still open
    other_id, other = _approved(stack, db_session)
    admin(stack, "faults", {"status": 422, "path_contains": "/refunds", "count": 10})
    assert CliRunner().invoke(main, ["returns", "receive", other.rma, "--qc", "restock", "--weight", "9000"]).exit_code == 0
    failed = wait_for(lambda: _write(db_session, other.id, "close", "failed"), timeout_s=60)
    assert isinstance(failed, StoreReturnWrite)
    assert "failed: the store's return is left open for staff" in (failed.last_error or "")
    assert failed.attempts == 0
    assert [r["body"]["variables"]["id"] for r in _mutations(stack, "returnClose")] == [
        f"gid://shopify/Return/{shopify_id}"]
    assert _theirs(stack, other_id)["status"] == "open"
    assert wait_for(lambda: _steps(db_session, other.id, "store_write_failed"))
    assert "left open for staff" in _why(other.rma)


THROTTLED = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}


def test_a_cancel_owed_while_the_approval_is_retried_waits_for_it_and_follows_it(stack: Stack,
                                                                                db_session: Session) -> None:
    # Shopify throttles every call: the policy's approval stays pending, retried
    admin(stack, "faults", {"status": 200, "path_contains": "graphql.json", "count": 100, "body": THROTTLED})
    placed = _order(stack, db_session)
    shopify_id = _request(stack, placed, [{"sku": SKU, "quantity": 1, "reason": "DEFECTIVE"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("approved", "label_created")))
    assert isinstance(ours, ReturnRequest)
    approve = wait_for(lambda: (lambda row: row if row is not None and row.attempts >= 1 and row.last_error
                                else None)(_write(db_session, ours.id, "approve", "pending")))
    assert isinstance(approve, StoreReturnWrite)
    from workers.cli import main
    cancelled = CliRunner().invoke(main, ["returns", "cancel", ours.rma, "--by", "dana"])
    assert cancelled.exit_code == 0, cancelled.output
    cancel = wait_for(lambda: _write(db_session, ours.id, "cancel", "pending"))
    assert isinstance(cancel, StoreReturnWrite)
    # the cancel is not sent before the approval it follows (Shopify would refuse a REQUESTED one)
    from tasks import returns as return_tasks
    assert return_tasks.write_store.apply(args=(cancel.id,)).get() == \
        f"store write {cancel.id}: waits for write {approve.id} of its return"
    assert not _mutations(stack, "returnCancel") and _theirs(stack, shopify_id)["status"] == "requested"

    requests.delete(f"{stack.sandbox}/shopify/{STORE}/_admin/faults", timeout=10)
    done = wait_for(lambda: _write(db_session, ours.id, "cancel"), timeout_s=90)
    assert isinstance(done, StoreReturnWrite) and (done.outcome, done.store_status) == ("written", "canceled")
    approved = _write(db_session, ours.id, "approve")
    assert approved is not None and (approved.outcome, approved.store_status) == ("written", "open")
    # written, not ``already``: Shopify's return was OPEN when the cancel came, the approval went first
    theirs = _theirs(stack, shopify_id)
    assert (theirs["status"], theirs["decided_by"], theirs["ended_by"]) == ("canceled", "api", "api")
    assert len(_mutations(stack, "returnCancel")) == 1


def _case_events(session: Session, case_id: int) -> list[CaseEvent]:
    session.expire_all()
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                        CaseEvent.action == "amount_changed")
                                .order_by(CaseEvent.id)))


def test_an_update_of_a_return_in_review_tells_its_case_the_amount_it_asks_now(stack: Stack,
                                                                              db_session: Session) -> None:
    placed = _order(stack, db_session)
    shopify_id = _request(stack, placed, [{"sku": SKU, "quantity": 2, "reason": "WRONG_ITEM"},
                                          {"sku": OTHER, "quantity": 1, "reason": "WRONG_ITEM"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("review",)))
    assert isinstance(ours, ReturnRequest) and ours.amount_cents == 32000
    case = db_session.scalar(select(Case).where(Case.kind == "refund_request", Case.subject_id == ours.decision_id))
    assert case is not None and "wrong_item 320.00 USD → review" in case.summary

    admin(stack, f"returns/{shopify_id}/update", {"lines": [{"sku": SKU, "quantity": 1}]})
    [first] = wait_for(lambda: _case_events(db_session, case.id))  # type: ignore[misc]
    assert (first.detail["amount_was_cents"], first.detail["amount_cents"]) == (32000, 20000)
    assert first.detail["rma"] == ours.rma and "now asks 200.00 USD (was 320.00 USD)" in first.note
    db_session.refresh(case)
    assert "wrong_item 200.00 USD → review" in case.summary and "wrong_item 320.00 USD" not in case.summary
    admin(stack, f"returns/{shopify_id}/update", {"lines": [{"sku": OTHER, "quantity": 0}]})
    events = wait_for(lambda: len(_case_events(db_session, case.id)) == 2 and _case_events(db_session, case.id))
    assert isinstance(events, list)
    assert (events[1].detail["amount_was_cents"], events[1].detail["amount_cents"]) == (20000, 12000)

    from workers.cli import main
    shown = CliRunner().invoke(main, ["cases", "show", str(case.id), "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["summary"].startswith(f"refund request return-{ours.id} on order")
    assert "wrong_item 120.00 USD → review" in data["summary"]
    assert data["reasons"][0].startswith("asks 120.00 USD for wrong_item")
    assert data["reasons"][0].endswith("(the rules decided on 320.00 USD)")
    assert [e["action"] for e in data["history"]][-2:] == ["amount_changed", "amount_changed"]
    row = _ours(db_session, shopify_id)
    assert row is not None and row.state == "review" and row.amount_cents == 12000
    updated = db_session.scalars(select(ReturnEvent).where(ReturnEvent.return_id == ours.id,
                                                           ReturnEvent.step == "store_updated")).all()
    assert [e.detail.get("case_id") for e in updated] == [case.id, case.id]
    assert f"(review case {case.id} told)" in _why(ours.rma)

    # a person approves it: the staff decision pays the amount it asks now, and it is written once
    approved = CliRunner().invoke(main, ["returns", "approve", ours.rma, "--by", "dana"])
    assert approved.exit_code == 0, approved.output
    write = wait_for(lambda: _write(db_session, ours.id, "approve"))
    assert isinstance(write, StoreReturnWrite) and write.outcome == "written"
    assert len(_mutations(stack, "returnApproveRequest")) == 1
