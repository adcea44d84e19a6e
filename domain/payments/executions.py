"""Paying a refund decision back exactly once: one ``refund_executions`` row per decision.

A decision that pays (``approve``, or a ``credit``) is planned as a row with its route — the
payment provider the order was paid through (``[[payments.accounts]]``, ``domain.core.payment_config``)
or the order's store — and an idempotency key derived from the decision id
(``refund-decision-{id}``, within Adyen's 64 characters). A cancelled backorder's refund is paid
by ``flows.refunds`` through the store and is not planned here.

The provider call happens between two transactions, never inside one (``flows.payments``):
:func:`claim` leases the row (``pending`` → ``sending``; ``FOR UPDATE SKIP LOCKED``, so a second
worker finds nothing to do), the caller sends, and :func:`finish` records the answer in a new
transaction — unless an event settled the row meanwhile, which then stands. A transient failure or
a lost answer puts the row back to ``pending`` (:func:`release`): sending it again is safe, the
provider's idempotency key makes the second request a replay. A lease that expired (a worker died
mid-call) is taken over the same way. ``awaiting`` rows — the provider took the refund and its
outcome is to come — are settled by an event (Adyen's REFUND notification) or by asking again
once ``due_at`` passes (:func:`due_polls`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from connectors.payments.contract import RefundOutcome
from domain.core import audit
from domain.core.business_config import BusinessConfig
from domain.core.models import Order, OrderPayment, RefundDecision, RefundExecution, Store
from domain.core.stages import FollowUp, Stage
from domain.policy.rules import BACKORDER_RULE

ACTOR = "payments"
PAYS = ("approve", "credit")
#: How long one run may hold a row before another may take it over (a provider call times out sooner).
LEASE = timedelta(seconds=120)
#: Runs of one row that failed (or died) before the sweeper stops sending it; it then needs a person.
MAX_ATTEMPTS = 8


def idempotency_key(decision_id: int) -> str:
    return f"refund-decision-{decision_id}"


@dataclass(frozen=True)
class Route:
    """Where a decision's money goes: a provider account, or the order's store."""

    route: str
    account: str
    provider: str
    payment_ref: str | None
    problem: str | None = None


def route_for(session: Session, config: BusinessConfig, decision: RefundDecision, order: Order) -> Route:
    """Store credit always at the store; a refund at the provider the order was paid through when an
    account names its store (and method), else through the store."""
    store = session.get(Store, order.store_id)
    assert store is not None, "an order's store row is never deleted (foreign key)"
    payment = session.get(OrderPayment, order.id)
    account = None if decision.settle_as == "store_credit" else \
        config.payments.account_for(store.key, payment.method if payment else None)
    if account is None:
        return Route("store", store.key, store.platform, order.external_id)
    reference = payment.reference if payment else None
    return Route("provider", account.key, account.provider, reference,
                 None if reference else f"order {order.number} has no payment reference for {account.provider}: "
                                        f"its store did not report one; refund it by hand")


def plan(session: Session, config: BusinessConfig, decision: RefundDecision, now: datetime) -> list[FollowUp]:
    """The decision's execution row (once: the decision id is unique) and the follow-up that pays it."""
    if decision.decision not in PAYS or decision.rule_name == BACKORDER_RULE or decision.amount_approved_cents <= 0 \
            or decision.order_id is None:
        return []
    order = session.get(Order, decision.order_id)
    if order is None:
        return []
    where = route_for(session, config, decision, order)
    row_id = session.execute(insert(RefundExecution).values(
        decision_id=decision.id, order_id=order.id, route=where.route, account=where.account, provider=where.provider,
        kind=decision.settle_as or "refund", payment_ref=where.payment_ref, amount_cents=decision.amount_approved_cents,
        currency=decision.currency, idempotency_key=idempotency_key(decision.id),
        state="failed" if where.problem else "pending", last_error=where.problem, due_at=None if where.problem else now,
    ).on_conflict_do_nothing(index_elements=["decision_id"]).returning(RefundExecution.id)).scalar()
    if row_id is None:
        return []
    audit.record(session, ACTOR, "refund.planned", "refund_execution", row_id, decision_id=decision.id,
                 route=where.route, account=where.account, provider=where.provider, amount_cents=decision.amount_approved_cents,
                 currency=decision.currency, rule=decision.rule_name, problem=where.problem)
    return [] if where.problem else [FollowUp(Stage.PAY_REFUND, (row_id,))]


