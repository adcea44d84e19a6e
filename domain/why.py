"""Answers to "why": one SKU's, order's, backorder's, purchase order's, dispute's or ticket's history, in time order.

Everything here is read back from rows the product already keeps for this purpose — state
transitions with their numbers (``sku_transitions``), alerts with the figures and the rule they
fired on, the audit log (pushes, backorder moves with their cause, refunds, substitutes, PO
approvals, fraud scores with every signal), durable timers (when each was due and whether it fired), the outbox (every notice,
its channel, recipient and fate), customer texts (``inbound_sms``), purchase-order lines with the
``reason`` that sized them and purchase-order events. Nothing is recomputed: the trail shows
what was decided and the figures it was decided on, so it can be checked by hand.

``backorders why …`` prints it (``workers.cli_why``); ``--json`` prints ``Trail.as_dict()``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from domain.cases import views as case_views
from domain.chargebacks import trail as dispute_trail
from domain.chargebacks import views as dispute_views
from domain.fraud import views as fraud_views
from domain.core.clock import utcnow
from domain.core.models import (
    Alert,
    AuditLog,
    Backorder,
    DisconnectedLevel,
    InboundSms,
    Location,
    Order,
    OrderLine,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    RefundDecision,
    RefundExecution,
    Sku,
    SkuTransition,
    StockHistory,
    Store,
    SubstituteOrder,
    Timer,
    Vendor,
)
from domain.messaging import localtime, outbox_reasons
from domain.payments import store_refunds
from domain.purchasing import purchase_orders
from domain.purchasing.reorder import explain as explain_line
from domain.shipping import views as shipping_views
from domain.support import views as ticket_views

#: Stock readings shown for a SKU (the newest ones): a busy SKU has thousands.
STOCK_READINGS = 30
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class NotFound(LookupError):
    """No SKU, order, backorder or purchase order by that reference."""


@dataclass(frozen=True)
class Event:
    """One thing that happened: when, what kind, one line for people, and the stored figures."""

    at: datetime | None
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "kind": self.kind, "text": self.text,
                "data": self.data}


@dataclass
class Trail:
    """A subject (``order #1001``), its current facts, and its events oldest first."""

    subject: str
    facts: dict[str, Any]
    events: list[Event] = field(default_factory=list)

    def add(self, at: datetime | None, kind: str, text: str, /, **data: Any) -> None:
        self.events.append(Event(at, kind, text, _plain(data)))

    def sorted(self) -> Trail:
        """Oldest first. A fired timer goes before what its handler wrote: its ``fired_at`` is the
        firing transaction's start (``domain.core.timers.fire``), the time those rows carry, and at
        equal times a fired timer leads."""
        order = {id(e): n for n, e in enumerate(self.events)}
        self.events.sort(key=lambda e: (e.at or _EARLIEST, 0 if e.kind == "timer.fired" else 1, order[id(e)]))
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "facts": _plain(self.facts), "events": [e.as_dict() for e in self.events]}


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes and dates as ISO text, nested containers walked."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value if isinstance(value, datetime) else None


def _money(cents: int | None, currency: str = "") -> str:
    return f"{(cents or 0) / 100:,.2f}{' ' + currency if currency else ''}"


# --- pieces shared by several subjects ----------------------------------------------------------


def _audit(session: Session, subject_type: str, subject_ids: list[Any]) -> list[AuditLog]:
    if not subject_ids:
        return []
    return list(session.scalars(select(AuditLog).where(
        AuditLog.subject_type == subject_type, AuditLog.subject_id.in_([str(i) for i in subject_ids]))
        .order_by(AuditLog.at, AuditLog.id)))


def _messages(session: Session, trail: Trail, key_prefixes: list[str], now: datetime, zone: ZoneInfo | None,
              what: str = "notice") -> None:
    """Each outbox row whose idempotency key starts with one of ``key_prefixes``: to whom, by which
    channel, and what became of it (sent, held for quiet hours, failed…), with its audit rows."""
    if not key_prefixes:
        return
    rows = list(session.scalars(select(OutboxMessage).where(
        or_(*[OutboxMessage.idempotency_key.startswith(p, autoescape=True) for p in key_prefixes]))
        .order_by(OutboxMessage.id)))
    for row in rows:
        reason = outbox_reasons.explain(row, now, zone)
        label = "" if what == "notice" else f"{what}: "
        trail.add(row.created_at, what, f"{label}{row.template} by {row.channel} to {row.recipient}: {reason.text}",
                  outbox_id=row.id, channel=row.channel, recipient=row.recipient, template=row.template,
                  state=row.state, reason=reason.code, not_before=row.not_before, sent_at=row.sent_at,
                  provider=row.provider, provider_message_id=row.provider_message_id, attempts=row.attempts,
                  error=row.last_error)
        if row.sent_at is not None:
            trail.add(row.sent_at, f"{what}.sent", f"{row.template} by {row.channel} to {row.recipient} sent via "
                      f"{row.provider or '?'} ({row.provider_message_id or 'no id'})", outbox_id=row.id)
    for entry in _audit(session, "outbox", [r.id for r in rows]):
        if entry.action == "outbox.sent":
            continue  # the row's own sent_at says it
        detail = ", ".join(f"{k} {v}" for k, v in entry.data.items() if v not in (None, ""))
        trail.add(entry.at, entry.action, f"message #{entry.subject_id} {entry.action.split('.', 1)[1]}"
                  + (f": {detail}" if detail else ""), outbox_id=int(entry.subject_id), **entry.data)


