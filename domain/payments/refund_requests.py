"""A refund request taken end to end in one transaction: the policy's decision and what follows it.

The policy (``domain.policy.refunds``) decides and stores the decision with its rule, figures and
the reviewer's context; it sits beside cases and may not open one. This module sits above both,
so every caller that records a request (``backorders refunds decide``, and any intake that comes
later) goes through :func:`handle`, and no decision is left without what it asks for:

* **review** — one ``refund_request`` case, routed like every case (``[[cases.routes]]``), whose
  summary and ``opened`` event carry the decision's figures, its rule and the context a reviewer
  reads (the order, the customer's history and lifetime value, prior refunds, fraud hints), so the
  case owner decides from the case alone;
* **approve / credit** — the payment row (``domain.payments.executions.plan``), paid once.

Once: the case's subject is the decision, itself unique per request id, and a case opens once
per kind and subject; a retried or redelivered request finds the decision and the case the first
one made (and raises no second ``case.opened`` alert).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.cases import lifecycle
from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import Case, CaseEvent, Order, OrderLine, RefundDecision
from domain.core.stages import FollowUp, Stage
from domain.payments import executions
from domain.policy import refunds as policy
from domain.policy.refunds import Decided

KIND = "refund_request"
SUBJECT = "refund_decision"
ACTOR = "refund policy"
#: The case event saying the request under review asks another amount now.
CHANGED = "amount_changed"


@dataclass(frozen=True)
class Handled:
    """The decision (``created`` False: the request id was seen before), its review case if the rules
    asked for one, and what to send after the commit (the case alert's messages, the payment)."""

    decided: Decided
    case: Case | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)


def handle(session: Session, config: BusinessConfig, order: Order, reason: str, amount_cents: int,
           request_id: str, now: datetime | None = None) -> Handled:
    """Decide the request by the rules (once per request id) and start what the decision asks for."""
    now = now or utcnow()
    decided = policy.decide(session, config, order, reason, amount_cents, request_id, now)
    case, alerts = review_case(session, config, decided.row, now)
    return Handled(decided, case, [*alerts, *executions.plan(session, config, decided.row, now)])


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency}"


def reasons(decision: RefundDecision, asked_cents: int | None = None) -> list[str]:
    """The reviewer's context in words, each line with its figures (``cases show`` lists them);
    ``asked_cents`` when the request now asks another amount than the rules decided on."""
    figures, ctx = decision.figures or {}, decision.context or {}
    terms = figures.get("rule") or {}
    limits = ", ".join(f"{name.removesuffix('_cents')} {_money(value, decision.currency)}"
                       for name, value in terms.items() if name in ("over_cents", "up_to_cents"))
    asked = decision.amount_asked_cents if asked_cents is None else asked_cents
    changed = f" (the rules decided on {_money(decision.amount_asked_cents, decision.currency)})" \
        if asked != decision.amount_asked_cents else ""
    lines = [f"asks {_money(asked, decision.currency)} for {decision.reason} on "
             f"{decision.channel or 'its store'}; rule {decision.rule_name!r} sent it to review"
             + (f" ({limits})" if limits else "") + changed]
    order = ctx.get("order") or {}
    if order:
        bought = "; ".join(f"{line.get('quantity')} × {line.get('sku') or line.get('title') or 'item'}"
                           for line in order.get("lines") or [])
        lines.append(f"order {order.get('number')}: {_money(int(order.get('total_cents') or 0), decision.currency)}, "
                     f"{order.get('status')}, placed {str(order.get('placed_at', ''))[:10]}"
                     + (f" ({bought})" if bought else ""))
    customer = ctx.get("customer") or {}
    if customer:
        lines.append(f"customer {customer.get('key')}: {customer.get('orders')} order(s), lifetime value "
                     f"{_money(int(customer.get('lifetime_value_cents') or 0), decision.currency)}, tier "
                     f"{decision.tier or 'none'}")
    prior = [p for p in ctx.get("prior_refunds") or [] if p.get("request_id") != decision.request_id]
    lines.append(f"{len(prior)} prior refund request(s)" + (": " + "; ".join(
        f"{p.get('order')} {p.get('reason')} → {p.get('decision')} ({p.get('rule')})" for p in prior[:5])
        if prior else "") + f"; {ctx.get('refunds_90d', figures.get('refunds_90d', 0))} in 90 days")
    hints = ctx.get("fraud_hints") or []
    lines += [f"fraud hint: {hint}" for hint in hints] or ["no fraud hints"]
    return lines


