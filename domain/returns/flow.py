"""Each step of a return as one transaction on its locked row, returning the follow-ups it owes.

* :func:`request` — a staff request or a returns app's webhook becomes one return (unique per
  source and reference), checked for fraud and decided by the refund policy's rules (the return's
  reason is the request's reason; request id ``return-{id}``): approve or credit → ``approved``;
  review, or any fraud flag → ``review`` with a ``refund_request`` case; deny → ``rejected``.
* :func:`approve` — a person approves a return in review (a staff decision, with who).
* :func:`record_label` — the ShipStation return label bought for it (``flows.returns``).
* :func:`receive` — the receive scan with its QC outcome; an empty box goes back to review.
* :func:`settle` — received → settled at once: the refund planned as the decision's one execution,
  restocked units added to the stock truth at the receiving location (detection is owed, and a
  restock fills waiting backorders first), the customer's email with the satisfaction survey's
  score links (``domain.csat``, kind ``return``); a store's own return is closed there
  (``store_writes``).

Exactly once: every step checks the state on the row locked ``FOR UPDATE``; a step run again (a
retry, a redelivered message, the sweeper) finds the state moved and does nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core import effects
from domain.core.business_config import BusinessConfig
from domain.core.env_settings import JourneySettings
from domain.core.models import (
    Backorder, Location, Order, OrderLine, RefundDecision, RefundExecution, ReturnRequest, Sku, Store, StoreLocation,
)
from domain.core.stages import FollowUp, Stage
from domain.journey import customer_journey
from domain.messaging import alerts, outbox
from domain.payments import executions, refund_requests
from domain.policy import refunds as policy
from domain.policy.context import customer_key
from domain.csat import surveys as csat_surveys
from domain.returns import csat_source, fraud, machine, store_writes

ACTOR = "returns"
#: Decisions that let a return go on to its label and refund.
GOES_ON = ("approve", "credit")


class ReturnError(ValueError):
    """A request that cannot be taken as given (unknown order or SKU, more than was bought)."""


@dataclass
class Stepped:
    row: ReturnRequest | None
    created: bool = False
    follow_ups: list[FollowUp] = field(default_factory=list)
    restocked_sku_ids: list[int] = field(default_factory=list)


def _step(row: ReturnRequest) -> FollowUp:
    return FollowUp(Stage.RETURN_STEP, (row.id,))


def request_id(row: ReturnRequest) -> str:
    return f"return-{row.id}"


def order_lines(session: Session, order: Order, wanted: dict[str, int]) -> list[dict[str, Any]]:
    """``{sku: quantity}`` checked against what the order bought, with each line's price."""
    bought = session.execute(select(OrderLine, Sku).join(Sku, Sku.id == OrderLine.sku_id)
                             .where(OrderLine.order_id == order.id).order_by(OrderLine.id)).tuples().all()
    by_code: dict[str, list[tuple[OrderLine, Sku]]] = {}
    for line, sku in bought:
        by_code.setdefault(sku.code, []).append((line, sku))
    lines = []
    for code, quantity in wanted.items():
        if code not in by_code:
            raise ReturnError(f"order {order.number} has no line for SKU {code!r}")
        total = sum(line.quantity for line, _ in by_code[code])
        if quantity <= 0 or quantity > total:
            raise ReturnError(f"{code}: returning {quantity} but order {order.number} bought {total}")
        line, sku = by_code[code][0]
        lines.append({"sku": code, "sku_id": sku.id, "quantity": quantity, "order_line_id": line.id,
                      "price_cents": line.price_cents, "title": line.title or sku.title})
    return lines