def _alerts(session: Session, trail: Trail, alerts: list[Alert], now: datetime) -> None:
    """Alerts with the figures and the rule behind them, and the staff messages each one sent."""
    for alert in alerts:
        data = alert.data or {}
        figures = ", ".join(f"{k} {data[k]}" for k in ("available", "threshold", "on_hand", "open_demand",
                                                       "orders_total", "quantity", "reason") if k in data)
        rule = data.get("rule")
        trail.add(alert.created_at, "alert", f"alert {alert.kind} ({alert.severity}): {alert.message}"
                  + (f" [{figures}]" if figures else "") + (f"; rule: {rule}" if rule else ""),
                  alert_id=alert.id, alert=alert.kind, severity=alert.severity, dedupe_key=alert.dedupe_key,
                  figures=data, acknowledged_at=alert.acknowledged_at)
    _messages(session, trail, [f"alert:{a.id}:" for a in alerts], now, None, what="staff message")


def _timers(session: Session, trail: Trail, subject_type: str, subject_id: int, now: datetime) -> None:
    subject = {"backorder_id": subject_id} if subject_type == "backorder" else {}
    for timer in session.scalars(select(Timer).where(Timer.subject_type == subject_type,
                                                     Timer.subject_id == subject_id).order_by(Timer.id)):
        cancelled = " (later cancelled)" if timer.state == "cancelled" else ""
        trail.add(timer.created_at, "timer", f"{timer.kind} timer set, due {timer.due_at.isoformat()}{cancelled}",
                  timer_id=timer.id, timer=timer.kind, due_at=timer.due_at, state=timer.state)
        if timer.state == "fired":
            trail.add(timer.fired_at or timer.due_at, "timer.fired",
                      f"{timer.kind} timer fired (was due {timer.due_at.isoformat()})", timer_id=timer.id,
                      timer=timer.kind, due_at=timer.due_at, fired_at=timer.fired_at, **subject)
        elif timer.state == "pending":
            late = " — overdue" if timer.due_at <= now else ""
            trail.add(timer.due_at, "timer.due", f"{timer.kind} timer due (pending{late})", timer_id=timer.id,
                      timer=timer.kind, due_at=timer.due_at)


# --- backorders ---------------------------------------------------------------------------------

_BACKORDER_ACTIONS = {
    "backorder.refund": "refund", "backorder.credit": "store credit",
}


def _backorder_entry(entry: AuditLog, currency: str, rule: str = "") -> tuple[str, str]:
    """(kind, line) for one audit row of a backorder; ``rule`` says how a refund's amount was reached."""
    data = entry.data
    if entry.action == "backorder.transition":
        extras = ", ".join(f"{k} {v}" for k, v in data.items()
                           if k not in ("from_state", "to_state", "cause") and v not in (None, ""))
        return "transition", (f"{data.get('from_state')} → {data.get('to_state')} ({data.get('cause')}, by "
                              f"{entry.actor})" + (f": {extras}" if extras else ""))
    if entry.action in _BACKORDER_ACTIONS:
        what = _BACKORDER_ACTIONS[entry.action]
        return entry.action.split(".", 1)[1], (
            f"{what} of {_money(data.get('amount_cents'), currency)} issued on the store as "
            f"{data.get('external_id')} (HTTP {data.get('status_code')}{'' if data.get('ok', True) else ', refused'})"
            + (f"; {rule}" if rule else ""))
    detail = ", ".join(f"{k} {v}" for k, v in data.items() if v not in (None, "", [], {}))
    return entry.action, f"{entry.action}" + (f": {detail}" if detail else "")