def plan_missing(session: Session, config: BusinessConfig, now: datetime, limit: int = 500) -> list[FollowUp]:
    """Decisions that pay and have no execution yet (decided by a path that planned nothing)."""
    decisions = session.scalars(select(RefundDecision).outerjoin(
        RefundExecution, RefundExecution.decision_id == RefundDecision.id).where(
        RefundExecution.id.is_(None), RefundDecision.decision.in_(PAYS), RefundDecision.rule_name != BACKORDER_RULE,
        RefundDecision.amount_approved_cents > 0).order_by(RefundDecision.id).limit(limit))
    return [follow_up for decision in list(decisions) for follow_up in plan(session, config, decision, now)]


CLAIM_SQL = text("""
UPDATE refund_executions e SET state = 'sending', claimed_at = :now, lease_until = :until, attempts = e.attempts + 1,
       due_at = NULL, updated_at = :now
 WHERE e.id = (SELECT id FROM refund_executions
                WHERE id = :id AND attempts < :max_attempts
                  AND (state = 'pending' OR (state = 'sending' AND lease_until < :now))
                  FOR UPDATE SKIP LOCKED)
RETURNING e.id
""")


def claim(session: Session, execution_id: int, now: datetime) -> RefundExecution | None:
    """Lease the row to send it, or None: another run holds it, or it is not to be sent (any more)."""
    claimed = session.execute(CLAIM_SQL, {"id": execution_id, "now": now, "until": now + LEASE,
                                          "max_attempts": MAX_ATTEMPTS}).scalar()
    return session.get(RefundExecution, claimed, populate_existing=True) if claimed is not None else None


def _held_by_me(session: Session, execution_id: int, claimed_at: datetime) -> RefundExecution | None:
    row = session.get(RefundExecution, execution_id, with_for_update=True, populate_existing=True)
    return row if row is not None and row.state == "sending" and row.claimed_at == claimed_at else None


