"""Score an order, store the score with every signal's contribution, and open a review case.

The ``fraud_score`` stage (``tasks.fraud.score``) runs this after orders are stored — a follow-up
of the poll or the inbox drain, never inside the ingest transaction — and the fraud sweeper sends
it again for any recent order the message missed. One ``fraud_scores`` row per order: an order
seen again (a redelivered webhook, the next poll) is scored again only when what the signals read
from it changed (``INPUTS_DIGEST``), and concurrent scorers of one order take turns (an advisory
lock on the order), so neither a second row nor a second case can appear.

A score at or above ``review_at`` opens a ``fraud_hold`` case (one per order: ``domain.cases``
routes it, by default to the review queue) carrying the fired signals' texts with their figures
as its reasons; ``hold_at`` opens it urgent; ``decline_at`` — only when the store set it — marks
the verdict a decline and says so in the case. A re-score of an order with a case adds a note with
the new score and reasons; it never opens a second case, never resolves one (people do), and a
score that drops below ``review_at`` is a note, not a release.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from domain.cases import lifecycle
from domain.core import audit
from domain.core.business_config import BusinessConfig, ConfigError, current_config
from domain.core.clock import utcnow
from domain.core.models import Alert, Case, FraudScore, Order, OrderLine, OutboxMessage, Store
from domain.core.stages import FollowUp, Stage
from domain.fraud import inputs, signals
from domain.journey import segments

KIND = "fraud_hold"
ACTOR = "fraud"
#: A new order the sweeper finds unscored this long after it was stored lost its message.
SWEEP_AFTER = timedelta(seconds=60)
SWEEP_LIMIT = 500

#: What the signals read from the order itself, as one hash computed by PostgreSQL, so the sweeper
#: finds changed orders in one statement. Counts over other orders are not in it: an order is
#: judged by its neighbours as they were when it was scored (the windows end at its ``placed_at``).
_DIGESTED = (func.lower(Order.email), Order.total_cents, Order.currency, func.extract("epoch", Order.placed_at),
             Order.customer_ip, Order.avs_result, Order.cvv_result, Order.card_fingerprint, Order.billing_country,
             Order.shipping_country, Order.billing_address, Order.shipping_address)
INPUTS_DIGEST = func.md5(func.concat_ws("|", *(func.coalesce(cast(c, Text), "-") for c in _DIGESTED)))


@dataclass(frozen=True)
class Scored:
    """The stored score; ``result`` is None when the order's inputs had not changed (nothing scored)."""

    row: FraudScore
    result: signals.Result | None
    case: Case | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)

    @property
    def rescored(self) -> bool:
        return self.result is not None


def enabled() -> bool:
    """Whether stored orders are scored on their own: the file has ``[fraud]``. A file that cannot be
    read scores nothing here (the worker's start-up check and ``backorders doctor`` name its
    problem), so ingest never fails for it."""
    try:
        return current_config().fraud.enabled
    except ConfigError:
        return False


def _lock(session: Session, order_id: int) -> None:
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"fraud_scores:{order_id}"))))