def _backorder_events(session: Session, trail: Trail, backorder: Backorder, order: Order, line: OrderLine,
                      sku: Sku, now: datetime) -> None:
    label = f"backorder {backorder.id}"
    trail.add(backorder.created_at, "backorder", f"{label}: {backorder.quantity} × {sku.code} backordered "
              f"(ordered {line.quantity}, {line.allocated_qty} allocated from stock)", backorder_id=backorder.id,
              sku=sku.code, quantity=backorder.quantity, ordered=line.quantity, allocated=line.allocated_qty)
    bonus = backorder.credit_bonus_cents if backorder.resolution == "store_credit" else 0
    rule = (f"line price {_money(line.price_cents)} × {backorder.quantity} backordered"
            + (f" + credit bonus {_money(bonus)}" if bonus else "")
            + f" = {_money(line.price_cents * backorder.quantity + bonus, order.currency)}")
    for entry in _audit(session, "backorder", [backorder.id]):
        kind, text = _backorder_entry(entry, order.currency, rule)
        trail.add(entry.at, kind, f"{label}: {text}", backorder_id=backorder.id, action=entry.action,
                  actor=entry.actor, **entry.data)
    _timers(session, trail, "backorder", backorder.id, now)
    zone = localtime.customer_zone(order.customer_timezone, None) if order.customer_timezone else None
    _messages(session, trail, [f"backorder:{backorder.id}:"], now, zone)
    for sms in session.scalars(select(InboundSms).where(InboundSms.backorder_id == backorder.id)
                               .order_by(InboundSms.id)):
        trail.add(sms.received_at, "reply", f"{label}: customer texted {sms.keyword!r} from {sms.from_number} "
                  f"({sms.result})", backorder_id=backorder.id, keyword=sms.keyword, from_number=sms.from_number,
                  result=sms.result, message_sid=sms.message_sid)
    substitute = session.scalar(select(SubstituteOrder).where(SubstituteOrder.backorder_id == backorder.id))
    if substitute is not None:
        code = session.scalar(select(Sku.code).where(Sku.id == substitute.sku_id))
        trail.add(substitute.updated_at, "substitute", f"{label}: substitute {substitute.quantity} × {code} "
                  f"{substitute.state}; paid {_money(substitute.paid_cents, substitute.currency)}, substitute "
                  f"{_money(substitute.substitute_total_cents, substitute.currency)}, difference "
                  f"{_money(substitute.difference_cents, substitute.currency)} settled by {substitute.settlement}"
                  + (f"; {substitute.last_error}" if substitute.last_error else ""),
                  backorder_id=backorder.id, sku=code, state=substitute.state, rule=substitute.rule,
                  paid_cents=substitute.paid_cents, substitute_total_cents=substitute.substitute_total_cents,
                  difference_cents=substitute.difference_cents, settlement=substitute.settlement,
                  due_cents=substitute.due_cents, external_number=substitute.external_number)
    _alerts(session, trail, list(session.scalars(select(Alert).where(Alert.dedupe_key.in_(
        [f"auto_cancelled:{backorder.id}", f"unreachable:{backorder.id}"])).order_by(Alert.id))), now)


def _backorder_facts(backorder: Backorder, sku: Sku) -> dict[str, Any]:
    return {"backorder": backorder.id, "sku": sku.code, "quantity": backorder.quantity, "state": backorder.state,
            "eta": backorder.eta, "promised_date": backorder.promised_date,
            "consent_required": backorder.consent_required, "notified_at": backorder.notified_at,
            "reminded_at": backorder.reminded_at, "deadline_at": backorder.deadline_at,
            "resolution": backorder.resolution, "resolution_ref": backorder.resolution_ref,
            "segment": backorder.segment, "credit_bonus_cents": backorder.credit_bonus_cents}


def _order_header(trail: Trail, order: Order, store_key: str) -> None:
    trail.add(order.placed_at, "order", f"order {order.number} placed on {store_key} by "
              f"{order.customer_name or 'a customer'} ({order.email or 'no email'}, {order.phone or 'no phone'}), "
              f"total {_money(order.total_cents, order.currency)}", order=order.number, store=store_key)


def backorder(session: Session, backorder_id: int, now: datetime | None = None) -> Trail:
    now = now or utcnow()
    found = session.get(Backorder, backorder_id)
    if found is None:
        raise NotFound(f"no backorder {backorder_id}")
    line = session.get(OrderLine, found.order_line_id)
    assert line is not None
    order = session.get(Order, line.order_id)
    sku = session.get(Sku, found.sku_id)
    assert order is not None and sku is not None
    store_key = session.scalar(select(Store.key).where(Store.id == order.store_id)) or "?"
    trail = Trail(f"backorder {found.id}", {**_backorder_facts(found, sku), "order": order.number,
                                             "store": store_key})
    _order_header(trail, order, store_key)
    _backorder_events(session, trail, found, order, line, sku, now)
    return trail.sorted()


# --- orders -------------------------------------------------------------------------------------