def request(session: Session, config: BusinessConfig, order: Order, wanted: dict[str, int], reason: str,
            source: str, source_ref: str, actor: str, now: datetime) -> Stepped:
    """Record the return once per (source, reference), run the checks and the policy's rules."""
    if not config.returns.enabled:
        raise ReturnError("returns are switched off ([returns] enabled = false)")
    lines = order_lines(session, order, wanted)
    amount = sum(int(line["price_cents"]) * int(line["quantity"]) for line in lines)
    new_id = session.execute(insert(ReturnRequest).values(
        rma=f"pending:{source}:{source_ref}"[:64], source=source, source_ref=source_ref, order_id=order.id,
        customer=customer_key(order), lines=lines, reason=reason, amount_cents=amount, currency=order.currency,
        created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["source", "source_ref"]).returning(ReturnRequest.id)).scalar()
    if new_id is None:
        return Stepped(session.scalar(select(ReturnRequest).where(ReturnRequest.source == source,
                                                                  ReturnRequest.source_ref == source_ref)))
    row = machine.lock(session, new_id)
    assert row is not None
    row.rma = f"RMA-{row.id:06d}"
    machine.note(session, row, "requested", actor, now, source=source, source_ref=source_ref, lines=lines,
                 reason=reason, amount_cents=amount)
    flags = fraud.at_request(session, config.returns, row, order, now)
    # decided now, paid at settle time (after the goods are back): not refund_requests.handle
    decided = policy.decide(session, config, order, reason, amount, request_id(row), now).row
    row.decision_id, row.flags = decided.id, flags
    figures = {"decision": decided.decision, "rule": decided.rule_name, "amount_approved_cents":
               decided.amount_approved_cents, "settle_as": decided.settle_as, "flags": flags}
    follow_ups: list[FollowUp] = []
    if decided.decision == "deny":
        machine.move(session, row, "rejected", "policy", "refund policy", now, **figures)
    elif decided.decision in GOES_ON and not flags:
        machine.move(session, row, "approved", "policy", "refund policy", now, **figures)
        row.due_at = now
        follow_ups.append(_step(row))
    else:
        machine.move(session, row, "review", "policy" if not flags else "fraud_check", "refund policy", now,
                     **figures)
        if decided.decision == "review":
            _, alerts = refund_requests.review_case(session, config, decided, now)
            follow_ups += alerts
    return Stepped(row, True, follow_ups)


def approve(session: Session, config: BusinessConfig, rma: str, actor: str, now: datetime,
            note: str = "") -> Stepped:
    """A person approves a return in review; the refund it pays is then a staff decision."""
    row = machine.by_rma(session, rma, for_update=True)
    if row is None or row.state != "review":
        return Stepped(row)
    decision = session.get(RefundDecision, row.decision_id) if row.decision_id else None
    if decision is None or decision.decision not in GOES_ON:
        order = session.get(Order, row.order_id)
        assert order is not None
        decision = policy.record_staff_approval(session, order, f"{request_id(row)}-staff", row.reason,
                                                row.amount_cents, actor, {"rma": row.rma}, now).row
        row.decision_id = decision.id
    received = row.qc is not None
    machine.move(session, row, "approved", "staff_approval", actor, now, note=note, decision_id=decision.id)
    if received:  # approved after an empty-box review: straight to settling
        machine.move(session, row, "received", "staff_approval", actor, now, qc=row.qc)
    row.due_at = now
    # a store's own return still waiting for the merchant is told (``store_writes``)
    return Stepped(row, False, [_step(row), *store_writes.owe(session, config, row, now)])


def close(session: Session, rma: str, to_state: str, actor: str, now: datetime, note: str = "",
          config: BusinessConfig | None = None) -> Stepped:
    """A person rejects a return in review, or cancels an open one that was not received. Given
    ``config``, a store's own return is told (``store_writes``): a rejection declines it, a cancel
    cancels it there when it is open."""
    row = machine.by_rma(session, rma, for_update=True)
    if row is None or to_state not in machine.MOVES.get(row.state, ()) or to_state not in ("rejected", "cancelled"):
        return Stepped(row)
    machine.move(session, row, to_state, {"rejected": "staff_reject", "cancelled": "staff_cancel"}[to_state], actor,
                 now, note=note)
    row.due_at = None
    return Stepped(row, False, store_writes.owe(session, config, row, now, note) if config is not None else [])


def record_label(session: Session, return_id: int, account: str, label_ref: str, carrier: str, tracking: str | None,
                 url: str | None, now: datetime) -> Stepped:
    """The return label bought for an approved return. A return received meanwhile (the customer
    used their own carrier) keeps the label on record without moving."""
    row = machine.lock(session, return_id)
    if row is None or row.label_ref is not None:
        return Stepped(row)
    row.label_account, row.label_ref, row.label_carrier = account, label_ref, carrier
    row.tracking_number, row.label_url = tracking, url
    if row.state != "approved":
        machine.note(session, row, "label", f"shipstation:{account}", now, label_id=label_ref,
                     tracking_number=tracking, late=True)
        return Stepped(row)
    machine.move(session, row, "label_created", "label", f"shipstation:{account}", now, label_id=label_ref,
                 carrier=carrier, tracking_number=tracking)
    row.due_at = now
    return Stepped(row)


def delivered(session: Session, return_id: int, detail: str, now: datetime) -> Stepped:
    """The label's tracking shows the parcel delivered to us: awaiting the receive scan's QC."""
    row = machine.lock(session, return_id)
    if row is None or row.state != "label_created":
        return Stepped(row)
    machine.move(session, row, "delivered", "tracking", f"shipstation:{row.label_account}", now, scan=detail[:200])
    row.due_at = None
    return Stepped(row)


