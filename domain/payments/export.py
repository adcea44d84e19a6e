"""The finance export: every refund and credit decided since a date, with the rule that decided
it, what was paid, where, the provider's reference, its state and a GL note.

One row per paying decision (``approve`` or ``credit``): its execution (``refund_executions``)
says where the money went; a cancelled backorder's refund (the built-in rule, paid by
``flows.refunds`` through the store) takes its reference from the backorder. The GL note says in
words what to book: the kind (a customer refund, a partial refund as appeasement, store credit —
a liability until redeemed), the amount, the order and rule, the channel it went through and the
clearing account the business file names (``gl_account`` of the provider account, ``[payments]
store_gl_account`` for refunds through a store).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import Backorder, RefundDecision, RefundExecution, Store
from domain.payments.executions import PAYS
from domain.policy.rules import BACKORDER_RULE

COLUMNS = ("decided_at", "decision_id", "request_id", "order", "channel", "customer", "reason", "rule", "decision",
           "settle_as", "amount", "currency", "route", "provider", "account", "provider_ref", "state", "settled_at",
           "gl_note")
LABELS = {"refund": "Customer refund", "partial_refund": "Partial refund (appeasement)",
          "store_credit": "Store credit issued (liability until redeemed)"}


@dataclass(frozen=True)
class ExportRow:
    decided_at: str
    decision_id: int
    request_id: str
    order: str
    channel: str
    customer: str
    reason: str
    rule: str
    decision: str
    settle_as: str
    amount: str
    currency: str
    route: str
    provider: str
    account: str
    provider_ref: str
    state: str
    settled_at: str
    gl_note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def gl_note(kind: str, amount: str, currency: str, order: str, rule: str, provider: str, account: str,
            reference: str, clearing: str) -> str:
    via = f"via {provider} ({account})" + (f" ref {reference}" if reference else " (no reference yet)")
    return "; ".join(part for part in (f"{LABELS.get(kind, kind)} {amount} {currency}", f"order {order}",
                                       f"rule: {rule}", via, f"GL {clearing}" if clearing else "") if part)


def _backorder_paid(session: Session, decision: RefundDecision) -> tuple[str, str, str]:
    """(provider_ref, state, settled_at) of a cancelled backorder's refund, from the backorder."""
    backorder_id = decision.request_id.removeprefix("backorder-")
    backorder = session.get(Backorder, int(backorder_id)) if backorder_id.isdigit() else None
    if backorder is None or not backorder.resolution_ref:
        return "", "pending", ""
    return backorder.resolution_ref, "succeeded", backorder.updated_at.isoformat()


def rows(session: Session, config: BusinessConfig, since: datetime) -> list[ExportRow]:
    """Every refund and credit decided at or after ``since``, oldest first."""
    found = session.execute(select(RefundDecision, RefundExecution).outerjoin(
        RefundExecution, RefundExecution.decision_id == RefundDecision.id).where(
        RefundDecision.decision.in_(PAYS), RefundDecision.amount_approved_cents > 0,
        RefundDecision.created_at >= since).order_by(RefundDecision.created_at, RefundDecision.id)).all()
    platforms = dict(session.execute(select(Store.key, Store.platform)).all())
    out = []
    for decision, execution in found:
        kind = decision.settle_as or "refund"
        if execution is not None:
            route, provider, account = execution.route, execution.provider, execution.account
            reference, state = execution.provider_ref or "", execution.state
            settled = execution.settled_at.isoformat() if execution.settled_at else ""
        else:
            route, provider, account = "store", platforms.get(decision.channel, ""), decision.channel
            reference, state, settled = _backorder_paid(session, decision) if decision.rule_name == BACKORDER_RULE \
                else ("", "pending", "")
        provider_account = config.payments.account(account) if route == "provider" else None
        clearing = provider_account.gl_account if provider_account else config.payments.store_gl_account
        amount = money(decision.amount_approved_cents)
        out.append(ExportRow(
            decision.created_at.isoformat(), decision.id, decision.request_id, decision.order_number, decision.channel,
            decision.customer, decision.reason, decision.rule_name, decision.decision, kind, amount, decision.currency,
            route, provider, account, reference, state, settled,
            gl_note(kind, amount, decision.currency, decision.order_number, decision.rule_name, provider, account,
                    reference, clearing)))
    return out