def orders_by_reference(session: Session, reference: str) -> list[Order]:
    """Orders by number as people type them (``1001`` or ``#1001``), else by the platform's id."""
    ref = reference.strip()
    candidates = {ref, ref.lstrip("#"), f"#{ref.lstrip('#')}"}
    found = list(session.scalars(select(Order).where(Order.number.in_(candidates)).order_by(Order.id)))
    return found or list(session.scalars(select(Order).where(Order.external_id == ref).order_by(Order.id)))


def _refund_decisions(trail: Trail, session: Session, order: Order) -> None:
    """Each refund or appeasement decision on the order, with the rule that made it."""
    for decision in session.scalars(select(RefundDecision).where(RefundDecision.order_id == order.id)
                                    .order_by(RefundDecision.created_at, RefundDecision.id)):
        paid = (f" {_money(decision.amount_approved_cents, decision.currency)} as {decision.settle_as}"
                if decision.settle_as else "")
        trail.add(decision.created_at, "refund.decision",
                  f"refund request {decision.request_id} ({decision.reason}, "
                  f"{_money(decision.amount_asked_cents, decision.currency)} asked): {decision.decision}{paid} "
                  f"by rule \"{decision.rule_name}\"", request_id=decision.request_id, decision=decision.decision,
                  amount_approved_cents=decision.amount_approved_cents, rule=decision.rule_name,
                  rule_index=decision.rule_index)
    executions = dict(session.execute(select(RefundExecution.id, RefundExecution.decision_id).join(
        RefundDecision, RefundDecision.id == RefundExecution.decision_id).where(
        RefundDecision.order_id == order.id)).tuples().all())
    for entry in _audit(session, "refund_execution", list(executions)):
        detail = ", ".join(f"{k} {v}" for k, v in entry.data.items() if v not in (None, "") and k != "detail")
        trail.add(entry.at, "refund.payment", f"payment of decision {executions[int(entry.subject_id)]}: "
                  f"{entry.action.removeprefix('refund.')} ({detail})", action=entry.action, **entry.data)


def _store_refunds(trail: Trail, session: Session, order: Order) -> list[dict[str, Any]]:
    """Each refund the store reported (``refunds/create``), made there by hand or by us, and the
    unsent payment of ours it settled; returned as the order's ``store_refunds`` facts."""
    found: list[dict[str, Any]] = []
    for entry in _audit(session, "order", [order.id]):
        if entry.action != store_refunds.ACTION:
            continue
        data = entry.data
        lines = ", ".join(f"{line.get('quantity')} × {line.get('sku') or line.get('line')}" for line in data.get("lines") or [])
        who = f"by us ({data['by_us']})" if data.get("by_us") else "by hand at the store"
        settled = (f"; settled our unsent payment {data['reconciled_payment']} of decision "
                   f"{data['reconciled_decision']} instead of paying it" if data.get("reconciled_payment") else "")
        trail.add(entry.at, "refund.at_store", f"refunded {_money(int(data.get('amount_cents') or 0), data.get('currency') or 'USD')}"
                  f" at {data.get('store')} (refund {data.get('refund_id')}) {who}"
                  + (f": {lines}" if lines else "") + (f", note {data['note']!r}" if data.get("note") else "") + settled,
                  **data)
        found.append(data)
    return found


def order(session: Session, reference: str, now: datetime | None = None) -> Trail:
    now = now or utcnow()
    orders = orders_by_reference(session, reference)
    if not orders:
        raise NotFound(f"no order {reference!r}")
    stores = dict(session.execute(select(Store.id, Store.key)).tuples().all())
    trail = Trail(f"order {orders[0].number}", {"orders": []})
    for found in orders:
        store_key = stores.get(found.store_id, "?")
        _order_header(trail, found, store_key)
        lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == found.id).order_by(OrderLine.id)))
        codes = dict(session.execute(select(Sku.id, Sku.code).where(
            Sku.id.in_([ln.sku_id for ln in lines if ln.sku_id is not None]))).tuples().all())
        facts: dict[str, Any] = {"number": found.number, "store": store_key, "status": found.status,
                                 "customer": found.customer_name, "email": found.email, "phone": found.phone,
                                 "total_cents": found.total_cents, "currency": found.currency,
                                 "placed_at": found.placed_at, "lines": [], "backorders": []}
        for line in lines:
            facts["lines"].append({"sku": codes.get(line.sku_id or 0), "quantity": line.quantity,
                                   "allocated": line.allocated_qty, "backordered": line.backordered_qty,
                                   "price_cents": line.price_cents})
        for entry in _audit(session, "order_line", [ln.id for ln in lines]):
            detail = ", ".join(f"{k} {v}" for k, v in entry.data.items() if v not in (None, ""))
            trail.add(entry.at, "allocation", f"line {entry.subject_id} allocated: {detail}", **entry.data)
        for found_backorder in session.scalars(select(Backorder).where(
                Backorder.order_line_id.in_([ln.id for ln in lines])).order_by(Backorder.id)):
            line = next(ln for ln in lines if ln.id == found_backorder.order_line_id)
            sku = session.get(Sku, found_backorder.sku_id)
            assert sku is not None
            facts["backorders"].append(_backorder_facts(found_backorder, sku))
            _backorder_events(session, trail, found_backorder, found, line, sku, now)
        _refund_decisions(trail, session, found)
        facts["store_refunds"] = _store_refunds(trail, session, found)
        for step in dispute_trail.order_entries(session, found.id):
            trail.add(step.at, step.kind, step.text, **step.data)
        facts["fraud"] = _fraud(session, trail, found, store_key)
        facts["shipments"] = shipping_views.order_shipments(session, found.id)
        for at, kind, text, data in shipping_views.order_entries(session, found.id):
            trail.add(at, kind, text, **data)
        _messages(session, trail, shipping_views.message_prefixes(session, found.id), now, None,
                  what="shipping notice")
        facts["cases"] = _case_events(session, trail, found)
        for at, kind, text, data in ticket_views.order_entries(session, found.id):
            trail.add(at, kind, text, **data)
        trail.facts["orders"].append(facts)
    return trail.sorted()