def receive(session: Session, config: BusinessConfig, rma: str, qc: str, weight_g: int | None, actor: str,
            now: datetime) -> Stepped:
    """The receive scan: QC outcome recorded; an empty box goes to review, anything else settles."""
    row = machine.by_rma(session, rma, for_update=True)
    if row is None or row.state not in ("approved", "label_created", "delivered"):
        return Stepped(row)
    row.qc, row.received_weight_g = qc, weight_g
    machine.move(session, row, "received", "receive_scan", actor, now, qc=qc, weight_g=weight_g)
    flags = fraud.at_receipt(config.returns, qc, weight_g, config.returns.expected_grams(list(row.lines or [])))
    if flags:
        row.flags = [*row.flags, *flags]
        machine.move(session, row, "review", "fraud_check", ACTOR, now, flags=flags)
        row.due_at = None
        return Stepped(row)
    row.due_at = now
    return Stepped(row, False, [_step(row)])


RESTOCK_SQL = text("""
WITH current AS (
    SELECT on_hand, available FROM stock_levels WHERE sku_id = :sku_id AND location_id = :location_id
     ORDER BY COALESCE(source_updated_at, updated_at) DESC, updated_at DESC LIMIT 1
), upserted AS (
    INSERT INTO stock_levels AS sl (sku_id, location_id, store_id, on_hand, available, committed,
                                    source_updated_at, updated_at)
    SELECT :sku_id, :location_id, :store_id, GREATEST(COALESCE((SELECT on_hand FROM current), 0), 0) + :quantity,
           GREATEST(COALESCE((SELECT available FROM current), 0), 0) + :quantity, 0, :now, :now
    ON CONFLICT (sku_id, location_id, store_id) DO UPDATE
       SET on_hand = excluded.on_hand, available = excluded.available,
           source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at
    RETURNING sl.on_hand, sl.available
)
INSERT INTO stock_history (sku_id, location_id, store_id, on_hand, available, source_updated_at, recorded_at)
SELECT :sku_id, :location_id, :store_id, on_hand, available, :now, :now FROM upserted
RETURNING on_hand
""")


def receiving_point(session: Session, config: BusinessConfig) -> tuple[Location, Store]:
    """Where returned units count: ``[returns] location`` (else the first), under a store that stocks it."""
    query = select(Location).order_by(Location.id).limit(1)
    if config.returns.location:
        query = select(Location).where(Location.key == config.returns.location)
    location = session.scalar(query)
    if location is None:
        raise ReturnError("no location to receive returns into (run `backorders config apply`)")
    stocking = select(StoreLocation.store_id).where(StoreLocation.location_id == location.id)
    store = session.scalar(select(Store).where(Store.id.in_(stocking)).order_by(Store.id).limit(1)) \
        or session.scalar(select(Store).order_by(Store.id).limit(1))
    if store is None:
        raise ReturnError("no store to record returned stock under")
    return location, store


def _restock(session: Session, config: BusinessConfig, row: ReturnRequest, now: datetime) -> list[dict[str, Any]]:
    location, store = receiving_point(session, config)
    booked = []
    for line in sorted(row.lines, key=lambda one: int(one["sku_id"])):
        on_hand = session.execute(RESTOCK_SQL, {"sku_id": int(line["sku_id"]), "location_id": location.id,
                                                "store_id": store.id, "quantity": int(line["quantity"]),
                                                "now": now}).scalar_one()
        booked.append({"sku": line["sku"], "sku_id": int(line["sku_id"]), "quantity": int(line["quantity"]),
                       "on_hand_after": on_hand, "location": location.key})
    row.location_id = location.id
    row.restocked_qty = sum(item["quantity"] for item in booked)
    # detection (and through it the fill of waiting backorders, before anyone else) is owed now
    effects.record(session, effects.EVALUATE, [item["sku_id"] for item in booked], now)
    return booked