def summary(decision: RefundDecision, asked_cents: int | None = None) -> str:
    ctx = decision.context or {}
    customer = ctx.get("customer") or {}
    hints = len(ctx.get("fraud_hints") or [])
    asked = decision.amount_asked_cents if asked_cents is None else asked_cents
    return (f"refund request {decision.request_id} on order {decision.order_number}: {decision.reason} "
            f"{_money(asked, decision.currency)} → review (rule: {decision.rule_name}); "
            f"lifetime value {_money(int(customer.get('lifetime_value_cents') or 0), decision.currency)}, "
            f"{len(ctx.get('prior_refunds') or [])} prior refund request(s), {hints} fraud hint(s)")[:1000]


def review_case(session: Session, config: BusinessConfig, decision: RefundDecision,
                now: datetime | None = None) -> tuple[Case | None, list[FollowUp]]:
    """The ``refund_request`` case of a decision the rules sent to review (opened once), and the
    messages of its ``case.opened`` alert still to send; (None, []) for any other decision."""
    if decision.decision != "review":
        return None, []
    existing = session.scalar(select(Case).where(Case.kind == KIND, Case.subject_type == SUBJECT,
                                                 Case.subject_id == decision.id))
    if existing is not None:
        return existing, []
    order = session.get(Order, decision.order_id) if decision.order_id is not None else None
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id))) \
        if order is not None else []
    detail: dict[str, Any] = {
        "decision_id": decision.id, "request_id": decision.request_id, "order": decision.order_number,
        "reason": decision.reason, "amount_asked_cents": decision.amount_asked_cents, "currency": decision.currency,
        "channel": decision.channel, "tier": decision.tier, "rule": decision.rule_name,
        "policy_rule_index": decision.rule_index, "figures": decision.figures, "context": decision.context,
        "reasons": reasons(decision)}
    case = lifecycle.open_case(session, lifecycle.NewCase(
        kind=KIND, subject_type=SUBJECT, subject_id=decision.id, summary=summary(decision),
        order_id=order.id if order else None, order_line_ids=tuple(line.id for line in lines),
        store_id=order.store_id if order else None,
        sku_ids=tuple(dict.fromkeys(line.sku_id for line in lines if line.sku_id is not None)),
        tier=decision.tier, detail=detail), config, actor=ACTOR, now=now)
    return case, [FollowUp(Stage.DELIVER, (one,)) for one in lifecycle.opened_alert_messages(session, case.id)]


def request_changed(session: Session, decision_id: int, asked_cents: int, what: str, actor: str,
                    now: datetime | None = None, **detail: Any) -> Case | None:
    """The request under review now asks ``asked_cents`` (what it covers changed, ``what`` says how):
    its ``refund_request`` case's summary and reasons give the current figures, and an
    ``amount_changed`` event says what it asked before and now (``cases show``). The decision stays
    as the rules made it, on the amount first asked; the person reviewing decides on the new one.
    None when the decision has no review case."""
    decision = session.get(RefundDecision, decision_id)
    case = session.scalar(select(Case).where(Case.kind == KIND, Case.subject_type == SUBJECT,
                                             Case.subject_id == decision_id).with_for_update())
    if decision is None or case is None:
        return None
    before = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == CHANGED)
                            .order_by(CaseEvent.id.desc()).limit(1))
    was = int(before.detail["amount_cents"]) if before is not None else decision.amount_asked_cents
    case.summary = summary(decision, asked_cents)
    lifecycle.record(session, case, actor, CHANGED, now=now or utcnow(),
                     note=f"{what}: now asks {_money(asked_cents, decision.currency)} "
                          f"(was {_money(was, decision.currency)})",
                     amount_was_cents=was, amount_cents=asked_cents, currency=decision.currency,
                     reasons=reasons(decision, asked_cents), **detail)
    return case