def _fraud(session: Session, trail: Trail, order: Order, store_key: str) -> dict[str, Any] | None:
    """Each scoring of the order (``domain.fraud``) with its reasons; returns the stored score."""
    for entry in _audit(session, "order", [order.id]):
        if entry.actor != "fraud" or entry.action != "scored":
            continue
        data = entry.data
        reasons = "; ".join(data.get("reasons") or []) or "no signal fired"
        again = f" (was {data['previous_score']})" if data.get("previous_score") is not None else ""
        thresholds = fraud_views.thresholds_text(data.get("thresholds") or {})
        trail.add(entry.at, "fraud.scored", f"fraud score {data.get('score')}{again}: {data.get('verdict')} "
                  f"({thresholds}): {reasons}", **data)
    score = fraud_views.for_order(session, order, store_key)
    if score is not None:
        score = {k: v for k, v in score.items() if k not in ("order", "store")}
    return score


def _case_events(session: Session, trail: Trail, order: Order) -> list[dict[str, Any]]:
    """Every action on the order's cases (``domain.cases``), who or what took it; returns the cases' facts."""
    cases: dict[int, dict[str, Any]] = {}
    for case, event in case_views.case_events_for_order(session, order.id):
        cases[case.id] = {"id": case.id, "kind": case.kind, "state": case.state, "queue": case.queue,
                          "owner": case.owner, "priority": case.priority}
        move = f" {event.from_state or ''}→{event.to_state}" if event.to_state else ""
        note = f": {event.note}" if event.note else ""
        trail.add(event.at, "case", f"case {case.id} ({case.kind}, queue {case.queue}) {event.action}{move} by "
                                    f"{event.actor}{note}", case_id=case.id, action=event.action, **event.detail)
    return list(cases.values())


# --- SKUs ---------------------------------------------------------------------------------------


def _transition_text(row: SkuTransition) -> str:
    n = row.numbers or {}
    parts = [f"available {n.get('available')}", f"threshold {n.get('threshold')}"]
    for key in ("on_hand", "open_demand", "oversold", "erp_on_hand"):
        if n.get(key) not in (None, 0):
            parts.append(f"{key.replace('_', ' ')} {n[key]}")
    if n.get("location"):
        parts.append(f"at {n['location']}")
    if n.get("orders_total"):
        parts.append(f"{n['orders_total']} open orders ({n.get('rule')})")
    return f"{row.from_state} → {row.to_state}: " + ", ".join(parts)


