"""Our decisions on Shopify's own returns written back to Shopify, and its ``returns/reopen`` and
``returns/update``: the product's web app and a real worker against the Shopify stand-in over HTTP
(its GraphQL ``returnApproveRequest`` / ``returnDeclineRequest``), a real PostgreSQL.

* the policy's approval is written once — a new delivery of the request, the sweeper and the task
  run again add no second mutation; an answer lost after Shopify applied it is retried and found
  decided — and the store's ``returns/approve`` echo decides nothing again;
* a policy's denial is written as a decline with its reason and note, and its echo is only noted;
* a store that decided first (its merchant approved, then a person here approves ours) answers a
  user error: counted as done (``already``), the status it shows recorded, nothing failed;
* ``THROTTLED`` is retried until the write goes through; ``[returns] write_back = false`` writes nothing;
* ``returns/update`` re-reads the lines through GraphQL and takes them while ours is being decided,
  later only notes them; ``returns/reopen`` is noted and changes nothing else.
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

from domain.core.models import AuditLog, InboxEvent, Order, RefundDecision, ReturnEvent, ReturnRequest, StoreReturnWrite
from tests.conftest import wait_for
from tests.integration.stock.shopify_admin import STORE, admin
from tests.stack import Stack, running_stack

SKU, OTHER = "FUT-FRM-OAK-FULL", "FUT-FRM-WAL-FULL"
DENY_STYLE = ('[[refunds.rules]]\nname = "within policy"',
              '[[refunds.rules]]\nname = "style is final sale"\nreasons = ["style"]\ndecision = "deny"\n\n'
              '[[refunds.rules]]\nname = "within policy"')


def _stack(db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, write_back: bool = True) \
        -> Iterator[Stack]:
    def edit(text: str) -> str:
        text = text.replace(*DENY_STYLE)
        return text if write_back else text.replace("[returns]\n", "[returns]\nwrite_back = false\n", 1)
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify"}, available=5, edit=edit) as running:
        yield running


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          celery_worker: object) -> Iterator[Stack]:
    yield from _stack(db_session, monkeypatch, tmp_path)


@pytest.fixture
def quiet_stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                celery_worker: object) -> Iterator[Stack]:
    yield from _stack(db_session, monkeypatch, tmp_path, write_back=False)


def _ours(session: Session, shopify_id: int, state: tuple[str, ...] = ()) -> ReturnRequest | None:
    session.expire_all()
    row = session.scalar(select(ReturnRequest).where(
        ReturnRequest.source == "shopify", ReturnRequest.source_ref == f"{STORE}:gid://shopify/Return/{shopify_id}"))
    return row if row is not None and (not state or row.state in state) else None


def _theirs(stack: Stack, shopify_id: int) -> dict[str, Any]:
    return next(one for one in admin(stack, "state/returns")["returns"] if one["id"] == shopify_id)


def _write(session: Session, return_id: int, state: str = "done") -> StoreReturnWrite | None:
    session.expire_all()
    return session.scalar(select(StoreReturnWrite).where(StoreReturnWrite.return_id == return_id,
                                                         StoreReturnWrite.state == state))


def _mutations(stack: Stack, name: str) -> list[dict[str, Any]]:
    return [r for r in admin(stack, "requests")["requests"] if r["path"].endswith("/graphql.json")
            and name in str((r.get("body") or {}).get("query"))]


def _sent(stack: Stack, topic: str) -> list[dict[str, Any]]:
    return [d for d in admin(stack, "webhooks")["deliveries"] if d["topic"] == topic]


def _steps(session: Session, return_id: int, step: str) -> list[ReturnEvent]:
    session.expire_all()
    return list(session.scalars(select(ReturnEvent).where(ReturnEvent.return_id == return_id, ReturnEvent.step == step)
                                .order_by(ReturnEvent.id)))


def _order(stack: Stack, session: Session, quantity: int = 2) -> dict[str, Any]:
    placed = admin(stack, "create_order", {"lines": [{"sku": SKU, "quantity": quantity, "price": "120.00"},
                                                     {"sku": OTHER, "quantity": 1, "price": "80.00"}],
                                           "email": "ana@example.com"})["order"]
    wait_for(lambda: session.expire_all() or session.scalar(select(Order).where(Order.external_id == placed["id"])))
    admin(stack, "fulfill", {"order_id": placed["id"], "tracking_number": "1Z1"})
    return placed


def _request(stack: Stack, placed: dict[str, Any], lines: list[dict[str, Any]], **extra: Any) -> int:
    return int(admin(stack, "returns/request", {"order_id": placed["id"], "lines": lines, **extra})["return"]["id"])


def _why(rma: str) -> str:
    from workers.cli import main
    why = CliRunner().invoke(main, ["why", "return", rma])
    assert why.exit_code == 0, why.output
    return why.output


def test_the_policys_approval_is_written_once_and_its_echo_decides_nothing(stack: Stack,
                                                                          db_session: Session) -> None:
    placed = _order(stack, db_session)
    shopify_id = _request(stack, placed, [{"sku": SKU, "quantity": 1, "reason": "DEFECTIVE"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("approved", "label_created")))
    assert isinstance(ours, ReturnRequest)
    write = wait_for(lambda: _write(db_session, ours.id))
    assert isinstance(write, StoreReturnWrite)
    assert (write.action, write.outcome, write.store_status) == ("approve", "written", "open")
    theirs = _theirs(stack, shopify_id)
    assert (theirs["status"], theirs["decided_by"]) == ("open", "api")
    [mutation] = _mutations(stack, "returnApproveRequest")
    assert mutation["body"]["variables"] == {"input": {"id": f"gid://shopify/Return/{shopify_id}"}}

    # the store's echo: returns/approve, stored and applied, noted as our own write coming back
    echo = wait_for(lambda: _steps(db_session, ours.id, "store_approved"))
    assert isinstance(echo, list) and echo[0].detail.get("echo") is True
    wait_for(lambda: db_session.expire_all() or db_session.scalar(select(InboxEvent.state).where(
        InboxEvent.topic == "returns/approve")) == "done")
    # a new delivery of the request (another webhook id), the sweeper, and the task run again
    request = _sent(stack, "returns/request")[-1]
    headers = {**request["headers"], "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4())}
    again = requests.post(f"{stack.web}/webhooks/{STORE}", data=request["body"].encode(), headers=headers, timeout=10)
    assert again.status_code == 200
    wait_for(lambda: db_session.expire_all() or db_session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.topic == "returns/request", InboxEvent.state == "done")) == 2)
    from tasks import returns as return_tasks
    assert "done, failed, or another run holds it" in return_tasks.write_store.apply(args=(write.id,)).get()
    return_tasks.sweep.apply().get()

    assert len(_mutations(stack, "returnApproveRequest")) == 1 and len(_sent(stack, "returns/approve")) == 1
    assert db_session.scalar(select(func.count()).select_from(StoreReturnWrite)) == 1
    assert db_session.scalar(select(func.count()).select_from(ReturnRequest)) == 1
    assert db_session.scalar(select(func.count()).select_from(RefundDecision)) == 1
    assert [e.to_state for e in _steps(db_session, ours.id, "policy")] == ["approved"]
    assert db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "store_return.approve", AuditLog.subject_id == str(ours.id))) == 1
    why = _why(ours.rma)
    assert f"approved the store's return gid://shopify/Return/{shopify_id} by shopify:{STORE}" in why
    assert "approved (our write coming back) at the store" in why


def test_an_approval_whose_answer_was_lost_is_retried_and_applied_once(stack: Stack, db_session: Session) -> None:
    admin(stack, "faults", {"status": 503, "after_apply": True, "path_contains": "graphql.json", "count": 1})
    placed = _order(stack, db_session)
    shopify_id = _request(stack, placed, [{"sku": SKU, "quantity": 1, "reason": "DEFECTIVE"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("approved", "label_created")))
    assert isinstance(ours, ReturnRequest)
    write = wait_for(lambda: _write(db_session, ours.id), timeout_s=40)
    assert isinstance(write, StoreReturnWrite)
    # the first answer was lost after Shopify applied it: the retry finds the return decided already
    assert (write.outcome, write.store_status, write.attempts) == ("already", "open", 2)
    assert [r["status"] for r in _mutations(stack, "returnApproveRequest")] == [503, 200]
    assert len(_sent(stack, "returns/approve")) == 1 and _theirs(stack, shopify_id)["decided_by"] == "api"
    assert db_session.scalar(select(func.count()).select_from(RefundDecision)) == 1


def test_a_denial_is_written_as_a_decline_with_its_reason_and_its_echo_is_only_noted(stack: Stack,
                                                                                     db_session: Session) -> None:
    placed = _order(stack, db_session)
    shopify_id = _request(stack, placed, [{"sku": OTHER, "quantity": 1, "reason": "STYLE"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("rejected",)))
    assert isinstance(ours, ReturnRequest)
    write = wait_for(lambda: _write(db_session, ours.id))
    assert isinstance(write, StoreReturnWrite)
    assert (write.action, write.decline_reason, write.outcome) == ("decline", "OTHER", "written")
    theirs = _theirs(stack, shopify_id)
    assert theirs["status"] == "declined" and theirs["decline_reason"] == "other"
    assert theirs["decline_note"] == "Declined by the refund policy (rule 'style is final sale')"
    [mutation] = _mutations(stack, "returnDeclineRequest")
    assert mutation["body"]["variables"]["input"]["declineReason"] == "OTHER"
    echo = wait_for(lambda: _steps(db_session, ours.id, "store_declined"))
    assert isinstance(echo, list) and echo[0].detail.get("echo") is True
    assert echo[0].from_state == echo[0].to_state == "rejected"
    assert len(_mutations(stack, "returnDeclineRequest")) == 1
    assert "declined the store's return" in _why(ours.rma)


def test_a_store_that_decided_first_counts_as_done_and_throttling_is_retried(stack: Stack,
                                                                            db_session: Session) -> None:
    placed = _order(stack, db_session)
    # 320.00 is over the review threshold: a person decides; the merchant approves on Shopify first
    shopify_id = _request(stack, placed, [{"sku": SKU, "quantity": 2, "reason": "WRONG_ITEM"},
                                          {"sku": OTHER, "quantity": 1, "reason": "WRONG_ITEM"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("review",)))
    assert isinstance(ours, ReturnRequest)
    admin(stack, f"returns/{shopify_id}/approve", {})
    wait_for(lambda: _steps(db_session, ours.id, "store_approved"))
    from workers.cli import main
    approved = CliRunner().invoke(main, ["returns", "approve", ours.rma, "--by", "dana"])
    assert approved.exit_code == 0, approved.output
    write = wait_for(lambda: _write(db_session, ours.id))
    assert isinstance(write, StoreReturnWrite)
    assert (write.outcome, write.store_status, write.attempts) == ("already", "open", 1)
    assert "INVALID_STATE" in (write.last_error or "")
    assert _theirs(stack, shopify_id)["decided_by"] == "admin"
    assert "not approved at the store" in _why(ours.rma) and "it shows open" in _why(ours.rma)

    # another, to be declined by a person while Shopify is throttling: retried, then written
    third = _order(stack, db_session, quantity=3)
    big = _request(stack, third, [{"sku": SKU, "quantity": 3, "reason": "WRONG_ITEM"}])
    other = wait_for(lambda: _ours(db_session, big, ("review",)))
    assert isinstance(other, ReturnRequest)
    admin(stack, "faults", {"status": 200, "path_contains": "graphql.json", "count": 1, "body": {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation":
                                                            "https://shopify.dev/api/usage/rate-limits"}}]}})
    rejected = CliRunner().invoke(main, ["returns", "reject", other.rma, "--by", "dana", "--note", "worn twice"])
    assert rejected.exit_code == 0, rejected.output
    written = wait_for(lambda: _write(db_session, other.id), timeout_s=40)
    assert isinstance(written, StoreReturnWrite)
    assert (written.outcome, written.attempts, written.note) == ("written", 2, "worn twice")
    theirs = _theirs(stack, big)
    assert (theirs["status"], theirs["decline_note"], theirs["decided_by"]) == ("declined", "worn twice", "api")
    assert [r["status"] for r in _mutations(stack, "returnDeclineRequest")] == [200, 200]


def test_write_back_off_writes_nothing(quiet_stack: Stack, db_session: Session) -> None:
    placed = _order(quiet_stack, db_session)
    shopify_id = _request(quiet_stack, placed, [{"sku": SKU, "quantity": 1, "reason": "DEFECTIVE"}])
    ours = wait_for(lambda: _ours(db_session, shopify_id, ("approved", "label_created")))
    assert isinstance(ours, ReturnRequest)
    from tasks import returns as return_tasks
    return_tasks.sweep.apply().get()
    assert db_session.scalar(select(func.count()).select_from(StoreReturnWrite)) == 0
    assert _theirs(quiet_stack, shopify_id)["status"] == "requested"
    assert not _mutations(quiet_stack, "returnApproveRequest")


def test_an_update_is_read_through_graphql_and_taken_while_deciding_and_a_reopen_is_noted(
        stack: Stack, db_session: Session) -> None:
    placed = _order(stack, db_session)
    deciding = _request(stack, placed, [{"sku": SKU, "quantity": 2, "reason": "WRONG_ITEM"},
                                        {"sku": OTHER, "quantity": 1, "reason": "WRONG_ITEM"}])
    ours = wait_for(lambda: _ours(db_session, deciding, ("review",)))
    assert isinstance(ours, ReturnRequest) and ours.amount_cents == 32000
    reads = len([r for r in admin(stack, "requests")["requests"] if r["path"].endswith("/graphql.json")])
    admin(stack, f"returns/{deciding}/update", {"lines": [{"sku": SKU, "quantity": 1}]})
    sent = json.loads(_sent(stack, "returns/update")[-1]["body"])
    assert "status" not in sent and "order" not in sent and sent["return_line_items"]["removals"][0]["delta"] == 1
    updated = wait_for(lambda: _steps(db_session, ours.id, "store_updated"))
    assert isinstance(updated, list) and updated[0].detail["taken"] is True
    row = _ours(db_session, deciding)
    assert row is not None and row.state == "review" and row.amount_cents == 12000 + 8000
    assert sorted((line["sku"], line["quantity"]) for line in row.lines) == [(SKU, 1), (OTHER, 1)]
    graphql = [r for r in admin(stack, "requests")["requests"] if r["path"].endswith("/graphql.json")]
    assert len(graphql) == reads + 1 and graphql[-1]["body"]["variables"] == {
        "id": f"gid://shopify/Return/{deciding}"}

    # decided and approved on Shopify (our write): a later update is only noted; closed, then reopened: noted
    second = _order(stack, db_session)
    decided = _request(stack, second, [{"sku": SKU, "quantity": 2, "reason": "DEFECTIVE"}])
    mine = wait_for(lambda: _ours(db_session, decided, ("approved", "label_created")))
    assert isinstance(mine, ReturnRequest) and mine.amount_cents == 24000
    wait_for(lambda: _theirs(stack, decided)["status"] == "open")
    admin(stack, f"returns/{decided}/update", {"lines": [{"sku": SKU, "quantity": 1}]})
    noted = wait_for(lambda: _steps(db_session, mine.id, "store_updated"))
    assert isinstance(noted, list) and noted[0].detail["taken"] is False
    assert noted[0].detail["lines"] == [{"sku": SKU, "quantity": 1}]
    kept = _ours(db_session, decided)
    assert kept is not None and kept.amount_cents == 24000 and kept.lines[0]["quantity"] == 2
    admin(stack, f"returns/{decided}/close", {})
    wait_for(lambda: _steps(db_session, mine.id, "store_closed"))
    state = _ours(db_session, decided)
    assert state is not None
    admin(stack, f"returns/{decided}/reopen", {})
    reopened = wait_for(lambda: _steps(db_session, mine.id, "store_reopened"))
    assert isinstance(reopened, list) and reopened[0].detail["status"] == "open"
    after = _ours(db_session, decided)
    assert after is not None and after.state == state.state
    assert db_session.scalar(select(func.count()).select_from(ReturnRequest)) == 2
    assert db_session.scalar(select(func.count()).select_from(RefundDecision)) == 2
    why = _why(mine.rma)
    assert "lines changed at the store" in why and "reopened at the store" in why
