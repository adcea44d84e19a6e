"""What every payment and dispute webhook looks up is served by an index: the order of a disputed
payment (by ``orders.payment_ref`` or the gateway's ``order_payments.reference``), the refund an
outcome settles (by provider reference or our idempotency key), and the pending timers a dispute's
outcome cancels (by subject, whatever their kind). Each statement the product runs is captured and
explained with sequential scans priced out: a plan that still scans a table has no index for it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
import re
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from connectors.payments.contract import RefundOutcome
from domain.chargebacks import deadlines, intake
from domain.core.clock import utcnow
from domain.payments import executions


@contextmanager
def captured(session: Session) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []
    connection = session.connection()

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # the lookups (an UPDATE then goes by id)
            statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", keep)


def plans(session: Session, statements: list[tuple[str, Any]]) -> list[str]:
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return ["\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            for statement, parameters in statements]


#: Each lookup → per table it reads, the index that must serve it (the index condition naming the
#: looked-up column: an index entered on another column alone reads every row under that value).
LOOKUPS: dict[str, tuple[Callable[[Session], Any], dict[str, str]]] = {
    "a dispute's order by any payment reference": (
        lambda session: intake.order_paid_by(session, "pi_3Qx", "ch_3Qx"),
        {"orders": "ix_orders_payment_ref", "order_payments": "ix_order_payments_reference"}),
    "a refund outcome's execution, by provider reference then by our key": (
        lambda session: executions.apply_outcome(session, RefundOutcome("adyen", "PSP1", "succeeded", 100, "USD"),
                                                 utcnow(), "refund-decision-1"),
        {"refund_executions": "ix_refund_executions_provider_ref|uq_refund_executions_idempotency_key"}),
    "a dispute's pending timers, every kind": (
        lambda session: deadlines.cancel(session, 1), {"timers": "ix_timers_pending_by_subject"}),
}
#: The column each index must be entered by.
KEYS = {"ix_orders_payment_ref": "payment_ref", "ix_order_payments_reference": "reference",
        "ix_refund_executions_provider_ref": "provider_ref", "uq_refund_executions_idempotency_key": "idempotency_key",
        "ix_timers_pending_by_subject": "subject_id"}
#: Rows for the planner to weigh one index against another (on empty tables every index costs alike).
FILL = {"timers": """INSERT INTO timers (kind, subject_type, subject_id, due_at)
                     SELECT 'kind.' || mod(n, 8), 'dispute', n / 8, now() + interval '1 day'
                       FROM generate_series(1, 8000) AS n"""}


def filled(session: Session) -> None:
    for table, statement in FILL.items():
        session.connection().exec_driver_sql(statement)
        session.connection().exec_driver_sql(f"ANALYZE {table}")


def index_conditions(plan: str, table: str) -> list[tuple[str, str]]:
    """(index, its condition) of every index scan of ``table`` in the plan."""
    lines = plan.splitlines()
    found = []
    for number, line in enumerate(lines):
        scan = re.search(rf"Index (?:Only )?Scan (?:Backward )?using (\w+) on {table}\b|Bitmap Index Scan on (\w+)", line)
        if scan is None:
            continue
        condition = next((ln.strip() for ln in lines[number + 1:number + 4] if "Index Cond" in ln), "")
        found.append((scan.group(1) or scan.group(2), condition))
    return found


@pytest.mark.parametrize("lookup", list(LOOKUPS))
def test_each_webhook_lookup_is_served_by_its_index(db_session: Session, lookup: str) -> None:
    run, wanted = LOOKUPS[lookup]
    filled(db_session)
    with captured(db_session) as statements:
        run(db_session)
    assert statements, "the lookup ran no statement"
    explained = plans(db_session, statements)
    for table, indexes in wanted.items():
        reading = [plan for plan in explained if re.search(rf" on {table}\b", plan)]
        assert reading, f"no statement read {table}: {explained}"
        for plan in reading:
            assert f"Seq Scan on {table}" not in plan, plan
            used = [(name, condition) for name, condition in index_conditions(plan, table) if condition]
            assert used and all(re.fullmatch(indexes, name) and KEYS[name] in condition for name, condition in used), plan