def sku(session: Session, code: str, now: datetime | None = None, readings: int = STOCK_READINGS) -> Trail:
    now = now or utcnow()
    found = session.scalar(select(Sku).where(Sku.code == code))
    if found is None:
        raise NotFound(f"no SKU {code!r}")
    stores = dict(session.execute(select(Store.id, Store.key)).tuples().all())
    locations = dict(session.execute(select(Location.id, Location.key)).tuples().all())
    vendor = session.scalar(select(Vendor.key).where(Vendor.id == found.vendor_id)) if found.vendor_id else None
    trail = Trail(f"SKU {found.code}", {
        "sku": found.code, "title": found.title, "state": found.state, "state_changed_at": found.state_changed_at,
        "threshold": found.threshold, "reorder_point": found.reorder_point, "safety_stock": found.safety_stock,
        "reorder_qty": found.reorder_qty, "allow_backorder": found.allow_backorder, "vendor": vendor,
        "eta": found.eta, "oversell_risk": found.oversell_risk, "atp_drift": found.atp_drift})
    history = list(session.scalars(select(StockHistory).where(StockHistory.sku_id == found.id,
                                                              StockHistory.echo.is_(False))
                                   .order_by(StockHistory.id.desc()).limit(readings)))
    for reading in reversed(history):
        trail.add(reading.recorded_at, "stock", f"{stores.get(reading.store_id)} at "
                  f"{locations.get(reading.location_id)}: available {reading.available}, on hand {reading.on_hand}",
                  store=stores.get(reading.store_id), location=locations.get(reading.location_id),
                  available=reading.available, on_hand=reading.on_hand, source_updated_at=reading.source_updated_at)
    trail.facts["stock_readings_shown"] = len(history)
    trail.facts["disconnected"] = [
        {"store": stores.get(row.store_id), "location": locations.get(row.location_id), "since": row.disconnected_at,
         "available_before": row.available_before}
        for row in session.scalars(select(DisconnectedLevel).where(DisconnectedLevel.sku_id == found.id))]
    for row in session.scalars(select(SkuTransition).where(SkuTransition.sku_id == found.id)
                               .order_by(SkuTransition.id)):
        trail.add(row.created_at, "transition", _transition_text(row), transition_id=row.id,
                  from_state=row.from_state, to_state=row.to_state, numbers=row.numbers)
    for entry in _audit(session, "sku", [found.id]):
        if entry.action == "stock.transition":
            continue  # the sku_transitions row above is the same event
        data = entry.data
        if entry.action == "channel.push":
            buffer = data.get("buffer") or {}
            text = (f"pushed to {data.get('store')}: {data.get('levels')} (from {data.get('before_buffer')} − buffer "
                    f"{buffer.get('units')}: velocity {buffer.get('velocity_per_day')}/day × delay "
                    f"{buffer.get('delay_s')} s, floor {buffer.get('floor')})")
        elif entry.action == "channel.push_failed":
            text = f"push to {data.get('store')} failed: {data.get('error')}"
        elif entry.action == "store.location_disconnected":
            text = (f"{data.get('store')} disconnected it from location {data.get('location')} "
                    f"({data.get('external_location')}): that figure ({data.get('available_before')}) no longer "
                    f"counts and is not written there")
        elif entry.action == "erp.backorder_status":
            text = (f"backorder status written to {data.get('store')}: "
                    f"{'on backorder' if data.get('backorder') else 'not on backorder'} ({data.get('request')})")
        else:
            text = entry.action + ": " + ", ".join(f"{k} {v}" for k, v in data.items() if v not in (None, ""))
        trail.add(entry.at, entry.action, text, **data)
    _alerts(session, trail, list(session.scalars(select(Alert).where(Alert.sku_id == found.id)
                                                 .order_by(Alert.id))), now)
    for waiting, number in session.execute(
            select(Backorder, Order.number).join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Order, Order.id == OrderLine.order_id).where(Backorder.sku_id == found.id)
            .order_by(Backorder.id)).tuples():
        trail.add(waiting.created_at, "backorder", f"backorder {waiting.id}: {waiting.quantity} on order {number} "
                  f"(now {waiting.state}; `backorders why backorder {waiting.id}`)", backorder_id=waiting.id,
                  order=number, quantity=waiting.quantity, state=waiting.state)
    for line, number, state, created in session.execute(
            select(PurchaseOrderLine, PurchaseOrder.number, PurchaseOrder.state, PurchaseOrder.created_at)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .where(PurchaseOrderLine.sku_id == found.id).order_by(PurchaseOrder.id)).tuples():
        trail.add(created, "po_line", f"{number} ({state}): {line.quantity} ordered, {line.received_qty} received"
                  + (f"; why: {explain_line(line.reason)}" if line.reason else ""), purchase_order=number,
                  quantity=line.quantity, received=line.received_qty, reason=line.reason)
    _back_in_stock(session, trail, found.id)
    return trail.sorted()


def _back_in_stock(session: Session, trail: Trail, sku_id: int) -> None:
    """Shoppers who asked to be told when it is back (``domain.journey.rationing``): each request,
    and each notice with its figures and rule; the facts count those still waiting."""
    from domain.journey import rationing

    waiting = 0
    for request in rationing.for_sku(session, sku_id):
        contact = f"{request['channel']} {request['contact']}"
        if request["state"] == "waiting":
            waiting += 1
        trail.add(_parse(request["requested_at"]), "back_in_stock",
                  f"back-in-stock request {request['id']} from {contact} ({request['source']})"
                  + (f": waiting, number {request['position']} in the queue" if request["state"] == "waiting"
                     else ""), request_id=request["id"], state=request["state"], position=request["position"])
        if request["notified_at"]:
            notice = request["notice"]
            trail.add(_parse(request["notified_at"]), "back_in_stock_notice",
                      f"told {contact} it is back: number {notice.get('position')} of {notice.get('waiting')} "
                      f"waiting, {notice.get('units_left')} unit(s) left after backorders, "
                      f"{notice.get('outstanding_notices')} earlier notice(s) still holding one, so "
                      f"{notice.get('budget')} notice(s) allowed; rule: {notice.get('rule')}",
                      request_id=request["id"], **notice)
    trail.facts["back_in_stock_waiting"] = waiting