def score_order(session: Session, order_id: int, config: BusinessConfig, *, now: datetime | None = None,
                again: bool = False, any_age: bool = False) -> Scored | None:
    """Score the order if it is new or its inputs changed (``again``: whatever they are); None when
    there is no such order, or it was placed before ``order_max_age`` (unless ``any_age``)."""
    now = now or utcnow()
    _lock(session, order_id)
    found = session.execute(select(Order, INPUTS_DIGEST).where(Order.id == order_id)).tuples().one_or_none()
    if found is None:
        return None
    order, digest = found
    if not any_age and order.placed_at < now - timedelta(seconds=config.fraud.order_max_age_s):
        return None
    row = session.scalar(select(FraudScore).where(FraudScore.order_id == order_id))
    if row is not None and row.inputs_digest == digest and not again:
        return Scored(row, None, session.get(Case, row.case_id) if row.case_id else None)
    result = signals.evaluate(inputs.gather(session, order, config.fraud), config.fraud)
    previous = None if row is None else (row.score, row.verdict)
    values = {"score": result.score, "verdict": result.verdict, "signals": [s.as_dict() for s in result.signals],
              "thresholds": config.fraud.thresholds(), "inputs_digest": digest, "scored_at": now}
    if row is None:
        row = FraudScore(order_id=order.id, times_scored=1, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.times_scored += 1
    session.flush()
    audit.record(session, ACTOR, "scored", "order", order.id, score=result.score, verdict=result.verdict,
                 reasons=result.reasons(), previous_score=previous[0] if previous else None,
                 thresholds=config.fraud.thresholds(), times_scored=row.times_scored)
    case, outbox_ids = _case(session, order, result, previous, config, now)
    if case is not None:
        row.case_id = case.id
    return Scored(row, result, case, [FollowUp(Stage.DELIVER, (one,)) for one in outbox_ids])


def _summary(order: Order, result: signals.Result, config: BusinessConfig) -> str:
    fired = "; ".join(s.text for s in result.signals if s.state == "fired")
    return (f"order {order.number}: fraud score {result.score} ({result.verdict}, review at "
            f"{config.fraud.review_at}): {fired}")[:1000]


def _case(session: Session, order: Order, result: signals.Result, previous: tuple[int, str] | None,
          config: BusinessConfig, now: datetime) -> tuple[Case | None, list[int]]:
    """Open the order's ``fraud_hold`` case when the verdict asks for one, or note a re-score on it."""
    detail: dict[str, Any] = {"score": result.score, "verdict": result.verdict, "reasons": result.reasons(),
                              "thresholds": config.fraud.thresholds()}
    existing = session.scalar(select(Case).where(Case.kind == KIND, Case.subject_type == "order",
                                                 Case.subject_id == order.id))
    if existing is not None:
        before = f"{previous[0]} ({previous[1]})" if previous else "unscored"
        lifecycle.record(session, existing, ACTOR, "note", now=now, **detail,
                         note=f"re-scored: {before} → {result.score} ({result.verdict})")
        return existing, []
    if result.verdict == "pass" or order.status == "cancelled":
        return None, []
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
    tier = None
    if config.segments:
        prior, lifetime = segments.history(session, order)
        tier = segments.classify(config.segments, prior, lifetime, 0).key
    urgent = result.verdict in ("hold", "decline")
    case = lifecycle.open_case(session, lifecycle.NewCase(
        kind=KIND, subject_type="order", subject_id=order.id, summary=_summary(order, result, config),
        order_id=order.id, order_line_ids=tuple(ln.id for ln in lines), store_id=order.store_id,
        sku_ids=tuple(dict.fromkeys(ln.sku_id for ln in lines if ln.sku_id is not None)), tier=tier,
        detail=detail, priority="urgent" if urgent else None), config, actor=ACTOR, now=now)
    if result.verdict == "decline":
        store = session.scalar(select(Store.key).where(Store.id == order.store_id)) or "its store"
        lifecycle.record(session, case, ACTOR, "note", now=now, decision="decline",
                         note=f"declined by the store's rule: score {result.score} ≥ decline_at "
                              f"{config.fraud.decline_at}; cancel order {order.number} on {store} and refund it")
    return case, _alert_messages(session, case.id)


def _alert_messages(session: Session, case_id: int) -> list[int]:
    """The ``case.opened`` alert's messages still to send, so they go out with this commit."""
    alert_id = session.scalar(select(Alert.id).where(Alert.dedupe_key == f"case:{case_id}:opened"))
    if alert_id is None:
        return []
    return list(session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.idempotency_key.like(f"alert:{alert_id}:%"), OutboxMessage.state == "pending")
        .order_by(OutboxMessage.id)))


def unscored(session: Session, config: BusinessConfig, now: datetime | None = None,
             limit: int = SWEEP_LIMIT) -> list[int]:
    """Recent orders with no score, or whose inputs changed since theirs: the sweeper sends them
    to the ``fraud_score`` stage. A new order gets ``SWEEP_AFTER`` for its own message first."""
    if not config.fraud.enabled:
        return []
    now = now or utcnow()
    query = (select(Order.id).outerjoin(FraudScore, FraudScore.order_id == Order.id)
             .where(Order.placed_at >= now - timedelta(seconds=config.fraud.order_max_age_s),
                    or_(FraudScore.id.is_(None) & (Order.created_at <= now - SWEEP_AFTER),
                        FraudScore.inputs_digest != INPUTS_DIGEST))
             .order_by(Order.id).limit(limit))
    return list(session.scalars(query))