def finish(session: Session, execution_id: int, claimed_at: datetime, outcome: RefundOutcome, now: datetime,
           poll_after: timedelta) -> RefundExecution | None:
    """Record the provider's answer on the row this run claimed; returns it when this settled it
    (succeeded or failed: the customer notice is due), else None."""
    row = session.get(RefundExecution, execution_id, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    if row.provider_ref is None:
        row.provider_ref = outcome.provider_ref
    row.sent_at = row.sent_at or now
    audit.record(session, ACTOR, "refund.replayed" if outcome.replayed else "refund.sent", "refund_execution",
                 execution_id, provider=outcome.provider, provider_ref=outcome.provider_ref, state=outcome.state,
                 amount_cents=outcome.amount_cents, currency=outcome.currency, detail=outcome.detail[:500])
    if row.state != "sending" or row.claimed_at != claimed_at:
        return None  # an event settled it meanwhile, or another run took over: its record stands
    row.lease_until, row.last_error, row.detail = None, None, outcome.detail[:2000]
    if outcome.state == "pending":
        row.state, row.due_at = "awaiting", now + poll_after
        return None
    return settle(session, row, outcome.state == "succeeded", outcome.detail, now)


def settle(session: Session, row: RefundExecution, ok: bool, detail: str, now: datetime) -> RefundExecution:
    row.state, row.settled_at, row.due_at = ("succeeded" if ok else "failed"), now, None
    row.lease_until = None
    if not ok:
        row.last_error = detail[:2000] or "the provider reported the refund failed"
    audit.record(session, ACTOR, f"refund.{row.state}", "refund_execution", row.id, provider_ref=row.provider_ref,
                 amount_cents=row.amount_cents, currency=row.currency, detail=detail[:500])
    return row


def release(session: Session, execution_id: int, claimed_at: datetime, error: str, now: datetime,
            retry_in: timedelta = timedelta(seconds=30)) -> None:
    """The send failed but may be tried again (with the same key): back to ``pending``, due later."""
    row = _held_by_me(session, execution_id, claimed_at)
    if row is not None:
        row.state, row.lease_until, row.due_at, row.last_error = "pending", None, now + retry_in, error[:2000]
        audit.record(session, ACTOR, "refund.retry", "refund_execution", execution_id, error=error[:500],
                     attempt=row.attempts)


def fail(session: Session, execution_id: int, claimed_at: datetime, error: str, now: datetime) -> RefundExecution | None:
    """The provider refused for good: ``failed`` with its message, for a person to look at."""
    row = _held_by_me(session, execution_id, claimed_at)
    return settle(session, row, False, error, now) if row is not None else None


def hold(session: Session, execution_id: int, claimed_at: datetime, now: datetime) -> None:
    """Its store is read-only: ``held`` until the store is switched on (:func:`unheld`)."""
    row = _held_by_me(session, execution_id, claimed_at)
    if row is not None:
        row.state, row.lease_until, row.attempts = "held", None, 0


def apply_outcome(session: Session, outcome: RefundOutcome, now: datetime, reference: str | None = None
                  ) -> RefundExecution | None:
    """A provider's word on a refund (an event, or an answer to asking again): settle the row it
    names, by the provider's refund id or by our idempotency key (Adyen's ``merchantReference``).
    Returns the row when this settled it; a pending word, or a settled row, changes nothing."""
    # Two exact lookups, each on its own index ((provider, provider_ref); the unique key), not one
    # OR that a plan may answer by reading every execution of the provider.
    row = session.scalar(select(RefundExecution).where(
        RefundExecution.provider == outcome.provider, RefundExecution.provider_ref == outcome.provider_ref)
        .with_for_update().execution_options(populate_existing=True))
    if row is None and reference:
        row = session.scalar(select(RefundExecution).where(RefundExecution.idempotency_key == reference)
                             .with_for_update().execution_options(populate_existing=True))
        row = row if row is not None and row.provider == outcome.provider else None
    if row is None or outcome.state == "pending" or row.state in ("succeeded", "failed"):
        return None
    row.provider_ref = row.provider_ref or outcome.provider_ref
    return settle(session, row, outcome.state == "succeeded", outcome.detail, now)


def stranded(session: Session, now: datetime, sweep_after: timedelta, limit: int = 500) -> list[int]:
    """Rows to send whose message was lost (pending and due for ``sweep_after``), or whose run died
    holding the lease."""
    return list(session.scalars(select(RefundExecution.id).where(RefundExecution.attempts < MAX_ATTEMPTS, or_(
        and_(RefundExecution.state == "pending", RefundExecution.due_at <= now - sweep_after),
        and_(RefundExecution.state == "sending", RefundExecution.lease_until < now))).order_by(RefundExecution.id)
        .limit(limit)))


def due_polls(session: Session, now: datetime, poll_after: timedelta, limit: int = 200) -> list[RefundExecution]:
    """``awaiting`` rows whose time to ask again has come, each pushed ``poll_after`` further (a
    lease: a second sweeper skips them)."""
    rows = list(session.scalars(select(RefundExecution).where(
        RefundExecution.state == "awaiting", RefundExecution.due_at <= now, RefundExecution.provider_ref.is_not(None))
        .order_by(RefundExecution.due_at).limit(limit).with_for_update(skip_locked=True)))
    for row in rows:
        row.due_at = now + poll_after
    return rows


def unheld(session: Session, now: datetime) -> list[FollowUp]:
    """Held rows whose store is no longer read-only: pending again, and sent."""
    ids = list(session.scalars(update(RefundExecution).where(
        RefundExecution.state == "held", RefundExecution.route == "store",
        RefundExecution.account.in_(select(Store.key).where(Store.read_only.is_(False))))
        .values(state="pending", due_at=now).returning(RefundExecution.id)))
    return [FollowUp(Stage.PAY_REFUND, (one,)) for one in ids]


def retry(session: Session, execution_id: int, now: datetime) -> list[FollowUp]:
    """A person asks again for a failed (or held) payment — after fixing a missing variable, say:
    ``pending`` with its attempts reset, sent under the same key (a provider that kept a refusal
    under it answers that refusal again)."""
    row = session.get(RefundExecution, execution_id, with_for_update=True)
    if row is None or row.state not in ("failed", "held"):
        return []
    audit.record(session, ACTOR, "refund.retry_asked", "refund_execution", row.id, was=row.state,
                 last_error=(row.last_error or "")[:500])
    row.state, row.attempts, row.due_at, row.settled_at = "pending", 0, now, None
    return [FollowUp(Stage.PAY_REFUND, (row.id,))]