# --- purchase orders ----------------------------------------------------------------------------


def purchase_order(session: Session, reference: str, now: datetime | None = None) -> Trail:
    now = now or utcnow()
    found = purchase_orders.find(session, reference)
    if found is None:
        raise NotFound(f"no purchase order {reference!r}")
    vendor = session.get(Vendor, found.vendor_id)
    assert vendor is not None
    lines = []
    trail = Trail(f"purchase order {found.number}", {})
    for line, code in session.execute(select(PurchaseOrderLine, Sku.code).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                                      .where(PurchaseOrderLine.purchase_order_id == found.id)
                                      .order_by(Sku.code)).tuples():
        lines.append({"sku": code, "quantity": line.quantity, "received_qty": line.received_qty,
                      "shipped_qty": line.shipped_qty, "unit_cost_cents": line.unit_cost_cents,
                      "line_total_cents": line.quantity * line.unit_cost_cents, "eta": line.eta,
                      "promised_date": line.promised_date, "reason": line.reason,
                      "why": explain_line(line.reason) if line.reason else None})
        reason = line.reason or {}
        figures = {k: reason.get(k) for k in ("need", "on_hand", "on_order", "reorder_point", "velocity",
                                              "lead_time_days", "safety_stock", "open_backorders", "reorder_qty",
                                              "case_pack") if k in reason}
        trail.add(found.created_at, "po_line", f"{code} × {line.quantity} @ {_money(line.unit_cost_cents)}"
                  + (f" — why: {explain_line(reason)}" if reason else " — no reason stored (added by hand)"),
                  sku=code, quantity=line.quantity, figures=figures, reason=reason)
    trail.facts = {"number": found.number, "vendor": vendor.key, "vendor_email": vendor.email, "state": found.state,
                   "total_cents": found.total_cents, "expected_at": found.expected_at, "approved_at": found.approved_at,
                   "sent_at": found.sent_at, "acknowledged_at": found.acknowledged_at, "erp_ref": found.erp_ref,
                   "ack_due_at": found.ack_due_at, "asn_due_at": found.asn_due_at,
                   "window_closes_at": found.window_closes_at, "lines": lines}
    trail.add(found.created_at, "po", f"{found.number} opened for {vendor.key} (lead time {vendor.lead_time_days} "
              f"days, case pack {vendor.case_pack}, minimum {_money(vendor.min_order_cents)} / "
              f"{vendor.min_order_units} units)" + (f"; collecting lines until {found.window_closes_at.isoformat()}"
                                                     if found.window_closes_at else ""), vendor=vendor.key)
    for event in session.scalars(select(PurchaseOrderEvent).where(PurchaseOrderEvent.purchase_order_id == found.id)
                                 .order_by(PurchaseOrderEvent.at, PurchaseOrderEvent.id)):
        detail = ", ".join(f"{k} {v}" for k, v in (event.data or {}).items() if v not in (None, "", [], {}))
        trail.add(event.at, f"po.{event.kind}", f"{event.kind}" + (f": {detail}" if detail else ""), **event.data)
    for entry in _audit(session, "purchase_order", [found.id]):
        detail = ", ".join(f"{k} {v}" for k, v in entry.data.items()
                           if k != "number" and v not in (None, "", [], {}))
        trail.add(entry.at, entry.action, f"{entry.action} by {entry.actor}" + (f": {detail}" if detail else ""),
                  **entry.data)
    _timers(session, trail, "purchase_order", found.id, now)
    _messages(session, trail, [f"po:{found.id}:"], now, None, what="message")
    _alerts(session, trail, list(session.scalars(select(Alert).where(or_(
        Alert.dedupe_key.startswith(f"po:{found.id}:", autoescape=True),
        Alert.dedupe_key.startswith(f"po_late:{found.id}:", autoescape=True),
        cast(Alert.data["purchase_order"].astext, String) == found.number)).order_by(Alert.id))), now)
    return trail.sorted()


# --- disputes (chargebacks) ---------------------------------------------------------------------