def settle(session: Session, config: BusinessConfig, return_id: int, now: datetime, *, secret: str,
           base_url: str, journey: JourneySettings | None = None) -> Stepped:
    """received → settled: refund planned once, disposition posted once, the customer told once.

    Restocked units fill waiting backorders in this same transaction (``customer_journey.fill``,
    oldest order first, under the SKU's lock), so no order placed after the commit can take them
    first; detection is owed as well (pushes, alerts)."""
    row = machine.lock(session, return_id)
    if row is None or row.state != "received":
        return Stepped(row)
    decision = session.get(RefundDecision, row.decision_id) if row.decision_id else None
    order = session.get(Order, row.order_id)
    assert order is not None
    follow_ups: list[FollowUp] = []
    paid: dict[str, Any] = {"decision": None}
    if decision is not None and decision.decision in GOES_ON:
        follow_ups += executions.plan(session, config, decision, now)
        execution = session.scalar(select(RefundExecution.id).where(
            RefundExecution.decision_id == decision.id))
        row.execution_id = execution
        paid = {"decision": decision.decision, "amount_cents": decision.amount_approved_cents,
                "settle_as": decision.settle_as, "rule": decision.rule_name, "execution_id": execution}
    booked = _restock(session, config, row, now) if row.qc == "restock" else []
    filled_before: set[int] = set()
    if booked and journey is not None:
        for sku_id in sorted({item["sku_id"] for item in booked}):
            filled_before |= _filled_ids(session, sku_id)
            follow_ups += customer_journey.fill(session, sku_id, journey, now)
    filled = sorted(set().union(*(_filled_ids(session, i["sku_id"]) for i in booked)) - filled_before) \
        if booked else []
    disposition = {"qc": row.qc, "restocked": booked, "filled_backorders": filled,
                   "not_restocked": [] if booked else [{"sku": line["sku"], "quantity": line["quantity"],
                                                        "as": row.qc} for line in row.lines]}
    survey = csat_surveys.open_for(session, csat_source.resolved(session, row, order, now), config, now) \
        if csat_source.KIND in config.csat.kinds else None
    survey_url = csat_surveys.link(base_url, secret, survey) if survey is not None else None
    if order.email:
        row.notice_outbox_id = outbox.enqueue(
            session, idempotency_key=f"return-settled:{row.id}", channel="email", template="return_settled",
            recipient=order.email, context={
                "customer_name": order.customer_name, "order_number": order.number, "rma": row.rma,
                "lines": [{"sku": line["sku"], "title": line.get("title", ""), "quantity": line["quantity"]}
                          for line in row.lines],
                "qc": row.qc, "amount_cents": paid.get("amount_cents", 0), "currency": row.currency,
                "settle_as": paid.get("settle_as"), "survey_url": survey_url,
                "score_urls": csat_surveys.score_urls(survey_url) if survey_url else {}})
        if survey is not None and survey.recipient is not None:
            survey.outbox_id = row.notice_outbox_id  # this email asked: the sweep asks no more
        if row.notice_outbox_id is not None:
            follow_ups.append(FollowUp(Stage.DELIVER, (row.notice_outbox_id,)))
    machine.move(session, row, "settled", "settle", ACTOR, now, refund=paid, disposition=disposition,
                 notice_outbox_id=row.notice_outbox_id)
    row.due_at = None
    follow_ups += store_writes.owe(session, config, row, now)  # a store's own return is closed there
    return Stepped(row, False, follow_ups, [item["sku_id"] for item in booked])


def _filled_ids(session: Session, sku_id: int) -> set[int]:
    return set(session.scalars(select(Backorder.id).where(Backorder.sku_id == sku_id, Backorder.state == "filled")))


def due(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Returns whose step is due (a lost message, a label to track), each pushed on (a lease)."""
    rows = list(session.scalars(select(ReturnRequest).where(
        ReturnRequest.due_at <= now, ReturnRequest.state.in_(("approved", "label_created", "received")))
        .order_by(ReturnRequest.due_at).limit(limit).with_for_update(skip_locked=True)))
    for row in rows:
        row.due_at = now + timedelta(minutes=5)
    return [row.id for row in rows]


def stuck(session: Session, config: BusinessConfig, now: datetime) -> list[ReturnRequest]:
    """Open returns whose last move is older than ``[returns] stuck_after``."""
    since = now - timedelta(seconds=config.returns.stuck_after_s)
    return list(session.scalars(select(ReturnRequest).where(
        ReturnRequest.state.in_(machine.OPEN), ReturnRequest.updated_at < since).order_by(ReturnRequest.id)))


STUCK_EVENT = "return.stuck"


def stuck_alerts(session: Session, config: BusinessConfig, now: datetime) -> list[FollowUp]:
    """One ``return.stuck`` staff alert per return and state it has stayed in past ``stuck_after``
    (a second sweep raises nothing more); the messages to deliver."""
    follow_ups: list[FollowUp] = []
    for row in stuck(session, config, now):
        days = (now - row.updated_at).total_seconds() / 86400
        outbox_ids = alerts.raise_ops_alert(
            session, STUCK_EVENT, f"return:{row.id}:stuck:{row.state}", config.notifications.routes,
            detail=f"{row.rma} has been {row.state} for {days:.1f} days (stuck after "
                   f"{config.returns.stuck_after_s / 86400:g}); see `backorders returns show {row.rma}`",
            title=row.rma, from_state=row.state)
        follow_ups += [FollowUp(Stage.DELIVER, (one,)) for one in outbox_ids]
    return follow_ups