def dispute(session: Session, reference: str, now: datetime | None = None) -> Trail:
    """A chargeback: its notices, packet (rule, has, missing), provider calls, case actions,
    timers, alerts and finance note (``domain.chargebacks.trail``)."""
    now = now or utcnow()
    found = dispute_views.find(session, reference)
    if found is None:
        raise NotFound(f"no dispute {reference!r}")
    trail = Trail(f"dispute {found.id} ({found.provider} {found.dispute_ref})", dispute_trail.facts(session, found))
    for step in dispute_trail.entries(session, found):
        trail.add(step.at, step.kind, step.text, **step.data)
    _timers(session, trail, "dispute", found.id, now)
    keys = [f"dispute:{found.id}:"] + ([f"case:{found.case_id}:"] if found.case_id else [])
    _alerts(session, trail, list(session.scalars(select(Alert).where(
        or_(*[Alert.dedupe_key.startswith(k, autoescape=True) for k in keys])).order_by(Alert.id))), now)
    return trail.sorted()


# --- support tickets ------------------------------------------------------------------------------


def ticket(session: Session, reference: str, now: datetime | None = None) -> Trail:
    """A support ticket: received, then each decision (triage, routing, QA, a re-opening) with its
    outcome, rule and every reason as stored (``domain.support``), and how it was resolved
    (``resolved in zendesk by agent 3721``)."""
    found = ticket_views.find(session, reference)
    if found is None:
        raise NotFound(f"no ticket {reference!r}")
    shown = ticket_views.show(session, found)
    facts = {key: shown[key] for key in ("customer_email", "channel", "language", "state", "intent", "priority",
                                         "queue", "owner", "clv_tier")}
    facts["orders"] = ", ".join(f"{o['number']} (by {o['matched_by']})" for o in shown["orders"])
    facts["open_cases"] = ", ".join(f"{c['id']} {c['kind']}" for c in shown["cases"])
    if shown["resolution"]:
        facts["resolution"] = shown["resolution"]
    if shown["source_status"]:
        facts["helpdesk_status"] = shown["source_status"]
    trail = Trail(f"ticket {found.id} ({found.source} {found.external_id}): {found.subject}", facts)
    trail.add(found.received_at, "ticket.received", f"received by {found.channel} from {found.customer_email or '-'}")
    if found.resolved_at is not None and shown["resolution"]:
        trail.add(found.resolved_at, "ticket.resolved", shown["resolution"])
    for decision in shown["decisions"]:
        text = f"{decision['kind']}: {decision['outcome']} ({decision['rule']}) — " + "; ".join(decision["reasons"])
        trail.add(_parse(decision["at"]), f"ticket.{decision['kind']}", text, figures=decision["figures"],
                  model=decision["model"])
    for draft in ticket_views.drafts(session, found.id):
        note = draft["note"]
        where = (f"internal note {note['state']}" + (f" at {note['source']} ({note['external_ref']})"
                                                     if note["external_ref"] else "")
                 + (f": {note['last_error']}" if note["last_error"] else "")) if note else "no internal note"
        text = (f"draft v{draft['version']} from {draft['template']} ({where}; backorders tickets draft {found.id}); "
                f"facts: " + ("; ".join(line.strip() for line in draft["facts_lines"]) or "no order found"))
        trail.add(_parse(draft["at"]), "ticket.reply_draft", text, draft=draft["text"], facts=draft["facts"],
                  applied=draft["applied"])
    return trail.sorted()


# --- returns (RMA) -------------------------------------------------------------------------------


def return_(session: Session, reference: str, now: datetime | None = None) -> Trail:
    """A return: each step with its figures and the rule (``domain.returns.views``), then the
    refund execution's own audit rows and the customer's email."""
    from domain.returns import views as return_views

    now = now or utcnow()
    found = return_views.find(session, reference)
    if found is None:
        raise NotFound(f"no return {reference!r}")
    facts = return_views.summary(session, found)
    trail = Trail(f"return {found.rma} (order {facts['order']}, {found.state})",
                  {k: facts[k] for k in ("state", "source", "reason", "amount_cents", "currency", "qc",
                                         "restocked_qty", "survey")})
    for step in return_views.steps(session, found):
        trail.add(step.at, step.kind, step.text, **step.data)
    if found.execution_id is not None:
        for entry in _audit(session, "refund_execution", [found.execution_id]):
            trail.add(entry.at, entry.action, f"{entry.action} ({entry.actor})", **(entry.data or {}))
    _messages(session, trail, [f"return-settled:{found.id}"], now, None)
    return trail.sorted()


#: ``backorders why KIND REFERENCE``: the subjects and how each is found.
SUBJECTS: dict[str, Callable[[Session, str, datetime | None], Trail]] = {
    "sku": sku, "order": order, "po": purchase_order, "dispute": dispute, "ticket": ticket, "return": return_}


def explain(session: Session, kind: str, reference: str, now: datetime | None = None) -> Trail:
    """The trail of one subject; ``NotFound`` names what was not found."""
    if kind == "backorder":
        if not reference.strip().isdigit():
            raise NotFound(f"no backorder {reference!r} (a backorder is named by its number)")
        return backorder(session, int(reference), now)
    return SUBJECTS[kind](session, reference, now)
